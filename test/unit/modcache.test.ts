import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { goModHash } from '../../src/go/gosum.js';
import { forceRemove, isNonEmptyDir, scanModCache } from '../../src/go/modcache.js';

function fakeCache(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'vgc-unit-'));
  const v = path.join(root, 'cache', 'download', 'example.com', '!upper', '@v');
  mkdirSync(v, { recursive: true });
  writeFileSync(path.join(v, 'v1.0.0.zip'), 'zip');
  writeFileSync(path.join(v, 'v1.0.0.ziphash'), 'h1:good=\n');
  writeFileSync(path.join(v, 'v1.0.0.mod'), 'module example.com/Upper\n');
  writeFileSync(path.join(v, 'v1.1.0.zip'), 'zip');
  writeFileSync(path.join(v, 'v1.1.0.partial'), '');
  writeFileSync(path.join(v, 'list'), 'v1.0.0\n');
  mkdirSync(path.join(root, 'cache', 'download', 'sumdb', 'x', '@v'), { recursive: true });
  return root;
}

describe('scanModCache', () => {
  it('reads ziphash and go.mod of every version, unescaping paths and skipping sumdb', async () => {
    const root = fakeCache();
    const scan = await scanModCache(root);
    expect(scan.versions).toEqual([
      {
        path: 'example.com/Upper',
        version: 'v1.0.0',
        hasZip: true,
        partial: false,
        ziphash: 'h1:good=',
        modHash: goModHash('module example.com/Upper\n'),
      },
      { path: 'example.com/Upper', version: 'v1.1.0', hasZip: true, partial: true },
    ]);
    const before = scan.fingerprint;
    writeFileSync(
      path.join(root, 'cache', 'download', 'example.com', '!upper', '@v', 'v1.2.0.zip'),
      'z',
    );
    expect((await scanModCache(root)).fingerprint).not.toBe(before);
    await forceRemove(root);
    expect(await isNonEmptyDir(root)).toBe(false);
  });

  it('is empty for a missing module cache', async () => {
    const scan = await scanModCache('/nonexistent/vgc');
    expect(scan.versions).toEqual([]);
  });
});
