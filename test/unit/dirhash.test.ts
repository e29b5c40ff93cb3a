import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { strToU8, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { goModHash } from '../../src/go/gosum.js';
import { hash1 as gosumHash1 } from '../../src/verify/dirhash.js';
import { hash1, hashDirOnDisk, hashZipBuffer, Limiter } from '../../src/verify/dirhash.js';
import { mainThreadCore } from '../../src/verify/hashcore.js';
import { HashWorkers } from '../../src/verify/workers.js';
import { zipBuffer } from '../e2e/harness/zip.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'dirhash-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sha = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex');

/** Hash1 spelled out the way Go's source reads, for an explicit order of names. */
function hash1InOrder(files: { name: string; data: string }[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(`${sha(f.data)}  ${f.name}\n`);
  return 'h1:' + h.digest('base64');
}

describe('hash1', () => {
  it('equals go.sum’s /go.mod hash for a single go.mod file', () => {
    const mod = 'module example.com/x\n\ngo 1.21\n';
    expect(hash1([{ name: 'go.mod', sha256hex: sha(mod) }])).toBe(goModHash(mod));
  });

  it('sorts names as UTF-8 bytes like Go, not as UTF-16 code units', () => {
    // U+F900 is EF A4 80 in UTF-8 and sorts before U+20000 (F0 A0 80 80);
    // in UTF-16 U+20000 (D840 DC00) sorts first.
    const files = [
      { name: 'm@v1/\u{20000}.txt', data: 'b' },
      { name: 'm@v1/\u{F900}.txt', data: 'a' },
    ];
    const want = hash1InOrder([files[1]!, files[0]!]);
    const got = hash1(files.map((f) => ({ name: f.name, sha256hex: sha(f.data) })));
    expect(got).toBe(want);
    // gosum.ts re-exports this one: there is a single Hash1.
    expect(gosumHash1(files.map((f) => ({ name: f.name, sha256hex: sha(f.data) })))).toBe(want);
  });

  it('refuses a name containing a newline, as Go does', () => {
    expect(() => hash1([{ name: 'a\nb', sha256hex: sha('') }])).toThrow(/newline/);
  });
});

describe('hashZipBuffer (Go HashZip)', () => {
  const content = {
    'example.com/m@v1.0.0/go.mod': 'module example.com/m\n',
    'example.com/m@v1.0.0/m.go': 'package m\n\nfunc F() int { return 1 }\n'.repeat(50),
    'example.com/m@v1.0.0/sub/x.txt': 'x'.repeat(5000),
  };
  const expected = hash1InOrder(
    Object.entries(content)
      .map(([name, data]) => ({ name, data }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
  );
  const stored = zipBuffer(Object.entries(content).map(([name, data]) => ({ name, data })));
  const deflated = Buffer.from(
    zipSync(Object.fromEntries(Object.entries(content).map(([n, d]) => [n, strToU8(d)])), {
      level: 9,
    }),
  );

  it('hashes names and inflated contents, whatever the compression', () => {
    expect(deflated.length).toBeLessThan(stored.length);
    expect(hashZipBuffer(stored)).toBe(expected);
    expect(hashZipBuffer(deflated)).toBe(expected);
  });

  it('reads zip64 archives (Python zipfile, forced zip64)', () => {
    const file = path.join(tmp, 'z64.zip');
    const py = [
      'import sys, zipfile, json',
      'c = json.loads(sys.argv[2])',
      'with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:',
      '    for n, d in c.items():',
      '        with z.open(n, "w", force_zip64=True) as f: f.write(d.encode())',
    ].join('\n');
    execFileSync('python3', ['-c', py, file, JSON.stringify(content)]);
    const buf = execFileSync('cat', [file]);
    expect(buf.includes(Buffer.from([0x01, 0x00, 0x10, 0x00]))).toBe(true); // zip64 extra field
    expect(hashZipBuffer(buf)).toBe(expected);
  });

  it('changes when one byte of one entry changes, and names what is not a zip', () => {
    const bad = Buffer.from(stored);
    const at = bad.indexOf('return 1');
    bad[at + 7] = '2'.charCodeAt(0);
    // Go's reader refuses such an entry (its CRC-32 no longer matches); so do we.
    expect(() => hashZipBuffer(bad)).toThrow(/m\.go does not match its CRC-32/);
    // The same change with the CRC-32 made to match is read, and hashes differently.
    const cd = bad.lastIndexOf(
      'PK\x01\x02',
      bad.indexOf(`${'example.com/m@v1.0.0/m.go'}`, bad.indexOf('PK\x01\x02')),
    );
    const local = bad.readUInt32LE(cd + 42);
    const size = bad.readUInt32LE(cd + 20);
    const dataAt = local + 30 + bad.readUInt16LE(local + 26) + bad.readUInt16LE(local + 28);
    const crc = zlib.crc32(bad.subarray(dataAt, dataAt + size));
    bad.writeUInt32LE(crc, cd + 16);
    bad.writeUInt32LE(crc, local + 14);
    expect(hashZipBuffer(bad)).not.toBe(expected);
    expect(() => hashZipBuffer(Buffer.from('not a zip at all'))).toThrow(/^zip: /);
    const cut = deflated.subarray(0, deflated.length - 30);
    expect(() => hashZipBuffer(cut)).toThrow(/^zip: /);
  });

  it('stops inflating at the size the header announces (a bomb cannot grow past it)', () => {
    const lying = Buffer.from(deflated);
    // x.txt's central directory entry: announce 100 bytes instead of 5000.
    const name = lying.indexOf('example.com/m@v1.0.0/sub/x.txt', lying.indexOf('PK\x01\x02'));
    const header = lying.lastIndexOf('PK\x01\x02', name);
    expect(lying.readUInt32LE(header + 24)).toBe(5000);
    lying.writeUInt32LE(100, header + 24);
    expect(() => hashZipBuffer(lying)).toThrow(
      /^zip: entry example\.com\/m@v1\.0\.0\/sub\/x\.txt does not inflate to its 100 bytes/,
    );
    // An entry announcing more than a module zip may hold is refused before inflating.
    lying.writeUInt32LE(600 << 20, header + 24);
    expect(() => hashZipBuffer(lying)).toThrow(/more than a module zip may hold/);
  });

  it('refuses a repeated name, as Go’s modfetch does (HashZip alone would read the last entry)', () => {
    const twice = zipBuffer([
      { name: 'm@v1/a.go', data: 'first' },
      { name: 'm@v1/a.go', data: 'second' },
    ]);
    expect(() => hashZipBuffer(twice)).toThrow(
      /^zip: two entries are named m@v1\/a\.go \(Go refuses a module zip with duplicate names\)$/,
    );
  });

  it('gives the same answers in the worker pool, also under load and for bad input', async () => {
    const pool = new HashWorkers(2);
    try {
      const jobs = Array.from({ length: 20 }, (_v, i) =>
        pool.hashZip(i % 2 ? Buffer.from(stored) : Buffer.from(deflated), true),
      );
      expect(new Set(await Promise.all(jobs))).toEqual(new Set([expected]));
      await expect(pool.hashZip(Buffer.from('garbage'))).rejects.toThrow(/^zip: /);
      // A view into a larger buffer is copied, not transferred: the owner keeps its bytes.
      const big = Buffer.concat([Buffer.alloc(100), stored]);
      const view = big.subarray(100);
      expect(await pool.hashZip(view, true)).toBe(expected);
      expect(big.length).toBe(100 + stored.length);
      const zipFile = path.join(tmp, 'm.zip');
      writeFileSync(zipFile, deflated);
      expect(await pool.hashZipFile(zipFile)).toBe(expected);
    } finally {
      await pool.close();
    }
    const inline = new HashWorkers(0);
    expect(await inline.hashZip(stored)).toBe(expected);
    await inline.close();
  });
});

describe('hashDirOnDisk (Go HashDir)', () => {
  it('hashes every file under the directory named <prefix>/<relative path>', async () => {
    const dir = path.join(tmp, 'tree');
    mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
    mkdirSync(path.join(dir, 'empty'));
    writeFileSync(path.join(dir, 'go.mod'), 'module m\n');
    writeFileSync(path.join(dir, 'a', 'b', 'c.go'), 'package b\n');
    const big = 'y'.repeat(9 << 20); // a large file among small ones
    writeFileSync(path.join(dir, 'a', 'big.bin'), big);
    chmodSync(path.join(dir, 'go.mod'), 0o444);
    const want = hash1InOrder([
      { name: 'm@v1.0.0/a/b/c.go', data: 'package b\n' },
      { name: 'm@v1.0.0/a/big.bin', data: big },
      { name: 'm@v1.0.0/go.mod', data: 'module m\n' },
    ]);
    expect(await hashDirOnDisk(dir, 'm@v1.0.0')).toBe(want);
    for (const size of [0, 2]) {
      const pool = new HashWorkers(size);
      try {
        expect(await pool.hashTree(dir, 'm@v1.0.0')).toEqual({ h1: want, files: 3 });
      } finally {
        await pool.close();
      }
    }
  });

  it('refuses a symlink inside a tree, naming it (Go never extracts one)', async () => {
    const dir = path.join(tmp, 'tree-link');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(tmp, 'outside.txt'), 'secret');
    symlinkSync(path.join(tmp, 'outside.txt'), path.join(dir, 'link.go'));
    await expect(hashDirOnDisk(dir, 'm@v1')).rejects.toThrow(/link\.go/);
    const pool = new HashWorkers(1);
    try {
      await expect(pool.hashTree(dir, 'm@v1')).rejects.toThrow(/link\.go is a symbolic link/);
    } finally {
      await pool.close();
    }
  });

  it('writes a batch exclusively in a worker, hashing what is asked, stopping at a collision', async () => {
    const dir = path.join(tmp, 'batch');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'taken'), 'already here');
    const pool = new HashWorkers(1);
    try {
      const o = await pool.writeFiles({
        root: dir,
        names: ['a', 'b', 'taken'].join('\0'),
        meta: Uint32Array.from([5, 0o444, 1, 5, 0o644, 0, 5, 0o644, 1]),
        data: Uint8Array.from(Buffer.from('helloworldhello')).buffer,
      });
      expect(o.digests).toEqual([sha('hello'), '']);
      expect(o.failed).toMatchObject({ index: 2, code: 'EEXIST' });
      expect(readFileSync(path.join(dir, 'b'), 'utf8')).toBe('world');
      expect(statSync(path.join(dir, 'a')).mode & 0o777).toBe(0o444);
      expect(readFileSync(path.join(dir, 'taken'), 'utf8')).toBe('already here');
    } finally {
      await pool.close();
    }
  });
});

describe('hashModule (HashDir and HashZip of one module in one pass)', () => {
  const prefix = 'example.com/m@v1.0.0';
  const files: Record<string, string> = {
    'go.mod': 'module example.com/m\n',
    'm.go': 'package m\n\nfunc F() int { return 1 }\n'.repeat(50),
    'sub/x.txt': 'x'.repeat(5000),
  };
  type Variant = { tree?: Record<string, string>; zip?: Record<string, string>; link?: string };
  /** A tree and a deflated zip of `files`, each with the variant's changes (''-valued keys removed). */
  function module(name: string, v: Variant): { dir: string; zip: string } {
    const dir = path.join(tmp, 'pair', name, 'tree');
    const zip = path.join(tmp, 'pair', name, 'm.zip');
    const tree = Object.entries({ ...files, ...v.tree }).filter(([, d]) => d !== '');
    for (const [rel, data] of tree) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), data);
    }
    if (v.link) symlinkSync(path.join(tmp, 'outside.txt'), path.join(dir, v.link));
    const inZip = Object.entries({ ...files, ...v.zip }).filter(([, d]) => d !== '');
    writeFileSync(
      zip,
      zipSync(Object.fromEntries(inZip.map(([rel, d]) => [`${prefix}/${rel}`, strToU8(d)])), {
        level: 6,
      }),
    );
    return { dir, zip };
  }
  const variants: [string, Variant][] = [
    ['intact', {}],
    ['a changed tree file', { tree: { 'm.go': 'package m // changed\n' } }],
    ['a changed zip entry', { zip: { 'sub/x.txt': 'y'.repeat(5000) } }],
    ['a file only in the tree', { tree: { 'extra.go': 'package m\n' } }],
    ['a file only in the zip', { zip: { 'extra.go': 'package m\n' } }],
    ['a file missing from the tree', { tree: { 'sub/x.txt': '' } }],
    ['a symlink in the tree', { link: 'link.go' }],
  ];

  it.each(variants)(
    '%s: both hashes equal treeHash and zipFileHash, in a worker too',
    async (name, v) => {
      writeFileSync(path.join(tmp, 'outside.txt'), 'secret');
      const m = module(name.replace(/ /g, '-'), v);
      const separately = async (pool: HashWorkers) => ({
        tree: await pool.hashTree(m.dir, prefix).then(
          (t) => t.h1,
          (e: Error) => e.message,
        ),
        zip: await pool.hashZipFile(m.zip),
      });
      for (const size of [0, 1]) {
        const pool = new HashWorkers(size);
        try {
          const want = await separately(pool);
          const got = await pool.hashModule(m.dir, prefix, m.zip);
          expect(got.tree?.h1 ?? got.treeError).toBe(want.tree);
          expect(got.zipH1).toBe(want.zip);
          expect(got.zipError).toBeUndefined();
        } finally {
          await pool.close();
        }
      }
      // The intact module's two hashes agree with each other, as go.sum's one line needs.
      if (name === 'intact') {
        const got = await new HashWorkers(0).hashModule(m.dir, prefix, m.zip);
        expect(got.tree?.h1).toBe(got.zipH1);
        expect(got.tree?.files).toBe(3);
      }
    },
  );

  it('hashes the tree when the zip is not one, and reports why the zip failed', async () => {
    const m = module('not-a-zip', {});
    writeFileSync(m.zip, 'this is not a zip file at all, not even close');
    const pool = new HashWorkers(0);
    const got = await pool.hashModule(m.dir, prefix, m.zip);
    expect(got.tree?.h1).toBe((await pool.hashTree(m.dir, prefix)).h1);
    expect(got.zipH1).toBeUndefined();
    expect(got.zipError).toMatch(/not a zip file/);
  });
});

