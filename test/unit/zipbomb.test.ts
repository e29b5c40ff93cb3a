/**
 * Zips that would make the reader inflate far more than a module zip may hold:
 * the bomb of the restore review (many central directory entries sharing one
 * local header and its data), duplicate names, overlapping entries, and sizes
 * announced beyond Go's MaxZipFile. Each is refused as a zip error before a
 * single byte is inflated; the core is given a zlib that counts inflations.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as NodeCrypto from 'node:crypto';
import * as NodeFs from 'node:fs';
import * as os from 'node:os';
import * as NodePath from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { hashCore, MAX_MODULE_ZIP, type ZipPartOutcome } from '../../src/verify/hashcore.js';
import { zipBuffer } from '../e2e/harness/zip.js';

const tmp = mkdtempSync(NodePath.join(os.tmpdir(), 'vgc-zipbomb-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A core whose zlib counts every inflation it starts. */
let inflations = 0;
const countingZlib = {
  ...zlib,
  inflateRawSync: (...args: Parameters<typeof zlib.inflateRawSync>) => {
    inflations++;
    return zlib.inflateRawSync(...args);
  },
  createInflateRaw: (...args: Parameters<typeof zlib.createInflateRaw>) => {
    inflations++;
    return zlib.createInflateRaw(...args);
  },
} as typeof zlib;
const core = hashCore({
  fs: NodeFs,
  path: NodePath,
  createHash: NodeCrypto.createHash,
  zlib: countingZlib,
});

const PREFIX = 'example.com/m@v1.0.0';

/** One local header (deflated) with its data, as mkzip.py of the review writes it. */
function localEntry(name: string, data: Buffer): { bytes: Buffer; csize: number; crc: number } {
  const comp = zlib.deflateRawSync(data, { level: 9 });
  const n = Buffer.from(name);
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(20, 4);
  h.writeUInt16LE(8, 8);
  h.writeUInt32LE(zlib.crc32(data), 14);
  h.writeUInt32LE(comp.length, 18);
  h.writeUInt32LE(data.length, 22);
  h.writeUInt16LE(n.length, 26);
  return { bytes: Buffer.concat([h, n, comp]), csize: comp.length, crc: zlib.crc32(data) };
}

interface Central {
  name: string;
  local: number;
  csize: number;
  usize: number;
  crc: number;
}

/** Local bytes, then a central directory of the given entries, then the end record. */
function assemble(locals: Buffer, centrals: Central[]): Buffer {
  const cd = Buffer.concat(
    centrals.map((c) => {
      const n = Buffer.from(c.name);
      const h = Buffer.alloc(46);
      h.writeUInt32LE(0x02014b50, 0);
      h.writeUInt16LE(20, 4);
      h.writeUInt16LE(20, 6);
      h.writeUInt16LE(8, 10);
      h.writeUInt32LE(c.crc, 16);
      h.writeUInt32LE(c.csize, 20);
      h.writeUInt32LE(c.usize, 24);
      h.writeUInt16LE(n.length, 28);
      h.writeUInt32LE(c.local, 42);
      return Buffer.concat([h, n]);
    }),
  );
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length, 8);
  end.writeUInt16LE(centrals.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(locals.length, 16);
  return Buffer.concat([locals, cd, end]);
}

/** The review's bomb: `count` central entries, all pointing at one local header of zeros. */
function sharedLocal(count: number, names: (i: number) => string, size = 1 << 20): Buffer {
  const one = localEntry(`${PREFIX}/a.go`, Buffer.alloc(size));
  return assemble(
    one.bytes,
    Array.from({ length: count }, (_, i) => ({
      name: names(i),
      local: 0,
      csize: one.csize,
      usize: size,
      crc: one.crc,
    })),
  );
}

/** Hashes the zip alone and as a tree written in two parts; returns what each reading said. */
async function readBoth(
  zip: Buffer,
): Promise<{ hashError: string; parts: ZipPartOutcome[]; written: string[] }> {
  let hashError = '';
  try {
    core.zipHash(zip);
  } catch (e) {
    hashError = (e as Error).message;
  }
  const dir = mkdtempSync(NodePath.join(tmp, 'tree-'));
  mkdirSync(NodePath.join(dir, 't'));
  const tree = { dir: NodePath.join(dir, 't'), prefix: PREFIX };
  const parts = await Promise.all(
    [0, 1].map((part) => core.zipPart(zip, { tree, part, parts: 2, streamAbove: 1 << 10 })),
  );
  return { hashError, parts, written: readdirSync(tree.dir) };
}

