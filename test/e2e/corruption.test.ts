/**
 * A corrupt entry in the cache service: each kind is caught, reported by
 * module, repaired alone, and the repaired entry is what the next job gets.
 * `go mod verify` stays as an independent cross-check of the verifier that
 * replaced it on the warm path.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFromDisk } from '../../src/cache/archive.js';
import { factsFromRecord } from '../../src/verify/facts.js';
import { judge } from '../../src/verify/judge.js';
import { loadSums } from '../../src/verify/verify.js';
import { CORRUPTIONS, corrupt, type Corruption } from './harness/corrupt.js';
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

/** Plants a corrupt entry as the newest generation of `environment`'s exact key. */
async function plantCorrupt(kind: Corruption, environment: string): Promise<string> {
  const runner = world.cloneRunner(seedHome);
  corrupt(path.join(runner, 'home', 'go', 'pkg', 'mod'), VICTIM.path, VICTIM.version, kind);
  const key = seedKey.replace(';env=seed;', `;env=${environment};`) + ';gen=planted';
  await world.plant(runner, key);
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

describe.each(CORRUPTIONS)('%s', (kind) => {
  it('is caught, reported, repaired alone (not the whole cache), and the repaired entry is restored next', async () => {
    const env = `heal-${kind}`;
    const planted = await plantCorrupt(kind, env);

    // The only module the healing job can fetch is the victim (none at all when
    // its zip is intact): a repair that touched anything else would fail.
    const proxy = OFFLINE.includes(kind) ? 'off' : world.proxySubset(`heal-${kind}`, [VICTIM]);
    const healing = await world.job({ inputs: { environment: env }, env: { GOPROXY: proxy } });
    expect(healing.succeeded, healing.log).toBe(true);
    expect(healing.outputs['cache-matched-key']).toBe(planted);
    expect(healing.outputs['hit-kind']).toBe('exact');
    expect(healing.outputs['rebuilt']).toBe('true');
    expect(healing.outputs['verified']).toBe('true');
    expect(healing.outputs['corrupt-modules']).toBe(`${VICTIM.path}@${VICTIM.version}`);
    const warnings = healing.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
    expect(warnings.some((w) => w.includes(`${VICTIM.path}@${VICTIM.version}`))).toBe(true);
    expect(healing.summary).toContain(`\`${VICTIM.path}@${VICTIM.version}\``);
    expect(healing.summary).toContain(
      `| Repaired ${VICTIM.path}@${VICTIM.version} | ${
        OFFLINE.includes(kind) ? 'tree rebuilt offline from its zip' : 'fetched again ('
      }`,
    );
    const saved = world.server.keys().filter((k) => k.includes(`;env=${env};`) && k !== planted);
    expect(saved).toHaveLength(1);

    // The next job restores the rebuilt generation, not the planted one, and needs no network.
    const next = await world.job({ inputs: { environment: env }, env: { GOPROXY: 'off' } });
    expect(next.succeeded, next.log).toBe(true);
    expect(next.outputs['cache-matched-key']).toBe(saved[0]);
    expect(next.outputs['rebuilt']).toBe('false');
    expect(next.outputs['corrupt-modules']).toBe('');
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
    expect(job.outputs['corrupt-modules']).toBe(`${VICTIM.path}@${VICTIM.version}`);
    const errors = job.annotations.filter((a) => a.level === 'error').map((a) => a.message);
    expect(errors.join('\n')).toContain("on-corruption is 'fail'");
    expect(errors.join('\n')).toContain(`${VICTIM.path}@${VICTIM.version}`);
    expect(world.server.keys().length).toBe(before);
    expect(job.post.stdout).toContain('Not saving');
  });
});

describe('consistent replacement', () => {
  it('passes go mod verify alone: only the go.sum comparison catches it', async () => {
    const runner = world.cloneRunner(seedHome);
    const modCache = path.join(runner, 'home', 'go', 'pkg', 'mod');
    corrupt(modCache, VICTIM.path, VICTIM.version, 'consistent-replacement');
    const project = path.join(runner, 'project');
    execFileSync('cp', ['-R', world.project, project]);
    const out = execFileSync('go', ['mod', 'verify'], {
      cwd: project,
      env: {
        ...process.env,
        ...world.jobEnv(path.join(runner, 'home'), 'main'),
        GOFLAGS: '-mod=mod',
      },
      encoding: 'utf8',
    });
    expect(out).toContain('all modules verified');
  });
});

/** `go mod verify` on a module cache, for the project of the world: its verdict and output. */
function goModVerify(home: string, project: string): { ok: boolean; output: string } {
  const r = spawnSync('go', ['mod', 'verify'], {
    cwd: project,
    env: { ...process.env, ...world.jobEnv(home, 'main'), GOFLAGS: '-mod=mod' },
    encoding: 'utf8',
  });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** Our verdict from disk: the module versions that disagree with go.sum or are incomplete. */
async function ourVerdict(modCache: string, project: string): Promise<string[]> {
  const facts = factsFromRecord(await recordFromDisk(modCache));
  const j = judge(facts, await loadSums([path.join(project, 'go.sum')]), { zipsExpected: true });
  return [...new Set([...j.bad.map((b) => b.module), ...j.missing])].sort();
}

describe('the verifier against go mod verify and go.sum, as an independent cross-check', () => {
  it('both pass the clean cache', async () => {
    const runner = world.cloneRunner(seedHome);
    const project = path.join(runner, 'project');
    execFileSync('cp', ['-R', world.project, project]);
    const home = path.join(runner, 'home');
    expect(goModVerify(home, project).ok).toBe(true);
    expect(await ourVerdict(path.join(home, 'go', 'pkg', 'mod'), project)).toEqual([]);
  });

  it.each(CORRUPTIONS)(
    '%s: ours names exactly the victim; go mod verify agrees where it can see it',
    async (kind) => {
      const runner = world.cloneRunner(seedHome);
      const project = path.join(runner, 'project');
      execFileSync('cp', ['-R', world.project, project]);
      const home = path.join(runner, 'home');
      const modCache = path.join(home, 'go', 'pkg', 'mod');
      corrupt(modCache, VICTIM.path, VICTIM.version, kind);
      expect(await ourVerdict(modCache, project)).toEqual([`${VICTIM.path}@${VICTIM.version}`]);
      const go = goModVerify(home, project);
      if (kind === 'consistent-replacement') {
        // The case go mod verify cannot see: it compares with the cache's own .ziphash.
        expect(go.ok).toBe(true);
      } else if (!go.ok) {
        expect(go.output).toContain(VICTIM.path);
      }
    },
  );
});
