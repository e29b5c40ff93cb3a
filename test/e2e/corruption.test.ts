/**
 * A corrupt entry in the cache service: each kind is caught, reported by
 * module, repaired alone, and the repaired entry is what the next job gets;
 * in entries of the old format (the module cache as it lies: trees and zips)
 * and of the format the action now saves (each module as its zip alone).
 * `go mod verify` stays as an independent cross-check of the verifier that
 * replaced it on the warm path, on the cache as it lies on disk and as the
 * restore writes it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placeOf } from '../../src/go/layout.js';
import { extractArchive } from '../../src/restore/extract.js';
import type { ExtractRecord } from '../../src/verify/record.js';
import { recordFromDisk } from '../../src/verify/scan.js';
import { escapeModulePath } from '../../src/go/gosum.js';
import { factsFromRecord } from '../../src/verify/facts.js';
import { judge } from '../../src/verify/judge.js';
import { loadSums } from '../../src/verify/verify.js';
import { CORRUPTIONS, ZIP_ONLY_CORRUPTIONS, corrupt, type Corruption } from './harness/corrupt.js';
import {
  ENTRY_FORMATS,
  entryArchive,
  plantEntry,
  type EntryFormat,
} from './harness/plant-entry.js';
import { World } from './harness/world.js';

let world: World;
/** A finished cold job of environment "seed": its runner holds a good module cache. */
let seedHome: string;
let seedKey: string;

beforeAll(async () => {
  world = await World.create({ modules: 8 });
  const seed = await world.job({ inputs: { environment: 'seed' } });
  expect(seed.succeeded, seed.log).toBe(true);
  seedHome = seed.home;
  seedKey = seed.outputs['cache-key']!;
});

afterAll(async () => {
  await world?.dispose();
});

const VICTIM = { path: 'example.com/m003', version: 'v1.0.0' };
const VICTIM_ID = `${VICTIM.path}@${VICTIM.version}`;

/** The key of `environment`'s exact key, as the newest (planted) generation. */
function plantedKey(environment: string): string {
  return seedKey.replace(';env=seed;', `;env=${environment};`) + ';gen=planted';
}

/**
 * A copy of the seed's runner with `kind` applied to the victim (nothing when
 * `kind` is null), and the project beside it.
 */
function corruptedRunner(kind: Corruption | null): {
  home: string;
  modCache: string;
  project: string;
  runner: string;
} {
  const runner = world.cloneRunner(seedHome);
  const home = path.join(runner, 'home');
  const modCache = world.modCache(home);
  if (kind !== null) corrupt(modCache, VICTIM.path, VICTIM.version, kind);
  const project = path.join(runner, 'project');
  execFileSync('cp', ['-R', world.project, project]);
  return { home, modCache, project, runner };
}

/** Plants a corrupt entry in `format` as the newest generation of `environment`'s exact key. */
async function plantCorrupt(
  kind: Corruption,
  environment: string,
  format: EntryFormat = 'trees-and-zips',
): Promise<string> {
  const { modCache } = corruptedRunner(kind);
  const key = plantedKey(environment);
  await plantEntry(world, modCache, key, format);
  return key;
}

/** Kinds whose zip still matches go.sum: Go rebuilds the tree from it, offline. */
const OFFLINE: Corruption[] = [
  'modified-file',
  'extra-file',
  'deleted-file',
  'missing-ziphash',
  'leftover-partial',
];

interface Case {
  kind: Corruption;
  format: EntryFormat;
}

/**
 * Every kind in an entry of the old format, and every kind that can exist in
 * the format the action now saves. A tree corruption (TREE_CORRUPTIONS)
 * cannot: a zips-only entry holds no tree, the restore writes it from the zip.
 */
const CASES: Case[] = [
  ...CORRUPTIONS.map((kind): Case => ({ kind, format: 'trees-and-zips' })),
  ...ZIP_ONLY_CORRUPTIONS.map((kind): Case => ({ kind, format: 'zips-only' })),
];

