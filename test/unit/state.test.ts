import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INLINE_STATE_BYTES, stateJson, stateValue } from '../../src/action/state.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vgc-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('stage state', () => {
  it('keeps a small state inline', () => {
    const json = JSON.stringify({ ran: true, modCache: '/m' });
    expect(stateValue('pre', json, dir)).toBe(json);
    expect(stateJson(json)).toBe(json);
    expect(readdirSync(dir)).toHaveLength(0);
  });

  it('moves a state too large for an environment variable to a file, and reads it back', () => {
    const full = Array.from({ length: 5000 }, (_, i) => `example.com/module${i}@v1.0.${i}`);
    const json = JSON.stringify({ completed: true, full });
    expect(Buffer.byteLength(json)).toBeGreaterThan(INLINE_STATE_BYTES);
    const saved = stateValue('main', json, dir);
    expect(Buffer.byteLength(saved)).toBeLessThan(1024);
    expect(readdirSync(dir)).toHaveLength(1);
    expect(stateJson(saved)).toBe(json);
  });

  it('reads a state that merely has a stateFile field among others as itself', () => {
    const json = JSON.stringify({ stateFile: '/etc/passwd', ran: true });
    expect(stateJson(json)).toBe(json);
  });
});
