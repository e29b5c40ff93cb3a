/**
 * Our zip reader against Go's own (archive/zip, as golang.org/x/mod's HashZip
 * and Unzip use it) on zips built to be read differently by lenient readers.
 * The rule that keeps `verified=true` honest: for every zip, either we refuse
 * it, or we read exactly the files Go reads. Refusing more than Go is allowed
 * (the module is then judged bad and fetched again); reading other files than
 * Go never is, because the restore writes the tree from what we read.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashZipBuffer } from '../../src/verify/dirhash.js';
import { mainThreadCore } from '../../src/verify/hashcore.js';
import { zipBuffer } from '../e2e/harness/zip.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'vgc-zipreader-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Go's HashZip (x/mod/sumdb/dirhash) with the standard library alone, so it builds offline. */
const GO_HASHZIP = `package main

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"sort"
)

func hashZip(file string) (string, error) {
	z, err := zip.OpenReader(file)
	if err != nil {
		return "", err
	}
	defer z.Close()
	last := map[string]*zip.File{}
	var names []string
	for _, f := range z.File {
		names = append(names, f.Name)
		last[f.Name] = f
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		r, err := last[name].Open()
		if err != nil {
			return "", err
		}
		hf := sha256.New()
		_, err = io.Copy(hf, r)
		r.Close()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%x  %s\\n", hf.Sum(nil), name)
	}
	return "h1:" + base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

func main() {
	h, err := hashZip(os.Args[1])
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(h)
}
`;

let goHashZipBin = '';
beforeAll(() => {
  const dir = path.join(tmp, 'gohashzip');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'go.mod'), 'module gohashzip\n\ngo 1.21\n');
  writeFileSync(path.join(dir, 'main.go'), GO_HASHZIP);
  goHashZipBin = path.join(dir, 'gohashzip');
  execFileSync('go', ['build', '-o', goHashZipBin, '.'], {
    cwd: dir,
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '', GOWORK: 'off' },
  });
}, 120_000);

let n = 0;
/** What Go's archive/zip makes of the zip: its HashZip, or its error. */
function goRead(zip: Buffer): { h1?: string; error?: string } {
  const file = path.join(tmp, `z${++n}.zip`);
  writeFileSync(file, zip);
  const out = spawnSync(goHashZipBin, [file], { encoding: 'utf8' }).stdout.trim();
  return out.startsWith('h1:') ? { h1: out } : { error: out };
}

