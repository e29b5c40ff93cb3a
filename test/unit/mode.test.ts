import { describe, expect, it } from 'vitest';
import { cacheModeFromEnv, describeCacheMode } from '../../src/cache/mode.js';

describe('cacheModeFromEnv', () => {
  it.each([
    ['', true, true],
    ['write', true, true],
    ['READ', true, false],
    ['write-only', false, true],
    ['none', false, false],
    ['something-new', true, true],
  ])('ACTIONS_CACHE_MODE=%s reads %s, writes %s', (raw, canRead, canWrite) => {
    const m = cacheModeFromEnv({ ACTIONS_CACHE_MODE: raw });
    expect([m.canRead, m.canWrite]).toEqual([canRead, canWrite]);
  });
  it('names the mode in the summary only when the runner set one', () => {
    expect(describeCacheMode(cacheModeFromEnv({}))).toBe('');
    expect(describeCacheMode(cacheModeFromEnv({ ACTIONS_CACHE_MODE: 'read' }))).toMatch(/^read/);
  });
});
