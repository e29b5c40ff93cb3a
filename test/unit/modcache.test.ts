import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { goModHash } from '../../src/go/gosum.js';
import {
  compareWithGoSum,
  countModules,
  forceRemove,
  isNonEmptyDir,
  scanModCache,
  type CacheScan,
} from '../../src/go/modcache.js';

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
    expect(countModules(scan)).toBe(2);
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

describe('compareWithGoSum', () => {
  const scan = (v: Partial<CacheScan['versions'][number]>): CacheScan => ({
    fingerprint: '',
    versions: [
      {
        path: 'm',
        version: 'v1.0.0',
        hasZip: true,
        partial: false,
        ziphash: 'h1:a=',
        modHash: 'h1:m=',
        ...v,
      },
    ],
  });
  const sums = new Map([
    ['m@v1.0.0', 'h1:a='],
    ['m@v1.0.0/go.mod', 'h1:m='],
  ]);

  it('passes a cache that matches go.sum', () => {
    expect(compareWithGoSum(scan({}), sums)).toEqual([]);
  });
  it('catches a ziphash that go.sum disagrees with (content replaced consistently)', () => {
    expect(compareWithGoSum(scan({ ziphash: 'h1:evil=' }), sums)).toEqual([
      { module: 'm@v1.0.0', reason: 'ziphash h1:evil= differs from go.sum h1:a=' },
    ]);
  });
  it('catches a go.mod that go.sum disagrees with', () => {
    expect(compareWithGoSum(scan({ modHash: 'h1:x=' }), sums)[0]!.reason).toMatch(/go.mod hash/);
  });
  it('catches a zip without ziphash and a leftover .partial', () => {
    const bad = compareWithGoSum(scan({ ziphash: undefined, partial: true }), sums);
    expect(bad.map((b) => b.reason)).toEqual([
      'leftover .partial file: an extraction was interrupted',
      'zip without ziphash',
    ]);
  });
  it('ignores cached versions go.sum does not mention', () => {
    expect(compareWithGoSum(scan({ version: 'v9.9.9' }), sums)).toEqual([]);
  });
});
