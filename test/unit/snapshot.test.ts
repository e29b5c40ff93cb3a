import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeSnapshot, stageSnapshot } from '../../src/cache/snapshot.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'vgc-snapshot-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const EMPTY_H1 = 'h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';
const modCache = path.join(tmp, 'mod');

function put(rel: string, data = 'x'): void {
  const f = path.join(modCache, rel);
  mkdirSync(path.dirname(f), { recursive: true });
  writeFileSync(f, data);
}
/** The download files of example.com/<name>@v1.0.0, with this .ziphash (none if undefined). */
function downloads(name: string, ziphash: string | undefined, zip = false): void {
  const base = `cache/download/example.com/${name}/@v/v1.0.0`;
  put(`${base}.mod`, `module example.com/${name}\n`);
  put(`${base}.info`, '{}');
  if (ziphash !== undefined) put(`${base}.ziphash`, `${ziphash}\n`);
  if (zip) put(`${base}.zip`, 'PK');
}

describe('stageSnapshot', () => {
  it('stages each verified module whole, and names every one it cannot take whole', async () => {
    downloads('zip', 'h1:z', true); // carried by its verified zip, no tree
    downloads('tree', 'h1:t');
    put('example.com/tree@v1.0.0/t.go');
    downloads('gone', 'h1:g'); // tree and zip removed after main
    downloads('empty', EMPTY_H1); // a module with no files at all
    mkdirSync(path.join(modCache, 'example.com/empty@v1.0.0'), { recursive: true });
    downloads('emptied', 'h1:e'); // a tree a later step emptied
    mkdirSync(path.join(modCache, 'example.com/emptied@v1.0.0'), { recursive: true });
    downloads('nohash', undefined); // a tree without its .ziphash
    put('example.com/nohash@v1.0.0/n.go');
    const ids = ['zip', 'tree', 'gone', 'empty', 'emptied', 'nohash'].map(
      (n) => `example.com/${n}@v1.0.0`,
    );
    const { stage, unstaged } = await stageSnapshot(modCache, {
      full: ids,
      modOnly: [],
      zips: true,
      verifiedZips: new Set(['example.com/zip@v1.0.0']),
    });
    try {
      expect(unstaged).toEqual([
        'example.com/emptied@v1.0.0',
        'example.com/gone@v1.0.0',
        'example.com/nohash@v1.0.0',
      ]);
      expect(existsSync(path.join(stage, 'cache/download/example.com/zip/@v/v1.0.0.zip'))).toBe(
        true,
      );
      expect(existsSync(path.join(stage, 'example.com/zip@v1.0.0'))).toBe(false);
      expect(existsSync(path.join(stage, 'example.com/tree@v1.0.0/t.go'))).toBe(true);
      expect(existsSync(path.join(stage, 'example.com/empty@v1.0.0'))).toBe(true);
    } finally {
      await removeSnapshot(stage);
    }
  });
});
