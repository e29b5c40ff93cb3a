/**
 * Large members of a cache archive (src/restore/extract.ts): a module zip
 * too large to hold is written to its file as it arrives and read back in
 * pieces, with the same tree, the same hashes and the same strict reader as
 * a small one; a zip larger than Go accepts for a module (500 MiB) is read
 * through and refused, never written and never held in memory.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { strToU8, zipSync } from 'fflate';
import { pack as tarPack } from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { extractArchive } from '../../src/restore/extract.js';
import { forceRemove } from '../../src/go/modcache.js';
import { hashDirOnDisk, hashZipBuffer } from '../../src/verify/dirhash.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'extract-large-'));
afterAll(async () => forceRemove(base));

const MiB = 2 ** 20;
const ZIP_NAME = 'cache/download/example.com/big/@v/v1.0.0.zip';
const PREFIX = 'example.com/big@v1.0.0';

/** A member's body: bytes, or `size` bytes produced piece by piece (never held whole). */
type Body = Buffer | { size: number; piece: Buffer };

/** An uncompressed tar of the members, produced as it is read. */
function tarOf(members: { name: string; body: Body }[]): Readable {
  const p = tarPack();
  void (async () => {
    for (const m of members) {
      if (Buffer.isBuffer(m.body)) {
        await new Promise<void>((resolve, reject) =>
          p.entry({ name: m.name, size: (m.body as Buffer).length }, m.body as Buffer, (e) =>
            e ? reject(e) : resolve(),
          ),
        );
        continue;
      }
      const { size, piece } = m.body;
      const entry = p.entry({ name: m.name, size });
      for (let left = size; left > 0; left -= piece.length) {
        const chunk = left >= piece.length ? piece : piece.subarray(0, left);
        if (!entry.write(chunk)) await new Promise<void>((r) => entry.once('drain', () => r()));
      }
      await new Promise<void>((resolve) => entry.end(resolve));
    }
    p.finalize();
  })();
  return p as unknown as Readable;
}

/** Text that deflates well but not trivially. */
function text(bytes: number): Buffer {
  const words = ['module', 'func', 'return', 'package', 'struct', 'interface', 'range', 'nil'];
  let s = '';
  for (let i = 0; s.length < bytes; i++)
    s += `${words[(i * 7919) % 8]}${i % 13 === 0 ? '\n' : ' '}`;
  return Buffer.from(s.slice(0, bytes));
}

/** A module zip above the size kept in memory, with a stored and a deflated entry each larger than streamed entries. */
function largeZip(): { zip: Buffer; files: Record<string, Buffer> } {
  const files: Record<string, Buffer> = {
    'go.mod': Buffer.from('module example.com/big\n\ngo 1.21\n'),
    'big.go': Buffer.from('package big\n'),
    'data/random.bin': Buffer.from(
      Array.from({ length: 18 * MiB }, (_, i) => (i * 2654435761) >>> 24),
    ),
    'data/text.txt': text(24 * MiB),
  };
  const zip = Buffer.from(
    zipSync({
      [`${PREFIX}/go.mod`]: strToU8(files['go.mod']!.toString()),
      [`${PREFIX}/big.go`]: strToU8(files['big.go']!.toString()),
      [`${PREFIX}/data/random.bin`]: [files['data/random.bin']!, { level: 0 }],
      [`${PREFIX}/data/text.txt`]: [files['data/text.txt']!, { level: 1 }],
    }),
  );
  return { zip, files };
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Samples this process's resident set while fn runs: the peak, in bytes. */
async function peakRss<T>(fn: () => Promise<T>): Promise<[number, T]> {
  let peak = process.memoryUsage.rss();
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    const v = await fn();
    return [Math.max(peak, process.memoryUsage.rss()), v];
  } finally {
    clearInterval(t);
  }
}

describe('a module zip too large to keep in memory', () => {
  const { zip, files } = largeZip();

  it('is spooled to its file and unpacked from it, with the hashes of a small one', async () => {
    expect(zip.length).toBeGreaterThan(16 * MiB);
    const dest = path.join(base, 'spooled');
    const r = await extractArchive(tarOf([{ name: ZIP_NAME, body: zip }]), dest, { workers: 2 });
    const m = r.record.modules.find((x) => x.path === 'example.com/big')!;
    expect(m.zipError).toBeUndefined();
    expect(m.treeError).toBeUndefined();
    expect(m.zipH1).toBe(hashZipBuffer(zip));
    const tree = path.join(dest, PREFIX);
    expect(m.treeH1).toBe(await hashDirOnDisk(tree, PREFIX));
    expect(m.treeH1).toBe(m.zipH1);
    expect(m.treeFiles).toBe(4);
    for (const [name, data] of Object.entries(files))
      expect(sha256(readFileSync(path.join(tree, name)))).toBe(sha256(data));
    expect(sha256(readFileSync(path.join(dest, ZIP_NAME)))).toBe(sha256(zip));
  });

  it('is refused by the strict reader as a small one is (a wrong CRC-32 in a streamed entry)', async () => {
    const bad = Buffer.from(zip);
    // The central directory's CRC of data/text.txt, the last entry.
    const cd = bad.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    bad.writeUInt32LE(bad.readUInt32LE(cd + 16) ^ 1, cd + 16);
    expect(() => hashZipBuffer(bad)).toThrow(/CRC-32/);
    const dest = path.join(base, 'spooled-bad');
    const r = await extractArchive(tarOf([{ name: ZIP_NAME, body: bad }]), dest, { workers: 2 });
    const m = r.record.modules.find((x) => x.path === 'example.com/big')!;
    expect(m.zipH1).toBeUndefined();
    expect(m.zipError).toMatch(/text\.txt does not match its CRC-32/);
    expect(m.treeH1).toBeUndefined();
    expect(m.treeError).toMatch(/CRC-32/);
  });
});

describe('a zip member larger than Go accepts for a module', () => {
  it('2 GiB: read through without holding it, never written, its module recorded as bad', async () => {
    const size = 2 * 1024 * MiB + 1;
    const dest = path.join(base, 'huge');
    const [peak, r] = await peakRss(() =>
      extractArchive(
        tarOf([
          { name: 'cache/download/example.com/big/@v/v1.0.0.mod', body: Buffer.from('module x\n') },
          { name: ZIP_NAME, body: { size, piece: text(4 * MiB) } },
        ]),
        dest,
      ),
    );
    const m = r.record.modules.find((x) => x.path === 'example.com/big')!;
    expect(m.zipH1).toBeUndefined();
    expect(m.zipError).toMatch(/2147483649 bytes, more than a module zip may hold/);
    expect(m.treeError).toMatch(/more than a module zip may hold/);
    expect(m.modH1).toMatch(/^h1:/);
    expect(existsSync(path.join(dest, ZIP_NAME))).toBe(false);
    // Far above the bound the benchmark reports (BENCHMARKS.md, "Memory"), far
    // below the 2 GiB a member held whole would take.
    expect(peak).toBeLessThan(1.5e9);
  }, 120_000);
});
