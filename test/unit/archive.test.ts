import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  createReadStream,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  linkSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placeOf } from '../../src/go/layout.js';
import { extractArchive } from '../../src/restore/extract.js';
import { ArchiveRejected, detectCompression, memberPath } from '../../src/restore/tar.js';
import type { ExtractRecord, ModuleRecord } from '../../src/verify/record.js';
import { recordFromDisk } from '../../src/verify/scan.js';
import { escapeModulePath, parseGoSum, sumIndex, sumId } from '../../src/go/gosum.js';
import { forceRemove } from '../../src/go/modcache.js';
import { hashDirOnDisk, hashZipBuffer } from '../../src/verify/dirhash.js';
import { factsFromRecord } from '../../src/verify/facts.js';
import { judge, repairPlan } from '../../src/verify/judge.js';
import {
  generateModules,
  goEnv,
  publish,
  readGoSum,
  runGo,
  writeProject,
  type ModuleVersion,
} from '../e2e/harness/goproxy.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'archive-test-'));
afterAll(async () => forceRemove(base));

// ---------------------------------------------------------------------------
// Pure rules.

describe('memberPath', () => {
  it('refuses a name longer than PATH_MAX, and shows only its start', () => {
    const long = `cache/vcs/${'a'.repeat(5000)}`;
    let err: unknown;
    try {
      memberPath(long);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ArchiveRejected);
    expect((err as ArchiveRejected).why).toMatch(/longer than 4096 bytes/);
    expect((err as ArchiveRejected).member.length).toBeLessThanOrEqual(201);
    expect((err as Error).message.length).toBeLessThan(400);
  });

  it('normalises harmless names', () => {
    expect(memberPath('./')).toBe('');
    expect(memberPath('.')).toBe('');
    expect(memberPath('./cache/download/x/@v/v1.0.0.zip')).toBe('cache/download/x/@v/v1.0.0.zip');
    expect(memberPath('a//b/./c/')).toBe('a/b/c');
  });

  it.each([
    ['/etc/passwd', /absolute/],
    ['../x', /\.\./],
    ['./a/../../x', /\.\./],
    ['a/..', /\.\./],
    ['C:/x', /drive letter/],
    ['c:x', /drive letter/],
    ['a\\..\\x', /backslash/],
    ['a\0b', /NUL/],
  ])('rejects %j', (name, why) => {
    try {
      memberPath(name);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ArchiveRejected);
      expect((e as ArchiveRejected).member).toBe(name);
      expect((e as ArchiveRejected).why).toMatch(why);
    }
  });
});

describe('placeOf', () => {
  it('tells module trees apart by their first segment with an @', () => {
    expect(placeOf('golang.org/x/tools@v0.1.0/go/ast/x.go')).toEqual({
      kind: 'tree',
      root: 'golang.org/x/tools@v0.1.0',
      path: 'golang.org/x/tools',
      version: 'v0.1.0',
      inner: 'go/ast/x.go',
    });
    expect(placeOf('golang.org/x/tools/gopls@v0.24.0/main.go')).toMatchObject({
      path: 'golang.org/x/tools/gopls',
      version: 'v0.24.0',
    });
    expect(placeOf('github.com/!burnt!sushi/toml@v1.3.2')).toMatchObject({
      kind: 'tree',
      path: 'github.com/BurntSushi/toml',
      inner: '',
    });
    // An '@' deeper inside a tree belongs to the file's name, not to the module.
    expect(placeOf('example.com/m@v1.0.0/docs/a@b.md')).toMatchObject({
      root: 'example.com/m@v1.0.0',
      inner: 'docs/a@b.md',
    });
    // The same root asked again (trees are looked up once per file) gives the same answer.
    expect(placeOf('example.com/m@v1.0.0/x.go')).toMatchObject({ path: 'example.com/m' });
    for (const other of ['example.com/@v1.0.0/x.go', 'example.com/m@/x.go', '@v1/x', 'a/b/c'])
      expect(placeOf(other), other).toEqual({ kind: 'other' });
    // Only Go's own escaping names a module: 'Foo' and '!foo' must not both read as Foo.
    expect(placeOf('example.com/!foo@v1.0.0/x.go')).toMatchObject({ path: 'example.com/Foo' });
    for (const other of [
      'example.com/Foo@v1.0.0/x.go',
      'example.com/foo@v1.0.0-RC1/x.go',
      'example.com/a!@v1.0.0/x.go',
      'example.com/a!1@v1.0.0/x.go',
      'cache/download/example.com/Foo/@v/v1.0.0.zip',
      'cache/download/example.com/foo/@v/v1.0.0-RC1.mod',
    ])
      expect(placeOf(other), other).toEqual({ kind: 'other' });
  });

  it('reads download files and leaves the rest as other', () => {
    expect(placeOf('cache/download/github.com/!burnt!sushi/toml/@v/v1.3.2.ziphash')).toEqual({
      kind: 'download',
      path: 'github.com/BurntSushi/toml',
      version: 'v1.3.2',
      ext: '.ziphash',
    });
    expect(placeOf('cache/download/x.org/m/@v/v2.0.0+incompatible.zip')).toMatchObject({
      ext: '.zip',
      version: 'v2.0.0+incompatible',
    });
    for (const other of [
      'cache/download/x.org/m/@v/v1.0.0.lock',
      'cache/download/x.org/m/@v/list',
      'cache/download/sumdb/sum.golang.org/lookup/x.org/m@v1.0.0',
      'cache/download/x.org/m/@v/.zip',
      // Names Go's module.CheckPath refuses: the first would name a tree
      // inside example.com/a@v1.0.0, the others climb or are no version.
      'cache/download/example.com/a@v1.0.0/static/x/@v/v2.0.0.zip',
      'cache/download/example.com/../x/@v/v1.0.0.zip',
      'cache/download/example.com/a/@v/v1@v2.zip',
      'cache/download/example.com/a/@v/1.0.0.mod',
      'example.com/a@v1.0.0@v2.0.0/x.go',
      'example.com/a+b@v1.0.0/x.go',
      'cache/lock',
      'cache/vcs/abc/HEAD',
      'README',
    ])
      expect(placeOf(other)).toEqual({ kind: 'other' });
  });

  it('detects compression from magic bytes', () => {
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0]))).toBe('zstd');
    expect(detectCompression(Buffer.from([0x1f, 0x8b, 8]))).toBe('gzip');
    expect(detectCompression(Buffer.from('./\0\0'))).toBe('none');
  });
});

