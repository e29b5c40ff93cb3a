import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { distrustZiphashes } from '../../src/verify/repair.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'vgc-repair-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('distrustZiphashes', () => {
  it('removes the .ziphash beside a cached zip, so Go hashes that zip itself; nothing else', async () => {
    const dl = path.join(tmp, 'cache', 'download');
    const put = (rel: string): string => {
      const f = path.join(dl, rel);
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, 'x');
      return f;
    };
    // Upper case is escaped in the cache: github.com/!azure/...
    const withZip = put('github.com/!azure/a/@v/v1.0.0.ziphash');
    put('github.com/!azure/a/@v/v1.0.0.zip');
    const alone = put('example.com/b/@v/v1.0.0.ziphash');
    const other = put('example.com/c/@v/v1.0.0.ziphash');
    put('example.com/c/@v/v1.0.0.zip');
    await distrustZiphashes(tmp, [
      'github.com/Azure/a@v1.0.0',
      'example.com/b@v1.0.0',
      'example.com/none@v2.0.0',
    ]);
    expect(existsSync(withZip)).toBe(false);
    // No zip beside it: Go would download the zip and check it against go.sum anyway.
    expect(existsSync(alone)).toBe(true);
    // A version not asked about keeps its .ziphash.
    expect(existsSync(other)).toBe(true);
  });
});