function ourRead(zip: Buffer): { h1?: string; error?: string } {
  try {
    return { h1: hashZipBuffer(zip) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

// ---------------------------------------------------------------------------
// Zips made to be read differently.

const P = 'example.com/m@v1.0.0/';
const goMod = 'module example.com/m\n\ngo 1.21\n';
const genuine = [
  { name: `${P}go.mod`, data: goMod },
  { name: `${P}m.go`, data: 'package m\n\nfunc F() int { return 1 }\n' },
];
const planted = [
  { name: `${P}go.mod`, data: goMod },
  { name: `${P}m.go`, data: 'package m\n\nfunc F() int { return 666 }\n' },
];

/** A zip (no comment) cut into its entries, its central directory and its count. */
function split(z: Buffer): { locals: Buffer; cd: Buffer; count: number } {
  const end = z.length - 22;
  const cdSize = z.readUInt32LE(end + 12);
  const cdOffset = z.readUInt32LE(end + 16);
  return {
    locals: z.subarray(0, cdOffset),
    cd: Buffer.from(z.subarray(cdOffset, cdOffset + cdSize)),
    count: z.readUInt16LE(end + 10),
  };
}

function endRecord(count: number, cdSize: number, cdOffset: number, comment = 0): Buffer {
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(count & 0xffff, 8);
  end.writeUInt16LE(count & 0xffff, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(cdOffset, 16);
  end.writeUInt16LE(comment, 20);
  return end;
}

/** Adds `by` to every local header offset of a central directory. */
function shifted(cd: Buffer, by: number): Buffer {
  const out = Buffer.from(cd);
  for (let p = 0; p < out.length;) {
    out.writeUInt32LE(out.readUInt32LE(p + 42) + by, p + 42);
    p += 46 + out.readUInt16LE(p + 28) + out.readUInt16LE(p + 30) + out.readUInt16LE(p + 32);
  }
  return out;
}

/**
 * The genuine directory where the end record points, and a second one with
 * other content behind a zip64 record: a directory size of 0xffff in the end
 * record makes Go's reader look for zip64 (and read the second one).
 */
function twoDirectories(): Buffer {
  const a = split(zipBuffer(genuine));
  const b = split(zipBuffer(planted));
  const cdA = a.locals.length + b.locals.length;
  const cdB = cdA + a.cd.length;
  const z64At = cdB + b.cd.length;
  const z64 = Buffer.alloc(56);
  z64.writeUInt32LE(0x06064b50, 0);
  z64.writeBigUInt64LE(44n, 4);
  z64.writeUInt16LE(45, 12);
  z64.writeUInt16LE(45, 14);
  z64.writeBigUInt64LE(BigInt(b.count), 24);
  z64.writeBigUInt64LE(BigInt(b.count), 32);
  z64.writeBigUInt64LE(BigInt(b.cd.length), 40);
  z64.writeBigUInt64LE(BigInt(cdB), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(z64At), 8);
  locator.writeUInt32LE(1, 16);
  return Buffer.concat([
    a.locals,
    b.locals,
    a.cd,
    shifted(b.cd, a.locals.length),
    z64,
    locator,
    endRecord(a.count, 0xffff, cdA),
  ]);
}

/** More central directory entries than the end record's 16-bit count says. */
function uncounted(extra: number): Buffer {
  const files = [...genuine];
  for (let i = 0; i < extra; i++) files.push({ name: `${P}x/${i}.go`, data: 'package x\n' });
  const z = split(zipBuffer(files));
  return Buffer.concat([z.locals, z.cd, endRecord(genuine.length, z.cd.length, z.locals.length)]);
}

function withBadCrc(): Buffer {
  const z = Buffer.from(zipBuffer(genuine));
  const cd = z.lastIndexOf('PK\x01\x02');
  z.writeUInt32LE(z.readUInt32LE(cd + 16) ^ 1, cd + 16);
  return z;
}

/** Bytes before the first entry, offsets left as they were (as in a self-extracting zip). */
function prefixed(): Buffer {
  return Buffer.concat([Buffer.alloc(64, 0x20), zipBuffer(planted)]);
}

/** A zip whose first entry's name is these raw bytes. */
function rawName(bytes: Buffer): Buffer {
  const placeholder = 'NAME';
  const z = split(zipBuffer([{ name: placeholder, data: 'package m\n' }, ...genuine]));
  const swap = (b: Buffer): Buffer => {
    const at = b.indexOf(placeholder);
    return Buffer.concat([b.subarray(0, at), bytes, b.subarray(at + placeholder.length)]);
  };
  const delta = bytes.length - placeholder.length;
  const locals = swap(z.locals);
  locals.writeUInt16LE(locals.readUInt16LE(26) + delta, 26);
  const cd = swap(z.cd);
  for (let p = 0, i = 0; p < cd.length; i++) {
    if (i === 0) cd.writeUInt16LE(cd.readUInt16LE(p + 28) + delta, p + 28);
    else cd.writeUInt32LE(cd.readUInt32LE(p + 42) + delta, p + 42);
    p += 46 + cd.readUInt16LE(p + 28) + cd.readUInt16LE(p + 30) + cd.readUInt16LE(p + 32);
  }
  return Buffer.concat([locals, cd, endRecord(z.count, cd.length, locals.length)]);
}

const deflated = (files: { name: string; data: string }[]): Buffer =>
  Buffer.from(zipSync(Object.fromEntries(files.map((f) => [f.name, strToU8(f.data)]))));

/** `read`: we must read it, as Go does. `refuse`: we must refuse it (Go may read it). */
const cases: { name: string; zip: () => Buffer; ours: 'read' | 'refuse' }[] = [
  { name: 'a genuine stored zip', zip: () => zipBuffer(genuine), ours: 'read' },
  { name: 'a genuine deflated zip', zip: () => deflated(genuine), ours: 'read' },
  {
    name: 'a second directory that a directory size of 0xffff sends Go to',
    zip: twoDirectories,
    ours: 'read',
  },
  { name: 'one more entry than counted', zip: () => uncounted(1), ours: 'refuse' },
  { name: '65,536 more entries than counted', zip: () => uncounted(65_536), ours: 'refuse' },
  { name: 'an entry whose CRC-32 is wrong', zip: withBadCrc, ours: 'refuse' },
  {
    name: 'bytes after the end record',
    zip: () => Buffer.concat([zipBuffer(genuine), Buffer.from('trailing')]),
    ours: 'refuse',
  },
  { name: 'bytes before the first entry', zip: prefixed, ours: 'refuse' },
  {
    name: 'a name starting with a byte-order mark (a decoder may drop it)',
    zip: () => rawName(Buffer.from(`\uFEFF${P}m2.go`)),
    ours: 'read',
  },
  {
    name: 'a name that is not UTF-8',
    zip: () => rawName(Buffer.concat([Buffer.from(P), Buffer.from([0xff, 0x2e, 0x67, 0x6f])])),
    ours: 'refuse',
  },
];

describe('our zip reader against Go’s archive/zip', () => {
  it.each(cases)(
    '$name: refused, or read exactly as Go reads it',
    ({ zip, ours }) => {
      const z = zip();
      const go = goRead(z);
      const us = ourRead(z);
      if (ours === 'refuse') {
        expect(us.error).toMatch(/^zip: /);
      } else {
        expect(us.error).toBeUndefined();
        expect(go.error).toBeUndefined();
        expect(us.h1).toBe(go.h1);
      }
      // Whatever Go refuses, we refuse.
      if (go.error !== undefined) expect(us.error).toBeDefined();
    },
    60_000,
  );

  it.each(cases)(
    '$name: read from a file it was spooled to, entries streamed, with the same answer',
    async ({ zip }) => {
      // Large zips are spooled to disk and large entries inflated in pieces:
      // the same refusals must hold there, so every entry is streamed here.
      const z = zip();
      const file = path.join(tmp, `spooled-${++n}.zip`);
      writeFileSync(file, z);
      const part = await mainThreadCore.zipPart(file, { part: 0, parts: 1, streamAbove: 0 });
      const r = mainThreadCore.zipResult([part], false);
      const us = ourRead(z);
      expect(r.h1).toBe(us.h1);
      if (us.error !== undefined) expect(r.zipError).toMatch(/^zip: /);
    },
  );

  it('the planted zips really read differently to a lenient reader', () => {
    // Without this, a case could pass because its builder made a plain copy.
    const plain = goRead(zipBuffer(genuine)).h1;
    expect(goRead(twoDirectories()).h1).toBe(goRead(zipBuffer(planted)).h1);
    expect(goRead(twoDirectories()).h1).not.toBe(plain);
    expect(goRead(uncounted(65_536)).h1).toMatch(/^h1:/);
    expect(goRead(prefixed()).h1).toBe(goRead(zipBuffer(planted)).h1);
    expect(goRead(withBadCrc()).error).toMatch(/checksum/);
    expect(goRead(rawName(Buffer.from(`\uFEFF${P}m2.go`))).h1).not.toBe(
      goRead(rawName(Buffer.from(`${P}m2.go`))).h1,
    );
  }, 60_000);
});