/**
 * The ways a zip reaches zipPart: in memory (as small zips do), or spooled to
 * a file and read with positioned reads (as large ones are); entries whole, or
 * streamed in pieces (as large entries are: forced here on small ones).
 */
const ZIP_READS = [
  { how: 'in memory', file: false, streamAbove: undefined },
  { how: 'in memory, every entry streamed', file: false, streamAbove: 0 },
  { how: 'from a file', file: true, streamAbove: undefined },
  { how: 'from a file, every entry streamed', file: true, streamAbove: 0 },
];

describe.each(ZIP_READS.map((r, way) => ({ ...r, way })))(
  'zipPart, $how (a tree written from its zip, as Go unzips it)',
  (read) => {
    const prefix = 'example.com/z@v1.0.0';
    const goodFiles = [
      { name: `${prefix}/go.mod`, data: 'module example.com/z\n' },
      { name: `${prefix}/z.go`, data: 'package z\n' },
      { name: `${prefix}/inner/deep/d.go`, data: 'package deep\n' },
      { name: `${prefix}/inner/i.go`, data: 'package inner\n'.repeat(5000) },
    ];
    const zipOf = (files: { name: string; data: string }[]) =>
      zipSync(Object.fromEntries(files.map((f) => [f.name, strToU8(f.data)])), { level: 6 });
    let n = 0;
    const freshDir = () => {
      const d = path.join(tmp, `unzip-${read.way}-${n++}`);
      mkdirSync(d);
      return d;
    };
    const core = mainThreadCore;
    /** The zip as this way of reading hands it over: the buffer, or a file holding it. */
    const source = (buf: Uint8Array): Uint8Array | string => {
      if (!read.file) return buf;
      const file = path.join(tmp, `spooled-${read.way}-${n++}.zip`);
      writeFileSync(file, buf);
      return file;
    };
    const run = async (buf: Uint8Array, dir: string, parts = 1, treePrefix = prefix) => {
      const src = source(buf);
      return core.zipResult(
        await Promise.all(
          Array.from({ length: parts }, (_, part) =>
            core.zipPart(src, {
              tree: { dir, prefix: treePrefix },
              part,
              parts,
              streamAbove: read.streamAbove,
            }),
          ),
        ),
        true,
      );
    };

    it('writes every file read-only, hashes the tree as HashDir and the zip as HashZip', async () => {
      const buf = zipOf(goodFiles);
      const dir = freshDir();
      const r = await run(buf, dir);
      const want = hash1InOrder([...goodFiles].sort((a, b) => (a.name < b.name ? -1 : 1)));
      expect(r.h1).toBe(want);
      expect(r.h1).toBe(hashZipBuffer(buf));
      expect(r.tree?.h1).toBe(want);
      expect(await hashDirOnDisk(dir, prefix)).toBe(want);
      expect(r.tree?.files).toBe(4);
      expect(statSync(path.join(dir, 'inner', 'i.go')).mode & 0o777).toBe(0o444);
      expect(r.tree?.dirs.map((d) => path.relative(dir, d)).sort()).toEqual([
        'inner',
        path.join('inner', 'deep'),
      ]);
    });

    it.each([1, 2, 3, 7])(
      'gives the same answer split into %i parts over a shared buffer',
      async (parts) => {
        const files = Array.from({ length: 40 }, (_, k) => ({
          name: `${prefix}/p${k % 5}/f${k}.go`,
          data: `package p\n// ${k}\n`.repeat(k * 50 + 1),
        }));
        const plain = zipOf(files);
        const shared = new Uint8Array(new SharedArrayBuffer(plain.length));
        shared.set(plain);
        const one = await run(plain, freshDir());
        const dir = freshDir();
        const split = await run(shared, dir, parts);
        expect(split.h1).toBe(one.h1);
        expect(split.tree?.h1).toBe(one.tree?.h1);
        expect(split.tree?.files).toBe(40);
        expect(new Set(split.tree?.dirs).size).toBe(5);
      },
    );

    it('skips directory entries as Go does: the zip hash counts them, the tree does not', async () => {
      const files = [...goodFiles, { name: `${prefix}/empty/`, data: '' }];
      const buf = zipOf(files);
      const dir = freshDir();
      const r = await run(buf, dir);
      expect(r.tree?.files).toBe(4);
      expect(r.h1).toBe(hashZipBuffer(buf));
      expect(r.tree?.h1).not.toBe(r.h1);
    });

    it.each([
      [
        'a name outside the module',
        `example.com/other@v1.0.0/x.go`,
        /is not under example.com\/z@v1.0.0\//,
      ],
      ['a ../ name', `${prefix}/../../escape.go`, /the path element "\.\."/],
      ['a trailing dot', `${prefix}/a./x.go`, /ending in a dot/],
      ['a backslash', `${prefix}/a\\..\\x.go`, /character Go refuses/],
      ['a colon', `${prefix}/C:x.go`, /character Go refuses/],
      ['a Windows device name', `${prefix}/aux.go`, /reserved on Windows/],
      ['an empty element', `${prefix}/a//x.go`, /empty path element/],
    ])(
      'refuses %s: nothing is written outside the tree and the tree is reported',
      async (_, bad, why) => {
        const buf = zipOf([...goodFiles, { name: bad, data: 'package evil\n' }]);
        const outer = freshDir();
        const dir = path.join(outer, 'a', 'tree');
        mkdirSync(dir, { recursive: true });
        const r = await run(buf, dir);
        expect(r.tree).toBeUndefined();
        expect(r.treeError).toMatch(why);
        // A zip Go will not unpack is not read further, so it has no hash.
        expect(r.h1).toBeUndefined();
        expect(r.zipError).toMatch(/^zip: not read further, Go refuses to unpack it: zip entry /);
        expect(r.zipError).toMatch(why);
        expect(execFileSync('find', [outer, '-name', '*escape*']).toString()).toBe('');
        expect(
          execFileSync('find', [outer, '-name', 'x.go', '-not', '-path', `${dir}/*`]).toString(),
        ).toBe('');
      },
    );

    it('refuses two entries for one name before writing anything, in one part or across parts', async () => {
      const files = [...goodFiles, { name: `${prefix}/z.go`, data: 'package other\n' }];
      // fflate keys entries by name: build the duplicate with the harness's writer.
      const buf = zipBuffer(files.map((f) => ({ name: f.name, data: Buffer.from(f.data) })));
      for (const parts of [1, 3]) {
        const dir = freshDir();
        const r = await run(buf, dir, parts);
        const why = `zip: two entries are named ${prefix}/z.go (Go refuses a module zip with duplicate names)`;
        expect(r.zipError).toBe(why);
        expect(r.treeError).toBe(why);
        expect(r.h1).toBeUndefined();
        expect(readdirSync(dir)).toEqual([]);
      }
    });

    it('stops at the first collision: a zip Go will not unpack is not read further', async () => {
      // a.go and a.go/x.go: Go's Unzip refuses a name that is both a file and a directory.
      const buf = zipBuffer([
        { name: `${prefix}/a.go`, data: 'package a\n' },
        { name: `${prefix}/a.go/x.go`, data: 'package x\n' },
        { name: `${prefix}/z.go`, data: 'package z\n' },
      ]);
      const dir = freshDir();
      const r = await run(buf, dir);
      expect(r.treeError).toMatch(/^zip entry "example\.com\/z@v1\.0\.0\/a\.go\/x\.go" collides/);
      expect(r.zipError).toMatch(/^zip: not read further, Go refuses to unpack it: zip entry /);
      expect(r.h1).toBeUndefined();
      expect(readdirSync(dir).sort()).toEqual(['a.go']);
    });

    it('reports a damaged zip on both sides, and never writes over an existing file', async () => {
      const dir = freshDir();
      const r = await run(Buffer.from('not a zip at all'), dir);
      expect(r.zipError).toMatch(/not a zip file/);
      expect(r.treeError).toMatch(/not a zip file/);
      const zipPath = path.join(dir, 'x.zip');
      writeFileSync(zipPath, 'there already');
      const w = await core.zipPart(zipOf(goodFiles), {
        write: { abs: zipPath, mode: 0o644 },
        part: 0,
        parts: 1,
      });
      expect(w.writeFailed?.code).toBe('EEXIST');
      expect(readFileSync(zipPath, 'utf8')).toBe('there already');
    });

    it('gives the same answers in the worker pool', async () => {
      const buf = zipOf(goodFiles);
      const shared = new Uint8Array(new SharedArrayBuffer(buf.length));
      shared.set(buf);
      const dir = freshDir();
      const workers = new HashWorkers(2);
      try {
        const src = read.file ? source(buf) : shared;
        const parts = await Promise.all(
          [0, 1].map((part) =>
            workers.zipPart(src, {
              tree: { dir, prefix },
              part,
              parts: 2,
              streamAbove: read.streamAbove,
            }),
          ),
        );
        const r = core.zipResult(parts, true);
        expect(r.h1).toBe(hashZipBuffer(buf));
        expect(r.tree?.h1).toBe(await hashDirOnDisk(dir, prefix));
      } finally {
        await workers.close();
      }
    });
  },
);

describe('Limiter', () => {
  it('never runs more than its limit at once', async () => {
    const l = new Limiter(3);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 12 }, () =>
        l.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, 2));
          active--;
        }),
      ),
    );
    expect(peak).toBe(3);
  });
});