// ---------------------------------------------------------------------------
// A real module cache made by the go command, and archives of it as
// @actions/cache makes them.

interface Fixture {
  modCache: string;
  project: string;
  env: NodeJS.ProcessEnv;
  sums: Map<string, string>;
  /** Module versions with a zip line in go.sum. */
  zipModules: { path: string; version: string }[];
}

function sh(cmd: string): void {
  execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function archive(modCache: string, out: string, compress: 'zstd' | 'gzip' | 'none'): string {
  const pipe = compress === 'zstd' ? ' | zstd -q -T0' : compress === 'gzip' ? ' | gzip -c' : '';
  sh(`tar --posix -cf - -C '${modCache}' .${pipe} > '${out}'`);
  return out;
}

/** Extra modules: nested module paths, a deflated zip with non-ASCII names, a big file. */
function extraModules(): ModuleVersion[] {
  const goMod = (p: string) => `module ${p}\n\ngo 1.21\n`;
  const pkg = (name: string, k: number) => `package ${name}\n\nfunc F() int { return ${k} }\n`;
  return [
    {
      path: 'example.com/nest',
      version: 'v1.0.0',
      goMod: goMod('example.com/nest'),
      files: { 'nest.go': pkg('nest', 21) },
    },
    {
      path: 'example.com/nest/inner',
      version: 'v1.4.0',
      goMod: goMod('example.com/nest/inner'),
      files: { 'inner.go': pkg('inner', 22) },
    },
    {
      path: 'example.com/uni',
      version: 'v1.0.0',
      goMod: goMod('example.com/uni'),
      files: { 'uni.go': pkg('uni', 23), '\u{20000}.txt': 'ext-b\n', '\u{F900}.txt': 'compat\n' },
    },
    {
      path: 'example.com/big',
      version: 'v1.0.0',
      goMod: goMod('example.com/big'),
      files: {
        'big.go': pkg('big', 24),
        'testdata/big.bin': createHash('sha256').update('seed').digest('hex').repeat(100_000),
      },
    },
  ];
}

/** Replaces a published zip by a deflated one with the same entries (Go accepts both). */
function deflateZip(proxy: string, m: ModuleVersion): void {
  const prefix = `${m.path}@${m.version}/`;
  const entries: Record<string, Uint8Array> = {};
  for (const [n, d] of Object.entries(m.files))
    entries[prefix + n] = typeof d === 'string' ? strToU8(d) : d;
  if (m.goMod) entries[`${prefix}go.mod`] = strToU8(m.goMod);
  const file = path.join(proxy, ...escapeModulePath(m.path).split('/'), '@v', `${m.version}.zip`);
  writeFileSync(file, zipSync(entries, { level: 6 }));
}

function buildFixture(dir: string): Fixture {
  const proxy = path.join(dir, 'proxy');
  const home = path.join(dir, 'home');
  const set = generateModules(5);
  const extra = extraModules();
  for (const v of [...set.versions, ...extra]) publish(proxy, v);
  deflateZip(
    proxy,
    extra.find((m) => m.path === 'example.com/uni')!,
  );
  deflateZip(
    proxy,
    extra.find((m) => m.path === 'example.com/big')!,
  );
  const env = goEnv(proxy, home, { GOFLAGS: '-mod=mod -modcacherw' });
  const requires: Record<string, string> = { ...set.special };
  for (const p of set.plain) requires[p] = 'v1.1.0';
  for (const m of extra) requires[m.path] = m.version;
  const project = path.join(dir, 'project');
  writeProject(project, 'example.com/project', requires, env);
  runGo(['mod', 'download'], project, env);
  const sums = sumIndex([parseGoSum(readGoSum(project))]);
  const zipModules = parseGoSum(readGoSum(project))
    .lines.filter((l) => !l.goMod)
    .map((l) => ({ path: l.path, version: l.version }));
  return { modCache: String(env.GOMODCACHE), project, env, sums, zipModules };
}

/** `go mod verify` of the fixture's project against the module cache `dest`, offline. */
function goModVerifyIn(fx: Fixture, dest: string): string {
  return runGo(['mod', 'verify'], fx.project, {
    ...fx.env,
    GOMODCACHE: dest,
    GOFLAGS: '-mod=mod',
    GOPROXY: 'off',
  });
}

function byId(r: ExtractRecord): Map<string, ModuleRecord> {
  return new Map(r.modules.map((m) => [`${m.path}@${m.version}`, m]));
}

/** Every module with a zip line: tree, zip and ziphash hash to go.sum's value; go.mod too. */
function mismatches(fx: Fixture, r: ExtractRecord): string[] {
  const mods = byId(r);
  const out: string[] = [];
  for (const { path: p, version: v } of fx.zipModules) {
    const m = mods.get(`${p}@${v}`);
    const want = fx.sums.get(sumId(p, v, false));
    if (!m) {
      out.push(`${p}@${v} missing`);
      continue;
    }
    if (m.treeH1 !== want) out.push(`${p}@${v} tree`);
    if (m.zipH1 !== want) out.push(`${p}@${v} zip`);
    if (m.ziphash !== want) out.push(`${p}@${v} ziphash`);
    if (m.modH1 !== fx.sums.get(sumId(p, v, true))) out.push(`${p}@${v} go.mod`);
  }
  return out;
}

/** A record's modules as a scan sees them: a scan does not read `.info` times. */
const modulesOf = (r: ExtractRecord) => r.modules.map(({ infoTime: _t, ...m }) => m);

describe('extractArchive against a module cache made by the go command', () => {
  let fx: Fixture;
  let zstdRecord: ExtractRecord;
  const outDir = (name: string) => path.join(base, 'out', name);

  beforeAll(() => {
    fx = buildFixture(path.join(base, 'go'));
    mkdirSync(path.join(base, 'out'), { recursive: true });
  });

  it('zstd: every tree, zip and ziphash equals go.sum; go mod verify agrees', async () => {
    const file = archive(fx.modCache, path.join(base, 'cache.tzst'), 'zstd');
    const dest = outDir('zstd');
    const res = await extractArchive(createReadStream(file), dest);
    zstdRecord = res.record;
    expect(res.compression).toBe('zstd');
    expect(fx.zipModules.length).toBeGreaterThanOrEqual(12);
    expect(mismatches(fx, res.record)).toEqual([]);
    expect(res.record.modules.find((m) => m.path === 'example.com/nest/inner')?.treeFiles).toBe(2);
    expect(res.record.modules.find((m) => m.path === 'example.com/nest')?.treeFiles).toBe(2);
    // The closed layout: Go's lock files, the vcs and sumdb caches are not written.
    expect(res.record.dropped?.count).toBeGreaterThan(0);
    expect(existsSync(path.join(dest, 'cache', 'lock'))).toBe(false);
    expect(res.record.other).toEqual([]);
    expect(res.files + res.record.dropped!.count).toBe(
      Number(
        execFileSync('sh', ['-c', `find '${fx.modCache}' -type f | wc -l`])
          .toString()
          .trim(),
      ),
    );
    // The go command accepts the extracted cache as its own.
    expect(goModVerifyIn(fx, dest)).toMatch(/all modules verified/);
    // Go's modes: read-only trees, writable download area.
    const tree = path.join(dest, 'example.com', 'm000@v1.1.0');
    expect(statSync(tree).mode & 0o777).toBe(0o555);
    expect(statSync(path.join(tree, 'inner')).mode & 0o777).toBe(0o555);
    expect(statSync(path.join(tree, 'go.mod')).mode & 0o777).toBe(0o444);
    expect(statSync(path.join(dest, 'example.com')).mode & 0o777).toBe(0o755);
    const zip = path.join(dest, 'cache', 'download', 'example.com', 'm000', '@v', 'v1.1.0.zip');
    expect(statSync(zip).mode & 0o777).toBe(0o644);
  });

  it('recordFromDisk gives the same record for the original and the extracted cache', async () => {
    // The same modules; a scan neither reads .info times nor drops anything.
    expect(modulesOf(await recordFromDisk(fx.modCache))).toEqual(modulesOf(zstdRecord));
    expect(await recordFromDisk(outDir('zstd'), { workers: 0 })).toEqual({
      modules: modulesOf(zstdRecord),
      other: [],
    });
  });

  it('recordFromDisk with `only` hashes just those versions, as the whole scan does', async () => {
    const whole = modulesOf(await recordFromDisk(fx.modCache));
    const ids = ['example.com/m000@v1.1.0', 'example.com/uni@v1.0.0'];
    const part = await recordFromDisk(fx.modCache, { only: new Set(ids) });
    expect(part.modules.map((m) => `${m.path}@${m.version}`).sort()).toEqual(ids);
    expect(modulesOf(part)).toEqual(whole.filter((m) => ids.includes(`${m.path}@${m.version}`)));
    expect(part.other).toEqual([]);
  });

  it('HashDir and HashZip alone agree with go.sum (deflated zip, non-ASCII names, nested paths)', async () => {
    for (const [p, v] of [
      ['example.com/uni', 'v1.0.0'],
      ['example.com/nest/inner', 'v1.4.0'],
      ['example.com/UpperCase/Mod', 'v1.2.3'],
    ] as const) {
      const want = fx.sums.get(sumId(p, v, false));
      const tree = path.join(fx.modCache, ...escapeModulePath(p).split('/')) + `@${v}`;
      expect(await hashDirOnDisk(tree, `${p}@${v}`)).toBe(want);
      const zip = path.join(
        fx.modCache,
        'cache',
        'download',
        ...escapeModulePath(p).split('/'),
        '@v',
        `${v}.zip`,
      );
      expect(hashZipBuffer(readFileSync(zip))).toBe(want);
    }
  });

  it.each(['gzip', 'none'] as const)('%s archives give the same record', async (c) => {
    const file = archive(fx.modCache, path.join(base, `cache.${c}.tar`), c);
    const res = await extractArchive(createReadStream(file), outDir(c), {
      workers: c === 'gzip' ? 0 : 2,
    });
    expect(res.compression).toBe(c);
    expect(res.record).toEqual(zstdRecord);
  });

  it('an entry of zips alone: each tree is written from its zip as Go wrote it, and hashed', async () => {
    // The download area alone: every module's zip, .ziphash, .mod and .info, no tree.
    const file = path.join(base, 'zips-only.tzst');
    sh(`tar --posix -cf - -C '${fx.modCache}' cache | zstd -q -T0 > '${file}'`);
    const dest = outDir('zips-only');
    const res = await extractArchive(createReadStream(file), dest);
    expect(mismatches(fx, res.record)).toEqual([]);
    expect(modulesOf(res.record)).toEqual(modulesOf(await recordFromDisk(fx.modCache)));
    // The trees are Go's, file for file, byte for byte and mode for mode (the
    // fixture's Go ran with -modcacherw, so its directories stayed writable:
    // without it Go makes them 0555, as the extraction does).
    const listing = (root: string, rel = ''): string[] =>
      readdirSync(path.join(root, rel), { withFileTypes: true }).flatMap((e) => {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) return [`${r}/`, ...listing(root, r)];
        const st = statSync(path.join(root, r));
        const sha = createHash('sha256')
          .update(readFileSync(path.join(root, r)))
          .digest('hex');
        return [`${r} ${(st.mode & 0o777).toString(8)} ${sha}`];
      });
    for (const { path: p, version: v } of fx.zipModules) {
      const tree = `${escapeModulePath(p)}@${escapeModulePath(v)}`;
      expect(listing(path.join(dest, tree)), tree).toEqual(listing(path.join(fx.modCache, tree)));
    }
    expect(statSync(path.join(dest, 'example.com', 'big@v1.0.0', 'testdata')).mode & 0o777).toBe(
      0o555,
    );
    expect(statSync(path.join(dest, 'example.com', 'big@v1.0.0')).mode & 0o777).toBe(0o555);
    expect(goModVerifyIn(fx, dest)).toMatch(/all modules verified/);
  });

  it.each([
    ['trees first', 'example.com cache'],
    ['zips first', 'cache example.com'],
  ])(
    'a changed tree file and a changed zip: the same verdict whichever comes first (%s)',
    async (label, order) => {
      const copy = path.join(base, `corrupt-src-${label.replace(' ', '-')}`);
      sh(`cp -a '${fx.modCache}' '${copy}'`);
      const treeFile = path.join(copy, 'example.com', 'm001@v1.1.0', 'm001.go');
      chmodSync(treeFile, 0o644);
      writeFileSync(treeFile, readFileSync(treeFile, 'utf8').replace('return', 'return 1 +'));
      const zipFile = path.join(
        copy,
        'cache',
        'download',
        'example.com',
        'm002',
        '@v',
        'v1.1.0.zip',
      );
      const z = readFileSync(zipFile);
      const at = z.indexOf('MIT');
      z[at] = 'W'.charCodeAt(0);
      writeFileSync(zipFile, z);
      // The same members, in the order asked for.
      const file = path.join(base, `corrupt-${label.replace(' ', '-')}.tzst`);
      sh(`tar --posix -cf - -C '${copy}' ${order} | zstd -q -T0 > '${file}'`);
      const res = await extractArchive(createReadStream(file), outDir(`corrupt-${label}`));
      const j = judge(factsFromRecord(res.record), fx.sums, { zipsExpected: false });
      const bad = (m: string) =>
        repairPlan(j)
          .filter((r) => r.path === m)
          .map((r) => r.how);
      expect(bad('example.com/m001')).toEqual(['re-extract']);
      expect(bad('example.com/m002')).toEqual(['download']);
      expect(
        repairPlan(j)
          .map((r) => r.path)
          .filter((p) => p.startsWith('example.com/m0')),
      ).toEqual(['example.com/m001', 'example.com/m002']);
      // Written first from its intact zip, m001's tree is removed once the
      // archive's changed copy of it shows the entry contradicts itself.
      const m001 = path.join(outDir(`corrupt-${label}`), 'example.com', 'm001@v1.1.0');
      expect(existsSync(m001)).toBe(label === 'trees first');
      if (label === 'trees first') {
        expect(modulesOf(await recordFromDisk(copy))).toEqual(modulesOf(res.record));
      }
    },
  );
});

