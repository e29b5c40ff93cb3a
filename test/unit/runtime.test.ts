import { describe, expect, it } from 'vitest';
import { EXTERNAL_MEMORY_FLAG, gcFlagFor } from '../../src/action/runtime.js';

describe('gcFlagFor', () => {
  it('sets the external-memory flag on Node 24 and later, where V8 has it', () => {
    expect(gcFlagFor('24.21.0')).toBe(EXTERNAL_MEMORY_FLAG);
    expect(gcFlagFor('v25.0.0')).toBe(EXTERNAL_MEMORY_FLAG);
  });

  it('leaves older Node alone (V8 would print "unrecognized flag")', () => {
    expect(gcFlagFor('20.20.2')).toBeUndefined();
    expect(gcFlagFor('22.15.0')).toBeUndefined();
    expect(gcFlagFor('not a version')).toBeUndefined();
  });
});
