/**
 * The S3 save's archive is what the restore extracts: packDirectory's stream
 * fed to extractArchive gives the directory back, for both compressions; a
 * tar that fails makes the stream fail instead of ending short.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packDirectory } from '../../src/cache/s3/pack.js';
import { extractArchive } from '../../src/restore/extract.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'vgc-s3-pack-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('packDirectory', () => {
  it.each(['zstd', 'gzip'] as const)(
    '%s: the restore extracts exactly the directory',
    async (c) => {
      const src = path.join(root, `src-${c}`);
      mkdirSync(path.join(src, 'cache', 'download', 'example.com', 'a', '@v'), { recursive: true });
      writeFileSync(
        path.join(src, 'cache', 'download', 'example.com', 'a', '@v', 'v1.0.0.mod'),
        'module example.com/a\n',
      );
      writeFileSync(path.join(src, 'big.bin'), Buffer.alloc(3 << 20, 7));
      const packed = packDirectory(src, c);
      const dest = path.join(root, `dest-${c}`);
      // The open layout: a build cache is saved this way too, and big.bin is no module file.
      const r = await extractArchive(packed.stream, dest, { layout: 'open' });
      expect(r.compression).toBe(c);
      expect(
        readFileSync(
          path.join(dest, 'cache', 'download', 'example.com', 'a', '@v', 'v1.0.0.mod'),
          'utf8',
        ),
      ).toBe('module example.com/a\n');
      expect(readFileSync(path.join(dest, 'big.bin')).equals(Buffer.alloc(3 << 20, 7))).toBe(true);
      expect(packed.bytes()).toBeGreaterThan(0);
      expect(packed.bytes()).toBeLessThan(3 << 20);
    },
  );

  it('a directory tar cannot read: the stream fails, it never ends as if whole', async () => {
    const packed = packDirectory(path.join(root, 'does-not-exist'), 'zstd');
    const outcome = await new Promise<string>((resolve) => {
      packed.stream.on('error', (e) => resolve(`error: ${e.message}`));
      packed.stream.on('end', () => resolve('ended'));
      packed.stream.resume();
    });
    expect(outcome).toMatch(/^error: tar failed/);
  });
});