describe('a tree held both as files and as its zip', () => {
  const tc = 'golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64';
  const zipName = 'cache/download/golang.org/toolchain/@v/v0.0.1-go1.99.0.linux-amd64.zip';
  const src = { '_go.mod': 'module std\n', 'src/_go.mod': 'module cmd\n', 'bin/go': '#!/bin/sh\n' };
  const zip = Buffer.from(
    zipSync(Object.fromEntries(Object.entries(src).map(([n, d]) => [`${tc}/${n}`, strToU8(d)]))),
  );
  const tree = (files: Record<string, string>): Member[] =>
    Object.entries(files).map(([n, d]) => ({ name: `${tc}/${n}`, data: d }));
  const extractZipFirst = async (files: Record<string, string>, name: string) => {
    const dest = path.join(base, 'both', name);
    const res = await extractArchive(
      Readable.from([tarOf([{ name: zipName, data: zip }, ...tree(files)])]),
      dest,
    );
    return { m: res.record.modules.find((x) => x.path === 'golang.org/toolchain')!, dest };
  };

  it('a used toolchain (Go copied its _go.mod files to go.mod) agrees with its zip', async () => {
    const used = { ...src, 'go.mod': 'module std\n', 'src/go.mod': 'module cmd\n' };
    const { m, dest } = await extractZipFirst(used, 'used');
    expect(m.treeError).toBeUndefined();
    expect(m.treeH1).toBe(m.zipH1);
    expect(existsSync(path.join(dest, tc, 'bin', 'go'))).toBe(true);
  });

  it('a changed file does not: the tree is removed and the record says why', async () => {
    const { m, dest } = await extractZipFirst(
      { ...src, 'bin/go': '#!/bin/sh\necho evil\n' },
      'changed',
    );
    expect(m.treeH1).toBeUndefined();
    expect(m.treeError).toMatch(/differ from its zip; the tree was removed/);
    expect(existsSync(path.join(dest, tc))).toBe(false);
  });
});

