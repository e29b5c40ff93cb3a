import { describe, expect, it } from 'vitest';
import { isConflict, unescapeCommand } from '../../src/cache/backend.js';

/** How @actions/core escapes a workflow command's message. */
const escape = (s: string): string =>
  s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

describe('unescapeCommand', () => {
  it('undoes what @actions/core escaped, so a re-emitted warning shows no %250A', () => {
    const text = 'Failed to save: 503 Service Unavailable\nretry later (100% busy)';
    expect(unescapeCommand(escape(text))).toBe(text);
    expect(escape(unescapeCommand(escape(text)))).not.toContain('%250A');
  });
});

describe('isConflict', () => {
  it('tells a reservation refused for an existing key from a service failure', () => {
    expect(isConflict('Cache already exists (409)')).toBe(true);
    expect(isConflict('Service Unavailable (503)')).toBe(false);
  });
});
