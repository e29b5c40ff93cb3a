import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveKeys, type KeyParts } from '../../src/cache/key.js';
import { deriveBuildKeys, flagsPart, type BuildSettings } from '../../src/buildcache/key.js';
import {
  buildCacheSavePolicy,
  defaultBranchFromEvent,
  type SaveFacts,
} from '../../src/buildcache/policy.js';
import {
  applyTrim,
  hasEntries,
  isUsed,
  mergeInto,
  parseActionEntry,
  planTrim,
  scanEntries,
  stampRestored,
  STAMP_AGE_MS,
  type EntryFile,
} from '../../src/buildcache/trim.js';
import {
  asBuildCacheState,
  buildCacheSummaryMarkdown,
  type BuildCacheReport,
} from '../../src/buildcache/buildcache.js';

const parts: KeyParts = {
  prefix: 'vgc-v1',
  os: 'linux',
  arch: 'x64',
  environment: 'ci',
  branch: 'main',
};
const go: BuildSettings = {
  goVersion: 'go1.26.8',
  goos: 'linux',
  goarch: 'amd64',
  cgoEnabled: '1',
  goflags: '',
};
const SUM = 'b'.repeat(40);

describe('build cache keys', () => {
  it('names the Go version, target, flags, branch and go.sum, under a prefix of its own', () => {
    const plan = deriveBuildKeys(parts, go, SUM);
    expect(plan.exact).toBe(
      `vgc-v1-build;linux-x64;env=ci;go=go1.26.8;target=linux-amd64-cgo1;flags=none;ref=main;sum=${SUM}`,
    );
    expect(plan.lineage).toEqual([
      'vgc-v1-build;linux-x64;env=ci;go=go1.26.8;target=linux-amd64-cgo1;flags=none;ref=main;',
      'vgc-v1-build;linux-x64;env=ci;go=go1.26.8;target=linux-amd64-cgo1;flags=none;',
    ]);
  });

  it('a go.sum change keeps the lineage, so the previous entry is restored', () => {
    const a = deriveBuildKeys(parts, go, SUM);
    const b = deriveBuildKeys(parts, go, 'c'.repeat(40));
    expect(b.exact).not.toBe(a.exact);
    expect(b.lineage).toEqual(a.lineage);
    expect(a.exact.startsWith(a.lineage[0]!)).toBe(true);
  });

  it('another Go version, target, cgo setting or GOFLAGS never shares a restore key', () => {
    const base = deriveBuildKeys(parts, go, SUM).lineage[1]!;
    for (const other of [
      { ...go, goVersion: 'go1.25.1' },
      { ...go, goarch: 'arm64' },
      { ...go, cgoEnabled: '0' },
      { ...go, goflags: '-race' },
      { ...go, goflags: '-tags=integration' },
    ]) {
      const o = deriveBuildKeys(parts, other, SUM);
      expect(o.exact.startsWith(base)).toBe(false);
      expect(base.startsWith(o.lineage[1]!)).toBe(false);
    }
  });

  it('GOFLAGS whitespace does not matter, the flags do', () => {
    expect(flagsPart('  -race   -trimpath ')).toBe(flagsPart('-race -trimpath'));
    expect(flagsPart('-race')).not.toBe(flagsPart('-trimpath'));
    expect(flagsPart('   ')).toBe('none');
  });

  it("the module cache's restore keys never match a build cache entry, nor the reverse", () => {
    const mod = deriveKeys(parts, SUM);
    const build = deriveBuildKeys(parts, go, SUM);
    for (const k of [mod.exact!, ...mod.lineage]) expect(build.exact.startsWith(k)).toBe(false);
    for (const k of [build.exact, ...build.lineage]) expect(mod.exact!.startsWith(k)).toBe(false);
  });

  it('rejects an empty Go version and a non-hex go.sum hash', () => {
    expect(() => deriveBuildKeys(parts, { ...go, goVersion: '' }, SUM)).toThrow(/GOVERSION/);
    expect(() => deriveBuildKeys(parts, go, 'not-hex')).toThrow(/hex/);
  });
});

const HOUR = 3600_000;
const T = Date.UTC(2026, 10, 22, 12);
const id = (n: number): string => n.toString(16).padStart(64, '0');
const a = (n: number, mtimeMs: number, out: number, createdMs = T - 48 * HOUR): EntryFile => ({
  rel: `00/${id(n)}-a`,
  kind: 'a',
  mtimeMs,
  bytes: 170,
  outputId: id(out),
  createdMs,
});
const d = (n: number, mtimeMs: number, bytes = 1000): EntryFile => ({
  rel: `00/${id(n)}-d`,
  kind: 'd',
  mtimeMs,
  bytes,
});