describe("a download path that names a tree inside another module's tree", () => {
  // A planted entry: the genuine zip of example.com/a, and a second zip whose
  // download path carries an '@', so that its tree would be
  // example.com/a@v1.0.0/static/x@v2.0.0, a directory inside a's tree.
  const a = 'example.com/a@v1.0.0';
  const genuine = Buffer.from(
    zipSync({
      [`${a}/go.mod`]: strToU8('module example.com/a\n'),
      [`${a}/a.go`]: strToU8('package a\n'),
    }),
  );
  const rogue = Buffer.from(zipSync({ [`${a}/static/x@v2.0.0/evil.js`]: strToU8('alert(1)\n') }));
  const genuineZip = { name: 'cache/download/example.com/a/@v/v1.0.0.zip', data: genuine };
  const rogueZip = {
    name: 'cache/download/example.com/a@v1.0.0/static/x/@v/v2.0.0.zip',
    data: rogue,
  };
  const treeMembers: Member[] = [
    { name: `${a}/go.mod`, data: 'module example.com/a\n' },
    { name: `${a}/a.go`, data: 'package a\n' },
  ];
  const filesUnder = (dir: string): string[] =>
    (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
      .filter((e) => e.isFile())
      .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
      .sort();

  it.each([
    ['the rogue zip first, a written from its zip', [rogueZip, genuineZip]],
    ['the genuine zip first', [genuineZip, rogueZip]],
    ['an entry of trees: a from its members', [...treeMembers, rogueZip]],
  ] as [string, Member[]][])(
    "%s: nothing enters a's tree and a is what its zip says",
    async (label, members) => {
      const dest = path.join(base, 'nested', label.replace(/\W+/g, '-'));
      const res = await extractArchive(Readable.from([tarOf(members)]), dest);
      expect(filesUnder(path.join(dest, a))).toEqual(['a.go', 'go.mod']);
      expect(existsSync(path.join(dest, a, 'static'))).toBe(false);
      // The rogue zip is no module: it is neither unpacked nor in the record.
      expect(res.record.modules.map((m) => `${m.path}@${m.version}`)).toEqual([a]);
      const m = res.record.modules[0]!;
      expect(m.treeFiles).toBe(2);
      expect(m.treeH1).toBe(await hashDirOnDisk(path.join(dest, a), a));
      if (label !== 'an entry of trees: a from its members') expect(m.treeH1).toBe(m.zipH1);
    },
  );
});

describe('recordFromDisk on a cache changed behind Go', () => {
  it('reports a symlink in a tree and lists (never reads) a fifo or symlink in the download area', async () => {
    const mc = path.join(base, 'odd-cache');
    const tree = path.join(mc, 'example.com', 'o@v1.0.0');
    const vdir = path.join(mc, 'cache', 'download', 'example.com', 'o', '@v');
    mkdirSync(tree, { recursive: true });
    mkdirSync(vdir, { recursive: true });
    writeFileSync(path.join(tree, 'go.mod'), 'module example.com/o\n');
    writeFileSync(path.join(base, 'elsewhere.go'), 'package evil\n');
    symlinkSync(path.join(base, 'elsewhere.go'), path.join(tree, 'o.go'));
    execFileSync('mkfifo', [path.join(vdir, 'v1.0.0.mod')]);
    symlinkSync(path.join(base, 'elsewhere.go'), path.join(vdir, 'v1.0.0.ziphash'));
    writeFileSync(path.join(vdir, 'v1.0.0.info'), '{}');
    const r = await recordFromDisk(mc);
    expect(r.modules).toHaveLength(1);
    const m = r.modules[0]!;
    expect(m.treeH1).toBeUndefined();
    expect(m.treeError).toMatch(/o\.go is a symbolic link/);
    expect(m.modH1).toBeUndefined();
    expect(m.ziphash).toBeUndefined();
    expect(m.info).toBe(true);
    expect(r.other).toEqual([
      'cache/download/example.com/o/@v/v1.0.0.mod',
      'cache/download/example.com/o/@v/v1.0.0.ziphash',
    ]);
  });
});

// ---------------------------------------------------------------------------
// Planted archives.

interface Member {
  name: string;
  type?: string; // tar typeflag
  data?: string | Buffer;
  link?: string;
  /** pax records for an 'x' header before this member. */
  pax?: Record<string, string>;
  /** GNU long name ('L') header before this member. */
  longName?: string;
}

function header(name: string, type: string, size: number, link = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write(link, 157);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

function block(data: Buffer): Buffer {
  const pad = (512 - (data.length % 512)) % 512;
  return Buffer.concat([data, Buffer.alloc(pad)]);
}

function tarOf(members: Member[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    if (m.pax) {
      let body = '';
      for (const [k, v] of Object.entries(m.pax)) {
        const rec = ` ${k}=${v}\n`;
        let len = rec.length + 1;
        while (String(len).length + rec.length !== len) len = String(len).length + rec.length;
        body += `${len}${rec}`;
      }
      parts.push(header('PaxHeaders/x', 'x', Buffer.byteLength(body)), block(Buffer.from(body)));
    }
    if (m.longName) {
      const body = Buffer.from(m.longName + '\0');
      parts.push(header('././@LongLink', 'L', body.length), block(body));
    }
    const data = Buffer.from(m.data ?? '');
    parts.push(header(m.name, m.type ?? '0', data.length, m.link), block(data));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function half(buf: Buffer): Buffer {
  return buf.subarray(0, buf.length >> 1);
}

function zstd(buf: Buffer): Buffer {
  return execFileSync('zstd', ['-q', '-c'], { input: buf, maxBuffer: 1 << 30 });
}

describe('extractArchive refuses planted archives and writes nothing outside dest', () => {
  const root = path.join(base, 'planted');
  const sentinel = path.join(root, 'sentinel');
  let n = 0;

  beforeAll(() => {
    mkdirSync(sentinel, { recursive: true });
    writeFileSync(path.join(sentinel, 'keep'), 'original');
  });

  const ok: Member[] = [
    { name: './', type: '5' },
    { name: './example.com/a@v1.0.0/', type: '5' },
    { name: './example.com/a@v1.0.0/a.go', data: 'package a\n' },
  ];
  const cases: [string, Member[], RegExp][] = [
    ['an absolute name', [{ name: `${sentinel}/abs`, data: 'x' }], /absolute/],
    ['a ../ name', [{ name: '../sentinel/rel', data: 'x' }], /\.\./],
    [
      'a pax path that escapes',
      [{ name: 'harmless', data: 'x', pax: { path: '../sentinel/pax' } }],
      /\.\./,
    ],
    [
      'a GNU long name that escapes',
      [{ name: 'harmless', data: 'x', longName: `../sentinel/${'l'.repeat(120)}` }],
      /\.\./,
    ],
    ['a symlink', [{ name: 'link', type: '2', link: sentinel }], /^symbolic link members/],
    [
      'a member under a symlinked dir',
      [
        { name: 'd', type: '2', link: sentinel },
        { name: 'd/x', data: 'x' },
      ],
      /^symbolic link members/,
    ],
    ['a hard link', [{ name: 'hl', type: '1', link: `${sentinel}/keep` }], /^hard link members/],
    ['a fifo', [{ name: 'fifo', type: '6' }], /^fifo members/],
    ['a character device', [{ name: 'null', type: '3' }], /^character device members/],
    ['a block device', [{ name: 'sda', type: '4' }], /^block device members/],
    [
      'an unknown type',
      [{ name: 'sparse', type: 'S', data: 'x' }],
      /^unknown-type members are not allowed/,
    ],
    [
      'a colon in a name (a drive or an NTFS stream on Windows)',
      [{ name: 'x/D:foo', data: 'x' }],
      /colon/,
    ],
    [
      'a zip whose version names a drive',
      [{ name: 'cache/download/example.com/m/@v/D:v1.0.0.zip', data: 'x' }],
      /colon/,
    ],
    [
      'a directory with data (which the parser would read as members)',
      [{ name: 'd/', type: '5', data: 'x'.repeat(600) }],
      /directory member with 600 bytes/,
    ],
    [
      'a duplicate file',
      [
        { name: 'example.com/dupe@v1.0.0/dup', data: 'a' },
        { name: 'example.com/dupe@v1.0.0/dup', data: 'b' },
      ],
      /twice/,
    ],
    [
      'a file where a directory is',
      [
        { name: 'example.com/dupe@v1.0.0/f', data: 'a' },
        { name: 'example.com/dupe@v1.0.0/f/g', data: 'b' },
      ],
      /both a file and a directory/,
    ],
  ];

  for (const compress of ['zstd', 'gzip'] as const) {
    it.each(cases)(`${compress}: %s`, async (_label, members, why) => {
      const dest = path.join(root, `dest${n++}`);
      const tar = tarOf([...ok, ...members]);
      const data = compress === 'zstd' ? zstd(tar) : gzipSync(tar);
      const before = readdirSync(root).sort();
      const err = await extractArchive(Readable.from([data]), dest).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArchiveRejected);
      expect((err as ArchiveRejected).why).toMatch(why);
      expect(readdirSync(sentinel)).toEqual(['keep']);
      expect(readFileSync(path.join(sentinel, 'keep'), 'utf8')).toBe('original');
      expect(readdirSync(root).sort()).toEqual([...before, path.basename(dest)].sort());
      for (const f of readdirSync(dest, { recursive: true }) as string[])
        expect(lstatSync(path.join(dest, f)).isSymbolicLink()).toBe(false);
    });
  }

  it('refuses what real GNU tar writes for a symlink, a hard link and a fifo', async () => {
    const src = path.join(root, 'gnu-src');
    mkdirSync(path.join(src, 'example.com', 'b@v1.0.0'), { recursive: true });
    writeFileSync(path.join(src, 'example.com', 'b@v1.0.0', 'b.go'), 'package b\n');
    for (const [kind, make] of [
      ['symbolic link', () => symlinkSync(sentinel, path.join(src, 'zz-link'))],
      [
        'hard link',
        () =>
          linkSync(path.join(src, 'example.com', 'b@v1.0.0', 'b.go'), path.join(src, 'zz-hard')),
      ],
      ['fifo', () => execFileSync('mkfifo', [path.join(src, 'zz-fifo')])],
    ] as const) {
      make();
      const file = path.join(root, `gnu-${kind.replace(' ', '-')}.tzst`);
      archive(src, file, 'zstd');
      const err = await extractArchive(
        createReadStream(file),
        path.join(root, `gnu-dest-${kind.replace(' ', '-')}`),
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArchiveRejected);
      expect((err as ArchiveRejected).why).toMatch(new RegExp(`^${kind} members`));
      rmSync(
        path.join(
          src,
          readdirSync(src).find((f) => f.startsWith('zz-'))!,
        ),
      );
      expect(readdirSync(sentinel)).toEqual(['keep']);
    }
  });

  it('refuses an archive of more members than its bound, naming the first one past it', async () => {
    const many = Array.from({ length: 30 }, (_, i) => ({
      name: `cache/download/example.com/m/@v/v1.0.${i}.info`,
      data: '{}',
    }));
    const err = await extractArchive(
      Readable.from([tarOf([...ok, ...many])]),
      path.join(root, `dest${n++}`),
      { maxMembers: ok.length + 10 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveRejected);
    expect((err as ArchiveRejected).why).toBe(
      `the archive holds more than ${ok.length + 10} members`,
    );
  });

  it('rejects a truncated or damaged archive and anything that is not a tar', async () => {
    const tar = tarOf([...ok, { name: 'example.com/a@v1.0.0/big', data: 'z'.repeat(100_000) }]);
    const cases: [Buffer, RegExp][] = [
      [tar.subarray(0, 20_000), /not a valid tar|Truncated/i],
      [half(zstd(tar)), /zstd/],
      [half(gzipSync(tar)), /gzip/],
      [Buffer.from('hello, this is not an archive'.repeat(40)), /not a valid tar/],
      [Buffer.alloc(0), /not a valid tar/],
    ];
    for (const [data, why] of cases) {
      const err = await extractArchive(Readable.from([data]), path.join(root, `dest${n++}`)).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ArchiveRejected);
      expect((err as ArchiveRejected).why).toMatch(why);
    }
  });

  it('passes an input stream failure through as is', async () => {
    const data = zstd(
      tarOf([...ok, { name: 'example.com/a@v1.0.0/big', data: 'q'.repeat(3 << 20) }]),
    );
    async function* failing() {
      yield data.subarray(0, 1000);
      await new Promise((r) => setTimeout(r, 10));
      throw new Error('connection reset by the cache service');
    }
    const err = await extractArchive(Readable.from(failing()), path.join(root, `dest${n++}`)).catch(
      (e: unknown) => e,
    );
    expect(err).not.toBeInstanceOf(ArchiveRejected);
    expect(String(err)).toMatch(/connection reset/);
  });

  it('fails, without waiting forever, when the archive stops in the middle of a large file', async () => {
    const tar = tarOf([
      ...ok,
      { name: 'example.com/a@v1.0.0/big.bin', data: randomBytes(17 << 20) },
    ]);
    const cut = (b: Buffer) => b.subarray(0, Math.floor(b.length * 0.6));
    for (const [label, data] of [
      ['tar', cut(tar)],
      ['gzip', cut(gzipSync(tar))],
      ['zstd', cut(zstd(tar))],
    ] as const) {
      const err = await extractArchive(Readable.from([data]), path.join(root, `dest${n++}`)).catch(
        (e: unknown) => e,
      );
      expect(err, label).toBeInstanceOf(Error);
    }
  }, 20_000);

  it('writes the last member of an archive without end-of-archive blocks, also when it waited for room', async () => {
    const zips: Member[] = Array.from({ length: 80 }, (_, i) => ({
      name: `cache/download/example.com/m${i}/@v/v1.0.0.zip`,
      data: randomBytes(200_000),
    }));
    const last = 'example.com/last@v1.0.0/small';
    const tar = tarOf([...ok, ...zips, { name: last, data: 'hello' }]);
    const dest = path.join(root, `dest${n++}`);
    const r = await extractArchive(Readable.from([tar.subarray(0, tar.length - 1024)]), dest, {
      workers: 1,
    });
    expect(r.record.modules.find((m) => m.path === 'example.com/last')?.treeFiles).toBe(1);
    expect(readFileSync(path.join(dest, ...last.split('/')), 'utf8')).toBe('hello');
  });

  it('passes a failure before the first bytes or in the middle of a gathered piece through as is', async () => {
    const data = zstd(
      tarOf([...ok, { name: 'example.com/a@v1.0.0/big', data: 'q'.repeat(3 << 20) }]),
    );
    // Before anything arrives, after 2 bytes (compression still unknown), and
    // after many small chunks that are still being gathered into one piece.
    const prefixes: Buffer[][] = [
      [],
      [data.subarray(0, 2)],
      Array.from({ length: 20 }, (_, i) => data.subarray(i * 1000, (i + 1) * 1000)),
    ];
    for (const chunks of prefixes) {
      async function* failing() {
        yield* chunks;
        throw new Error('the cache service closed the connection');
      }
      const err = await extractArchive(
        Readable.from(failing()),
        path.join(root, `dest${n++}`),
      ).catch((e: unknown) => e);
      expect(String(err), `after ${chunks.length} chunks`).toMatch(/closed the connection/);
    }
  });

  it('extracts the same files whether the input arrives in one piece or in tiny chunks', async () => {
    const tar = tarOf([
      ...ok,
      { name: 'example.com/a@v1.0.0/big', data: 'q'.repeat(3 << 20) },
      { name: 'example.com/a@v1.0.0/z.go', data: 'package a // z\n' },
    ]);
    const data = zstd(tar);
    const whole = await extractArchive(Readable.from([data]), path.join(root, `dest${n++}`));
    const tiny = Array.from({ length: Math.ceil(data.length / 777) }, (_, i) =>
      data.subarray(i * 777, (i + 1) * 777),
    );
    const chunked = await extractArchive(Readable.from(tiny), path.join(root, `dest${n++}`));
    expect(chunked.record).toEqual(whole.record);
    expect(chunked.files).toBe(3); // a.go, big, z.go
    expect(chunked.bytes).toBe(whole.bytes);
  });

  it('stops at the byte limit a caller sets (decompression bombs)', async () => {
    const data = zstd(
      tarOf([...ok, { name: 'example.com/a@v1.0.0/big', data: '0'.repeat(5 << 20) }]),
    );
    expect(data.length).toBeLessThan(5000);
    const err = await extractArchive(Readable.from([data]), path.join(root, `dest${n++}`), {
      maxBytes: 1 << 20,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveRejected);
    expect((err as ArchiveRejected).member).toBe('example.com/a@v1.0.0/big');
    expect((err as ArchiveRejected).why).toMatch(/1048576-byte limit/);
  });

  it('refuses to extract into a directory that is not empty', async () => {
    const dest = path.join(root, `dest${n++}`);
    mkdirSync(dest);
    writeFileSync(path.join(dest, 'x'), '');
    await expect(extractArchive(Readable.from([zstd(tarOf(ok))]), dest)).rejects.toThrow(
      /not empty/,
    );
  });

  it('extracts a clean hand-made archive', async () => {
    const dest = path.join(root, `dest${n++}`);
    const res = await extractArchive(Readable.from([zstd(tarOf(ok))]), dest);
    expect(res.files).toBe(1);
    expect(res.record.modules).toEqual([
      expect.objectContaining({ path: 'example.com/a', version: 'v1.0.0', treeFiles: 1 }),
    ]);
    expect(readFileSync(path.join(dest, 'example.com', 'a@v1.0.0', 'a.go'), 'utf8')).toBe(
      'package a\n',
    );
  });
});
