/**
 * The closed layout's rules, the `.info` rewrite, and the promotion plan from
 * a judgement: what of a quarantined entry may enter the module cache.
 */
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { closedLayoutKeeps, filePlaceOf, infoTimeOf, trustedInfo } from '../../src/go/layout.js';
import {
  promote,
  promotedFacts,
  promotionPlan,
  quarantineFor,
  removeQuarantine,
  QUARANTINE_FOLDER,
} from '../../src/restore/quarantine.js';
import { judge, type ModuleFacts } from '../../src/verify/judge.js';
import { RecordBuilder } from '../../src/verify/record.js';

const keeps = (rel: string, size = 10) => closedLayoutKeeps(filePlaceOf(rel), size);

describe('the closed layout', () => {
  it("writes a module version's tree files and its four download files", () => {
    expect(keeps('example.com/m@v1.0.0/m.go')).toBe(true);
    expect(keeps('example.com/m@v1.0.0/inner/x.go')).toBe(true);
    for (const ext of ['zip', 'ziphash', 'mod', 'info'])
      expect(keeps(`cache/download/example.com/m/@v/v1.0.0.${ext}`), ext).toBe(true);
    expect(keeps('golang.org/toolchain@v0.0.1-go1.22.0.linux-amd64/bin/go')).toBe(true);
  });

  it('drops everything else Go keeps in a module cache, and anything else at all', () => {
    for (const rel of [
      'cache/vcs/05cf8d9f890094d50bb8d374c86595cca188c8f2ece41a8a5b6109b550634828/config',
      'cache/vcs/05cf8d9f890094d50bb8d374c86595cca188c8f2ece41a8a5b6109b550634828.info',
      'cache/download/sumdb/sum.golang.org/lookup/example.com/m@v1.0.0',
      'cache/download/example.com/m/@v/list',
      'cache/download/example.com/m/@v/v1.0.0.lock',
      'cache/download/example.com/m/@v/v1.0.0.partial',
      'cache/lock',
      'README',
      'example.com/m@v1.0.0',
      'example.com/stray.go',
      'cache/download/Example.com/m/@v/v1.0.0.zip',
      'example.com/M@v1.0.0/m.go',
      'example.com/m@not-a-version/m.go',
    ])
      expect(keeps(rel), rel).toBe(false);
  });

  it('drops a .ziphash or .info of hostile size', () => {
    expect(keeps('cache/download/example.com/m/@v/v1.0.0.ziphash', 47)).toBe(true);
    expect(keeps('cache/download/example.com/m/@v/v1.0.0.ziphash', 4 << 20)).toBe(false);
    expect(keeps('cache/download/example.com/m/@v/v1.0.0.info', 600)).toBe(true);
    expect(keeps('cache/download/example.com/m/@v/v1.0.0.info', 4 << 20)).toBe(false);
    expect(keeps('cache/download/example.com/m/@v/v1.0.0.mod', 1 << 30)).toBe(false);
  });
});

describe('the .info a restore writes', () => {
  it('keeps the time of a valid .info and nothing else', () => {
    const planted = JSON.stringify({
      Version: 'v9.9.9',
      Time: '2024-05-01T10:00:00Z',
      Origin: { VCS: 'git', URL: 'https://evil.example/x', Hash: 'deadbeef' },
      Extra: 1,
    });
    const t = infoTimeOf(Buffer.from(planted));
    expect(t).toBe('2024-05-01T10:00:00Z');
    expect(JSON.parse(trustedInfo('v1.0.0', t))).toEqual({
      Version: 'v1.0.0',
      Time: '2024-05-01T10:00:00Z',
    });
  });

  it('drops a time that is not RFC 3339, and a file that is not a JSON object', () => {
    for (const bad of [
      '{"Time":"yesterday"}',
      '{"Time":"2024-13-01T00:00:00Z"}',
      '{"Time":"2024-05-01 10:00:00"}',
      '{"Time":12}',
      '["2024-05-01T10:00:00Z"]',
      'not json',
      '',
    ])
      expect(infoTimeOf(bad), bad).toBeUndefined();
    expect(infoTimeOf('{"Time":"2024-05-01T10:00:00.123456789+02:00"}')).toBe(
      '2024-05-01T10:00:00.123456789+02:00',
    );
    expect(trustedInfo('v1.0.0', undefined)).toBe('{"Version":"v1.0.0"}');
  });
});