/**
 * Kinds the closed layout never writes: Go's `.partial` marks an interrupted
 * extraction of a tree, and a restore hashes every tree from its bytes, so a
 * `.partial` in an entry is dropped and the module judged on its hashes alone.
 * On disk (a self-hosted runner's cache) it still means what Go means.
 */
const DROPPED_AT_RESTORE: Corruption[] = ['leftover-partial'];

/** What the record computed at restore names for a kind: the victim, or nothing when the kind was dropped. */
const atRestore = (kind: Corruption): string[] =>
  DROPPED_AT_RESTORE.includes(kind) ? [] : [VICTIM_ID];

describe('a zips-only plant is in the format the action saves', () => {
  it('holds every module as its zip and no tree, like the entry the seed job saved', async () => {
    const { modCache } = corruptedRunner(null);
    const key = plantedKey('format-check');
    await plantEntry(world, modCache, key, 'zips-only');
    const trees = (k: string) =>
      world
        .entryListing(k)
        .map((n) => placeOf(n.replace(/^\.\//, '').replace(/\/$/, '')))
        .filter((p) => p.kind === 'tree');
    const saved = world.entriesOf('seed');
    expect(saved).toHaveLength(1);
    expect(trees(saved[0]!)).toEqual([]);
    expect(trees(key)).toEqual([]);
    expect(world.entryModules(key)).toContain(VICTIM_ID);
    expect(world.entryModules(key)).toEqual(world.entryModules(saved[0]!));
  });
});

describe.each(CASES.filter((c) => !DROPPED_AT_RESTORE.includes(c.kind)))(
  '$kind in an entry of format $format',
  ({ kind, format }) => {
    it('is caught, reported, repaired alone (not the whole cache), and the repaired entry is restored next', async () => {
      const env = `heal-${kind}-${format}`;
      const planted = await plantCorrupt(kind, env, format);

      // The only module the healing job can fetch is the victim (none at all when
      // its zip is intact): a repair that touched anything else would fail.
      const proxy = OFFLINE.includes(kind) ? 'off' : world.proxySubset(env, [VICTIM]);
      const healing = await world.job({ inputs: { environment: env }, env: { GOPROXY: proxy } });
      expect(healing.succeeded, healing.log).toBe(true);
      expect(healing.main.exitCode).toBe(0);
      expect(healing.outputs['cache-matched-key']).toBe(planted);
      expect(healing.outputs['hit-kind']).toBe('exact');
      expect(healing.outputs['rebuilt']).toBe('true');
      expect(healing.outputs['verified']).toBe('true');
      expect(healing.outputs['corrupt-modules']).toBe(VICTIM_ID);
      const warnings = healing.annotations
        .filter((a) => a.level === 'warning')
        .map((a) => a.message);
      expect(warnings.some((w) => w.includes(VICTIM_ID))).toBe(true);
      expect(healing.summary).toContain(`\`${VICTIM_ID}\``);
      expect(healing.summary).toContain(
        `| Repaired ${VICTIM_ID} | ${
          OFFLINE.includes(kind) ? 'tree rebuilt offline from its zip' : 'fetched again ('
        }`,
      );
      // The victim's files are where Go looks for them after the step.
      const tree = path.join(
        world.modCache(healing.home),
        `${escapeModulePath(VICTIM.path)}@${VICTIM.version}`,
      );
      expect(readdirSync(tree).some((f) => f.endsWith('.go'))).toBe(true);
      const saved = world.server.keys().filter((k) => k.includes(`;env=${env};`) && k !== planted);
      expect(saved).toHaveLength(1);
      expect(world.entryModules(saved[0]!)).toContain(VICTIM_ID);

      // The next job restores the rebuilt generation, not the planted one, and needs no network.
      const next = await world.job({ inputs: { environment: env }, env: { GOPROXY: 'off' } });
      expect(next.succeeded, next.log).toBe(true);
      expect(next.outputs['cache-matched-key']).toBe(saved[0]);
      expect(next.outputs['rebuilt']).toBe('false');
      expect(next.outputs['verified']).toBe('true');
      expect(next.outputs['corrupt-modules']).toBe('');
    });
  },
);

describe.each(ENTRY_FORMATS)('a leftover .partial in an entry of format %s', (format) => {
  it('is dropped, never written; the module is verified on its hashes and nothing is repaired', async () => {
    const env = `partial-${format}`;
    const planted = await plantCorrupt('leftover-partial', env, format);
    const job = await world.job({ inputs: { environment: env }, env: { GOPROXY: 'off' } });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['cache-matched-key']).toBe(planted);
    expect(job.outputs['hit-kind']).toBe('exact');
    expect(job.outputs['verified']).toBe('true');
    expect(job.outputs['rebuilt']).toBe('false');
    expect(job.outputs['corrupt-modules']).toBe('');
    const dl = path.join(
      world.modCache(job.home),
      'cache',
      'download',
      ...escapeModulePath(VICTIM.path).split('/'),
      '@v',
    );
    expect(readdirSync(dl).sort()).not.toContain(`${VICTIM.version}.partial`);
    expect(readdirSync(dl)).toContain(`${VICTIM.version}.ziphash`);
    expect(job.summary).toContain(
      `cache/download/${escapeModulePath(VICTIM.path)}/@v/${VICTIM.version}.partial`,
    );
  });
});

describe('on-corruption: fail', () => {
  it('fails the job, names the module, and saves nothing', async () => {
    const env = 'fail-modified';
    await plantCorrupt('modified-file', env);
    const before = world.server.keys().length;
    const job = await world.job({ inputs: { environment: env, 'on-corruption': 'fail' } });
    expect(job.succeeded).toBe(false);
    expect(job.main.exitCode).toBe(1);
    expect(job.outputs['verified']).toBe('false');
    expect(job.outputs['corrupt-modules']).toBe(VICTIM_ID);
    const errors = job.annotations.filter((a) => a.level === 'error').map((a) => a.message);
    expect(errors.join('\n')).toContain("on-corruption is 'fail'");
    expect(errors.join('\n')).toContain(VICTIM_ID);
    expect(world.server.keys().length).toBe(before);
    expect(job.post.stdout).toContain('Not saving');
  });
});

// ---------------------------------------------------------------------------
// The cross-check.

/** `go mod verify` on the module cache of `home`, for the project of the world: its verdict and output. */
function goModVerify(home: string, project: string): { ok: boolean; output: string } {
  const r = spawnSync('go', ['mod', 'verify'], {
    cwd: project,
    env: { ...process.env, ...world.jobEnv(home, 'main'), GOFLAGS: '-mod=mod', GOPROXY: 'off' },
    encoding: 'utf8',
  });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** Our verdict on a record: the module versions that disagree with go.sum or are incomplete. */
async function ourVerdict(
  record: ExtractRecord,
  project: string,
  o: { zipsExpected: boolean },
): Promise<string[]> {
  const j = judge(factsFromRecord(record), await loadSums([path.join(project, 'go.sum')]), o);
  return [...new Set([...j.bad.map((b) => b.module), ...j.missing, ...j.missingMods])].sort();
}

/**
 * What `go mod verify` must say of each kind: fail, naming the victim alone
 * with this text, or pass where it cannot see the kind (it compares the cache
 * with the cache's own `.ziphash`, never with go.sum). The same holds for the
 * cache as the old entry lies on disk and as the restore writes a zips-only
 * entry (the tree from the zip).
 */
const GO_MOD_VERIFY: Record<Corruption, { fails: string } | { passes: string }> = {
  'modified-file': { fails: `${VICTIM.path} ${VICTIM.version}: dir has been modified` },
  'extra-file': { fails: `${VICTIM.path} ${VICTIM.version}: dir has been modified` },
  'deleted-file': { fails: `${VICTIM.path} ${VICTIM.version}: dir has been modified` },
  'truncated-zip': { fails: `${VICTIM.path} ${VICTIM.version}: zip: not a valid zip file` },
  'missing-ziphash': { fails: `${VICTIM.path} ${VICTIM.version}: missing ziphash` },
  'leftover-partial': {
    passes: 'tree and zip still hash to the .ziphash; the marker is no concern of go mod verify',
  },
  'consistent-replacement': {
    passes: 'zip, .ziphash and tree agree with each other; only go.sum knows better',
  },
  // Go checks the .mod it reads for the module graph against go.sum before verifying anything.
  'altered-go-mod': { fails: `verifying ${VICTIM_ID}/go.mod: checksum mismatch` },
};

/** Asserts go mod verify's verdict on the module cache of `home` is the table's for `kind`. */
function expectGoModVerify(kind: Corruption, home: string, project: string): void {
  const go = goModVerify(home, project);
  const want = GO_MOD_VERIFY[kind];
  if ('passes' in want) {
    expect(go.ok, `go mod verify must pass (${want.passes}):\n${go.output}`).toBe(true);
    expect(go.output).toContain('all modules verified');
  } else {
    expect(go.ok, go.output).toBe(false);
    expect(go.output).toContain(want.fails);
    // It names the victim and no other module.
    expect([...new Set(go.output.match(/example\.com\/[a-z0-9]+/g))]).toEqual([VICTIM.path]);
  }
}

/**
 * Plants the runner's module cache as an entry in `format`, then extracts the
 * entry's archive as the restore does, into the empty module cache of a new home.
 */
async function plantAndRestore(
  r: { modCache: string; runner: string },
  env: string,
  format: EntryFormat,
): Promise<{ home: string; modCache: string; record: ExtractRecord }> {
  const key = plantedKey(env);
  await plantEntry(world, r.modCache, key, format);
  const home = path.join(r.runner, 'restored-home');
  const modCache = world.modCache(home);
  const { record } = await extractArchive(createReadStream(entryArchive(world, key)), modCache);
  return { home, modCache, record };
}

describe('the verifier against go mod verify and go.sum, as an independent cross-check', () => {
  it.each(ENTRY_FORMATS)(
    'a clean cache (%s): everyone passes, on disk and as restored',
    async (format) => {
      const r = corruptedRunner(null);
      if (format === 'trees-and-zips') {
        expect(goModVerify(r.home, r.project).ok).toBe(true);
        expect(
          await ourVerdict(await recordFromDisk(r.modCache), r.project, { zipsExpected: true }),
        ).toEqual([]);
      }
      const restored = await plantAndRestore(r, `xcheck-clean-${format}`, format);
      expect(await ourVerdict(restored.record, r.project, { zipsExpected: false })).toEqual([]);
      expect(
        await ourVerdict(await recordFromDisk(restored.modCache), r.project, {
          zipsExpected: true,
        }),
      ).toEqual([]);
      // Go hashes the trees the restore wrote to the values of their .ziphash.
      const go = goModVerify(restored.home, r.project);
      expect(go.ok, go.output).toBe(true);
      expect(go.output).toContain('all modules verified');
    },
  );

  it.each(CASES)(
    '$kind ($format): ours names exactly the victim on disk, and at restore unless dropped; go mod verify as the table says',
    async ({ kind, format }) => {
      const r = corruptedRunner(kind);
      if (format === 'trees-and-zips') {
        // The on-disk path (self-hosted runners, health mode, after a repair).
        expect(
          await ourVerdict(await recordFromDisk(r.modCache), r.project, { zipsExpected: true }),
        ).toEqual([VICTIM_ID]);
        expectGoModVerify(kind, r.home, r.project);
      }
      // The restore-time path: the record extractArchive computes, judged as main judges it.
      const restored = await plantAndRestore(r, `xcheck-${kind}-${format}`, format);
      expect(await ourVerdict(restored.record, r.project, { zipsExpected: false })).toEqual(
        atRestore(kind),
      );
      if (format === 'zips-only') {
        // The cache as the restore wrote it: the on-disk verifier and go mod
        // verify see the trees written from the zips. (For an old entry, what the
        // restore leaves of a tree corruption depends on whether the archive holds
        // the tree or the zip first: a tree contradicting its zip is removed. So
        // go mod verify is asked about the old entry as it lies on disk, above.)
        expect(
          await ourVerdict(await recordFromDisk(restored.modCache), r.project, {
            zipsExpected: true,
          }),
        ).toEqual(atRestore(kind));
        expectGoModVerify(kind, restored.home, r.project);
      }
    },
  );
});