describe('trim decision', () => {
  const stamped = T - STAMP_AGE_MS;

  it('a restored file counts as used only once Go refreshed its mtime', () => {
    expect(isUsed(stamped, T)).toBe(false);
    expect(isUsed(T + 1000, T)).toBe(true);
    // Go refreshes only mtimes at least an hour old: the stamp must be older than that.
    expect(T + 1 - stamped).toBeGreaterThanOrEqual(HOUR);
    // ...and younger than Go's own trim limit (5 days + 1 hour), or Go would delete it first.
    expect(T - stamped).toBeLessThan(5 * 24 * HOUR + HOUR);
  });

  it('keeps what this job used or created, drops the rest, and counts new entries', () => {
    const files = [
      a(1, T + 10, 101), // used action
      d(101, T + 10), // its output, used
      a(2, stamped, 102), // unused action
      d(102, stamped, 5000), // its output, unused
      a(3, T + 20, 103, T + 20), // created in this job
      d(103, T + 20),
      a(4, T + 30, 104), // used action whose output Go did not touch
      d(104, stamped, 700),
      d(105, T + 40), // output used on its own
    ];
    const plan = planTrim(files, T);
    expect(plan.keep.map((f) => f.rel).sort()).toEqual(
      [files[0], files[1], files[4], files[5], files[6], files[7], files[8]]
        .map((f) => f!.rel)
        .sort(),
    );
    expect(plan.drop.map((f) => f.rel).sort()).toEqual([files[2]!.rel, files[3]!.rel].sort());
    expect(plan.droppedBytes).toBe(170 + 5000);
    expect(plan.created).toBe(1);
  });

  it('without a restore everything is new and kept', () => {
    const plan = planTrim([a(1, T, 101), d(101, T)], undefined);
    expect(plan.drop).toEqual([]);
    expect(plan.created).toBe(1);
  });

  it('ten generations: the saved set is what the last job used, not the union', () => {
    // Each generation restores the previous entry, uses 50 old outputs and compiles 10 new ones.
    let cache: EntryFile[] = [];
    let next = 1;
    for (let gen = 0; gen < 10; gen++) {
      const restoredAt = T + gen * 24 * HOUR;
      const stampedAt = restoredAt - STAMP_AGE_MS;
      cache = cache.map((f) => ({ ...f, mtimeMs: stampedAt }));
      const used = cache.filter((f) => f.kind === 'a').slice(0, 50);
      for (const f of used) {
        f.mtimeMs = restoredAt + 1;
        cache.find((x) => x.rel === `00/${f.outputId}-d`)!.mtimeMs = restoredAt + 1;
      }
      for (let i = 0; i < 10; i++, next++) {
        cache.push(
          a(next, restoredAt + 2, 100000 + next, restoredAt + 2),
          d(100000 + next, restoredAt + 2),
        );
      }
      cache = planTrim(cache, restoredAt).keep;
      expect(cache.filter((f) => f.kind === 'a').length).toBeLessThanOrEqual(60);
    }
    expect(cache.length).toBe(2 * 60);
  });

  it('parses an action entry as Go writes it', () => {
    const ns = BigInt(T) * 1_000_000n;
    const line = `v1 ${id(7)} ${id(8)} ${'1234'.padStart(20)} ${ns.toString().padStart(20)}\n`;
    expect(parseActionEntry(line)).toEqual({ outputId: id(8), createdMs: T });
    expect(parseActionEntry('v1 garbage\n')).toBeUndefined();
  });
});

describe('trim on disk', () => {
  const dirs: string[] = [];
  const tmp = (): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vgc-bc-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const writeEntry = (root: string, n: number, out: number, createdMs: number): void => {
    mkdirSync(path.join(root, '00'), { recursive: true });
    const ns = (BigInt(createdMs) * 1_000_000n).toString();
    writeFileSync(
      path.join(root, '00', `${id(n)}-a`),
      `v1 ${id(n)} ${id(out)} ${'3'.padStart(20)} ${ns.padStart(20)}\n`,
    );
    writeFileSync(path.join(root, '00', `${id(out)}-d`), 'abc');
  };

  it('stamps, merges without overwriting, and trims what was not touched', async () => {
    const restored = tmp();
    const gocache = path.join(tmp(), 'go-build');
    writeEntry(restored, 1, 101, Date.now() - 48 * HOUR);
    writeEntry(restored, 2, 102, Date.now() - 48 * HOUR);
    writeFileSync(path.join(restored, 'trim.txt'), String(Math.floor(Date.now() / 1000)));
    writeFileSync(path.join(restored, 'README'), 'x');
    // Go opened GOCACHE meanwhile: empty subdirectories and its own README.
    mkdirSync(path.join(gocache, '00'), { recursive: true });
    mkdirSync(path.join(gocache, 'ff'), { recursive: true });
    writeFileSync(path.join(gocache, 'README'), 'go');
    expect(await hasEntries(gocache)).toBe(false);

    const restoredAt = Date.now();
    expect(await stampRestored(restored, restoredAt)).toBe(4);
    expect(await mergeInto(restored, gocache)).toBe(4);
    expect(await hasEntries(gocache)).toBe(true);
    expect(existsSync(path.join(gocache, 'trim.txt'))).toBe(false);
    const aFile = path.join(gocache, '00', `${id(1)}-a`);
    expect(statSync(aFile).mtimeMs).toBeLessThan(restoredAt - HOUR);

    // The job uses entry 1 (Go refreshes its mtime) and creates entry 3.
    const now = new Date();
    utimesSync(aFile, now, now);
    writeEntry(gocache, 3, 103, Date.now());
    writeFileSync(path.join(gocache, 'trim.txt'), '1');

    const plan = planTrim(await scanEntries(gocache, restoredAt), restoredAt);
    await applyTrim(gocache, plan);
    const left = readdirSync(path.join(gocache, '00')).sort();
    expect(left).toEqual([`${id(1)}-a`, `${id(101)}-d`, `${id(103)}-d`, `${id(3)}-a`].sort());
    expect(plan.created).toBe(1);
    expect(existsSync(path.join(gocache, 'trim.txt'))).toBe(false);
    expect(readdirSync(gocache)).toContain('README');
  });
});