const H = (c: string) => `h1:${c.repeat(43)}=`;
const TC = 'golang.org/toolchain';
const TCV = 'v0.0.1-go1.99.0.linux-amd64';

describe('the promotion plan', () => {
  const sums = new Map([
    ['example.com/good@v1.0.0', H('a')],
    ['example.com/good@v1.0.0/go.mod', H('A')],
    ['example.com/badtree@v1.0.0', H('b')],
    ['example.com/badtree@v1.0.0/go.mod', H('B')],
    ['example.com/badzip@v1.0.0', H('c')],
    ['example.com/badzip@v1.0.0/go.mod', H('C')],
    ['example.com/graph@v1.0.0/go.mod', H('D')],
  ]);
  const facts: ModuleFacts[] = [
    {
      path: 'example.com/good',
      version: 'v1.0.0',
      treeH1: H('a'),
      zipH1: H('a'),
      ziphash: H('a'),
      modH1: H('A'),
      info: true,
      infoTime: '2024-01-01T00:00:00Z',
    },
    // Its zip matches go.sum, its tree does not: only the zip goes in, to be re-extracted.
    {
      path: 'example.com/badtree',
      version: 'v1.0.0',
      treeH1: H('x'),
      zipH1: H('b'),
      ziphash: H('b'),
      modH1: H('x'),
      info: true,
    },
    { path: 'example.com/badzip', version: 'v1.0.0', zipH1: H('y'), ziphash: H('y'), info: true },
    { path: 'example.com/graph', version: 'v1.0.0', modH1: H('D'), info: true },
    // Not named by go.sum (a stale version): nothing of it.
    {
      path: 'example.com/stale',
      version: 'v0.9.0',
      treeH1: H('s'),
      ziphash: H('s'),
      modH1: H('S'),
      info: true,
    },
    { path: TC, version: TCV, treeH1: H('t'), zipH1: H('t'), ziphash: H('t'), modH1: H('T') },
    { path: TC, version: 'v0.0.1-go1.98.0.linux-amd64', treeH1: H('u'), ziphash: H('u') },
  ];
  const j = judge(facts, sums, { zipsExpected: false });
  const plan = promotionPlan(facts, j, sums, new Set([`${TC}@${TCV}`]));
  const of = (p: string) => plan.find((x) => x.path === p);

  it('moves a verified version whole, with a rewritten .info', () => {
    expect(of('example.com/good')).toEqual({
      path: 'example.com/good',
      version: 'v1.0.0',
      tree: true,
      zip: true,
      ziphash: true,
      mod: true,
      info: '{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}',
    });
  });

  it('moves only the proven zip of a bad version, never its tree, .ziphash or unmatched .mod', () => {
    expect(of('example.com/badtree')).toMatchObject({
      tree: false,
      zip: true,
      ziphash: false,
      mod: false,
    });
    expect(of('example.com/badzip')).toBeUndefined();
  });

  it('moves a go.mod go.sum names alone, and nothing of versions go.sum does not name', () => {
    expect(of('example.com/graph')).toMatchObject({ tree: false, zip: false, mod: true });
    expect(of('example.com/stale')).toBeUndefined();
  });

  it('moves a toolchain only once checkToolchains proved it', () => {
    expect(plan.filter((p) => p.path === TC).map((p) => p.version)).toEqual([TCV]);
    expect(of(TC)).toMatchObject({ tree: true, zip: true, ziphash: true, mod: true });
    expect(of(TC)?.info).toBeUndefined();
  });

  it('the promoted facts judge as the verdict said: the bad versions are missing, not verified', () => {
    const after = judge(promotedFacts(facts, plan), sums, { zipsExpected: false });
    expect(after.verified).toEqual(['example.com/good@v1.0.0']);
    expect(after.bad).toEqual([]);
    expect(after.missing.sort()).toEqual([
      'example.com/badtree@v1.0.0',
      'example.com/badzip@v1.0.0',
    ]);
    expect(after.verifiedModOnly).toContain('example.com/graph@v1.0.0');
    expect(after.unnamed.map((m) => m.version)).toEqual([TCV]);
  });
});