/** Expects the zip refused with `why` by every reading, nothing inflated and nothing written. */
async function expectRefused(zip: Buffer, why: RegExp): Promise<void> {
  inflations = 0;
  const { hashError, parts, written } = await readBoth(zip);
  expect(hashError).toMatch(why);
  for (const p of parts) {
    expect(p.zipError).toMatch(why);
    expect(p.treeError).toMatch(why);
    expect(p.names).toEqual([]);
  }
  const r = core.zipResult(parts, true);
  expect(r.h1).toBeUndefined();
  expect(r.tree).toBeUndefined();
  expect(r.zipError).toMatch(why);
  expect(written).toEqual([]);
  expect(inflations).toBe(0);
}

describe('zips that would inflate one entry many times, or more than Go allows', () => {
  it('refuses the review’s bomb (central entries of one name sharing one local header)', async () => {
    const bomb = sharedLocal(65_535, () => `${PREFIX}/a.go`);
    // A few hundred kilobytes announcing 64 GiB: 65,535 readings of one entry.
    expect(bomb.length).toBeLessThan(5 << 20);
    await expectRefused(
      bomb,
      /^zip: two entries are named example\.com\/m@v1\.0\.0\/a\.go \(Go refuses a module zip with duplicate names\)$/,
    );
  });

  it('refuses distinct names sharing one local header as overlapping entries', async () => {
    // Each entry small, all together under the limit: only the overlap gives them away.
    const bomb = sharedLocal(400, (i) => `${PREFIX}/f${i}.go`);
    await expectRefused(
      bomb,
      /^zip: entry example\.com\/m@v1\.0\.0\/f\d+\.go overlaps the entry before it$/,
    );
  });

  it('refuses an entry whose data starts inside the data of the one before it', async () => {
    const a = localEntry(`${PREFIX}/a.go`, Buffer.from('package a\n'.repeat(100)));
    const b = localEntry(`${PREFIX}/b.go`, Buffer.from('package b\n'));
    const central = (name: string, local: number, e: typeof a, usize: number): Central => ({
      name,
      local,
      csize: e.csize,
      usize,
      crc: e.crc,
    });
    const locals = Buffer.concat([a.bytes, b.bytes]);
    // a.go claims b.go's local header as part of its data.
    const grown = { ...a, csize: a.csize + 10 };
    await expectRefused(
      assemble(locals, [
        central(`${PREFIX}/a.go`, 0, grown, 1000),
        central(`${PREFIX}/b.go`, a.bytes.length, b, 10),
      ]),
      /^zip: entry example\.com\/m@v1\.0\.0\/b\.go overlaps the entry before it$/,
    );
    // The same two entries in their own places read as before.
    const fine = assemble(locals, [
      central(`${PREFIX}/a.go`, 0, a, 1000),
      central(`${PREFIX}/b.go`, a.bytes.length, b, 10),
    ]);
    expect(core.zipHash(fine)).toMatch(/^h1:/);
  });

  it('refuses an entry whose data runs into the central directory', async () => {
    const a = localEntry(`${PREFIX}/a.go`, Buffer.from('package a\n'));
    await expectRefused(
      assemble(a.bytes, [
        { name: `${PREFIX}/a.go`, local: 0, csize: a.csize + 1, usize: 10, crc: a.crc },
      ]),
      /^zip: entry example\.com\/m@v1\.0\.0\/a\.go runs into the central directory$/,
    );
  });

  it('refuses sizes announced beyond MaxZipFile together before inflating any entry', async () => {
    // Three entries in their own places, each announcing 200 MiB (each alone allowed).
    const each = 200 << 20;
    const files = ['a.go', 'b.go', 'c.go'].map((f) => localEntry(`${PREFIX}/${f}`, Buffer.from(f)));
    let at = 0;
    const centrals = files.map((e, i) => {
      const c = {
        name: `${PREFIX}/${'abc'[i]}.go`,
        local: at,
        csize: e.csize,
        usize: each,
        crc: e.crc,
      };
      at += e.bytes.length;
      return c;
    });
    expect(3 * each).toBeGreaterThan(MAX_MODULE_ZIP);
    await expectRefused(
      assemble(Buffer.concat(files.map((f) => f.bytes)), centrals),
      new RegExp(`^zip: the entries announce more than ${MAX_MODULE_ZIP} bytes together`),
    );
  });

  it('still reads a zip of many small entries each in its own place', async () => {
    const files = Array.from({ length: 300 }, (_, i) => ({
      name: `${PREFIX}/f${i}.go`,
      data: `package f${i}\n`,
    }));
    const { hashError, parts, written } = await readBoth(zipBuffer(files));
    expect(hashError).toBe('');
    const r = core.zipResult(parts, true);
    expect(r.zipError).toBeUndefined();
    expect(r.tree?.files).toBe(300);
    expect(r.tree?.h1).toBe(r.h1);
    expect(written).toHaveLength(300);
  });
});