describe('save policy', () => {
  const facts = (o: Partial<SaveFacts>): SaveFacts => ({
    mode: 'default-branch',
    eventName: 'push',
    ref: 'refs/heads/main',
    baseRef: '',
    defaultBranch: 'main',
    ...o,
  });

  it('by default saves only pushes to the default branch', () => {
    expect(buildCacheSavePolicy(facts({})).save).toBe(true);
    expect(buildCacheSavePolicy(facts({ ref: 'refs/heads/feature' }))).toMatchObject({
      save: false,
      why: expect.stringContaining('default branch (main)'),
    });
    expect(buildCacheSavePolicy(facts({ eventName: 'schedule' })).save).toBe(false);
    expect(buildCacheSavePolicy(facts({ defaultBranch: undefined })).why).toMatch(/unknown/);
    expect(buildCacheSavePolicy(facts({ ref: 'refs/tags/main' })).save).toBe(false);
  });

  it('never saves from a pull request, even with always', () => {
    for (const eventName of ['pull_request', 'pull_request_target']) {
      for (const mode of ['default-branch', 'always'] as const) {
        const p = buildCacheSavePolicy(
          facts({ mode, eventName, ref: 'refs/pull/1/merge', baseRef: 'main' }),
        );
        expect(p.save).toBe(false);
        expect(p.why).toMatch(/never saves/);
      }
    }
  });

  it('always saves from any other branch or event; never saves nothing', () => {
    expect(buildCacheSavePolicy(facts({ mode: 'always', ref: 'refs/heads/x' })).save).toBe(true);
    expect(buildCacheSavePolicy(facts({ mode: 'always', eventName: 'schedule' })).save).toBe(true);
    expect(buildCacheSavePolicy(facts({ mode: 'never' })).save).toBe(false);
  });

  it('reads the default branch from the event payload', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vgc-ev-'));
    try {
      const p = path.join(dir, 'event.json');
      writeFileSync(p, JSON.stringify({ repository: { default_branch: 'trunk' } }));
      expect(defaultBranchFromEvent(p)).toBe('trunk');
      writeFileSync(p, '{not json');
      expect(defaultBranchFromEvent(p)).toBeUndefined();
      expect(defaultBranchFromEvent(undefined)).toBeUndefined();
      expect(defaultBranchFromEvent(path.join(dir, 'missing.json'))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('summary', () => {
  it('says a restored build cache is not verifiable, with sizes, trim counts and times', () => {
    const r: BuildCacheReport = {
      state: {
        enabled: true,
        outcome: 'restored',
        gocache: '/h/.cache/go-build',
        exactKey: 'k',
        matchedKey: 'k;gen=1.1',
        hitKind: 'exact',
        restoredBytes: 3 * 1024 * 1024,
        ms: 1500,
      },
      saved: '`k;gen=2.1`',
      savedBytes: 2 * 1024 * 1024,
      keptEntries: 10,
      trimmedEntries: 4,
      trimmedBytes: 2048,
      createdEntries: 2,
      ms: 900,
    };
    const md = buildCacheSummaryMarkdown(r);
    expect(md).toContain('build cache: restored, not verifiable');
    expect(md).toContain('| Build cache restored | 3.0 MiB |');
    expect(md).toContain('| Build cache saved archive | 2.0 MiB |');
    expect(md).toContain('| Build cache entries trimmed | 4 (2.0 KiB); kept 10, 2 new |');
    expect(md).toContain('| Time: build cache restore | 1.5 s |');
    expect(buildCacheSummaryMarkdown({ ...r, state: { ...r.state, enabled: false } })).toBe('');
  });
});

describe('state from main', () => {
  it('accepts what main wrote and refuses anything else', () => {
    const st = {
      enabled: true,
      outcome: 'restored',
      gocache: '/g',
      exactKey: 'k',
      matchedKey: 'k;gen=1',
      hitKind: 'exact',
      restoredAtMs: 5,
      ms: 1,
    };
    expect(asBuildCacheState(JSON.parse(JSON.stringify(st)))).toEqual(st);
    expect(asBuildCacheState(undefined)).toBeUndefined();
    expect(asBuildCacheState({ ...st, restoredAtMs: '5' })).toBeUndefined();
    expect(asBuildCacheState({ enabled: 'yes' })).toBeUndefined();
  });
});