describe('promote', () => {
  it('renames the planned files into the module cache, writes the .info, removes the quarantine', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'vgc-promote-'));
    const modCache = path.join(root, 'go', 'pkg', 'mod');
    const q = quarantineFor(modCache, { GITHUB_RUN_ID: '7' });
    expect(path.dirname(path.dirname(q))).toBe(path.join(root, 'go', 'pkg'));
    expect(path.basename(path.dirname(q))).toBe(QUARANTINE_FOLDER);
    const tree = path.join(q, 'example.com', 'good@v1.0.0');
    const dl = path.join(q, 'cache', 'download', 'example.com', 'good', '@v');
    mkdirSync(tree, { recursive: true });
    mkdirSync(dl, { recursive: true });
    writeFileSync(path.join(tree, 'good.go'), 'package good\n', { mode: 0o444 });
    for (const ext of ['zip', 'ziphash', 'mod']) writeFileSync(path.join(dl, `v1.0.0.${ext}`), ext);
    writeFileSync(path.join(dl, 'v1.0.0.info'), '{"Version":"v1.0.0","Origin":{"URL":"x"}}');
    mkdirSync(path.join(q, 'cache', 'vcs', 'abc'), { recursive: true });
    writeFileSync(path.join(q, 'cache', 'vcs', 'abc', 'config'), 'planted');
    chmodSync(tree, 0o555);

    const r = await promote(q, modCache, [
      {
        path: 'example.com/good',
        version: 'v1.0.0',
        tree: true,
        zip: true,
        ziphash: false,
        mod: true,
        info: trustedInfo('v1.0.0', undefined),
      },
    ]);
    expect(r).toEqual({ versions: 1, files: 4, copied: false });
    const mdl = path.join(modCache, 'cache', 'download', 'example.com', 'good', '@v');
    expect(readdirSync(mdl).sort()).toEqual(['v1.0.0.info', 'v1.0.0.mod', 'v1.0.0.zip']);
    expect(readFileSync(path.join(mdl, 'v1.0.0.info'), 'utf8')).toBe('{"Version":"v1.0.0"}');
    const moved = path.join(modCache, 'example.com', 'good@v1.0.0');
    expect(readFileSync(path.join(moved, 'good.go'), 'utf8')).toBe('package good\n');
    expect(statSync(moved).mode & 0o777).toBe(0o555);
    expect(readdirSync(path.join(modCache, 'cache')).sort()).toEqual(['download']);
    // The quarantine and its folder are gone.
    expect(readdirSync(path.join(root, 'go', 'pkg'))).toEqual(['mod']);
  });

  it('removes only directories inside the quarantine folder', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'vgc-promote-'));
    writeFileSync(path.join(root, 'keep'), 'x');
    await removeQuarantine(root);
    expect(readdirSync(root)).toEqual(['keep']);
  });
});

describe("the record's dropped names", () => {
  it('names the areas Go keeps once, before single files, and counts every file', () => {
    const rb = new RecordBuilder();
    for (let i = 0; i < 20; i++) rb.drop(`cache/download/example.com/m${i}/@v/v1.0.0.lock`);
    rb.drop('cache/download/example.com/m3/@v/v1.0.0.partial');
    for (let i = 0; i < 5; i++) rb.drop(`cache/vcs/abc/objects/${i}`);
    rb.drop('cache/download/example.com/m3/@v/list');
    rb.drop('README');
    expect(rb.build().dropped).toEqual({
      count: 28,
      names: [
        'cache/download/**/*.lock',
        'cache/vcs/',
        'cache/download/**/@v/list',
        'cache/download/example.com/m3/@v/v1.0.0.partial',
        'README',
      ],
    });
    expect(new RecordBuilder().build().dropped).toBeUndefined();
  });
});
