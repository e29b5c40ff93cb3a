/**
 * The build cache (build-cache: true): a warm job compiles nothing the cold
 * one compiled, the entry stays bounded across go.sum generations, pull
 * requests never save it, and the module cache's verification is unchanged.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corrupt } from './harness/corrupt.js';
import { World } from './harness/world.js';

let world: World;
/** A push event of a repository whose default branch is main. */
let pushEvent: string;

beforeAll(async () => {
  world = await World.create({ modules: 12 });
  pushEvent = path.join(world.root, 'event-push.json');
  writeFileSync(pushEvent, JSON.stringify({ repository: { default_branch: 'main' } }));
});

afterAll(async () => {
  await world?.dispose();
});

const BUILD = 'go build -x -o app . 2>&1 && ./app && go vet ./...';

/** Packages `go build -x` ran the compiler for. */
function compiled(log: string): Set<string> {
  const out = new Set<string>();
  for (const m of log.matchAll(/\/compile(?:\.exe)? .* -p (\S+)/g)) out.add(m[1]!);
  return out;
}

/** Finalized build cache entries of an environment, oldest first. */
function buildEntries(env: string): { key: string; size: number }[] {
  return world.server
    .finalized()
    .filter((e) => e.key.startsWith('vgc-v1-build;') && e.key.includes(`;env=${env};`))
    .sort((a, b) => a.seq - b.seq);
}

function job(environment: string, o: Parameters<World['job']>[0] = {}) {
  return world.job({
    ...o,
    inputs: { environment, 'build-cache': 'true', ...(o.inputs ?? {}) },
    // Every test job runs on a runner of its own, at its own path; without
    // -trimpath Go's action IDs include each package's directory (HOME's module
    // cache, the workspace), which hosted runners keep the same from job to job.
    env: { GITHUB_EVENT_PATH: pushEvent, GOFLAGS: '-trimpath', ...(o.env ?? {}) },
  });
}

describe('cold then warm', () => {
  it('the warm job restores the build cache and compiles nothing the cold one compiled', async () => {
    const cold = await job('bc', { stepsAfterMain: [BUILD] });
    expect(cold.succeeded, cold.log).toBe(true);
    expect(cold.outputs['build-cache-hit']).toBe('false');
    expect(cold.outputs['verified']).toBe('true');
    const first = compiled(cold.steps[0]!.output);
    expect(first.has('example.com/m000')).toBe(true);
    expect(first.has('fmt')).toBe(true);
    const entries = buildEntries('bc');
    expect(entries).toHaveLength(1);
    expect(entries[0]!.key).toMatch(
      /^vgc-v1-build;linux-x64;env=bc;go=go[\d.]+;target=\w+-\w+-cgo[01];flags=[0-9a-f]{12};ref=main;sum=[0-9a-f]{40};gen=/,
    );
    // The module cache has its own entry, as before.
    expect(world.server.keys().filter((k) => k.startsWith('vgc-v1;'))).toHaveLength(1);

    const warm = await job('bc', { stepsAfterMain: [BUILD], env: { GOPROXY: 'off' } });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.outputs['build-cache-hit']).toBe('true');
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.outputs['verified']).toBe('true');
    const second = compiled(warm.steps[0]!.output);
    expect([...second].filter((p) => first.has(p))).toEqual([]);
    expect(warm.summary).toContain('build cache: restored, not verifiable');
    expect(warm.summary).toContain('exact hit');
    expect(warm.summary).toMatch(/\| Build cache restored \| [\d.]+ (KiB|MiB) \|/);
  });
});

describe('who saves', () => {
  it('a pull request restores the build cache but never saves it', async () => {
    const before = buildEntries('pr').length;
    const seed = await job('pr', { stepsAfterMain: [BUILD] });
    expect(seed.succeeded, seed.log).toBe(true);
    expect(buildEntries('pr')).toHaveLength(before + 1);

    const pr = await job('pr', {
      headRef: 'feature',
      stepsAfterMain: [BUILD],
      inputs: { 'build-cache-save': 'always' },
    });
    expect(pr.succeeded, pr.log).toBe(true);
    // The pull request's branch reads the default branch's entry through the lineage.
    expect(pr.summary).toContain('build cache: restored, not verifiable');
    expect(compiled(pr.steps[0]!.output).has('fmt')).toBe(false);
    expect(buildEntries('pr')).toHaveLength(before + 1);
    expect(pr.summary).toMatch(/never saves the build cache/);
  });

  it('a push to another branch does not save by default', async () => {
    const other = await job('branch', { branch: 'feature', stepsAfterMain: [BUILD] });
    expect(other.succeeded, other.log).toBe(true);
    expect(buildEntries('branch')).toHaveLength(0);
    expect(other.summary).toContain('only pushes to the default branch (main)');
  });
});

describe('bounded', () => {
  it('after go.sum generations the entry is no larger than a fresh one plus what the job used', async () => {
    // Each generation bumps one more leaf module (m006.. require nothing of each other).
    const bumps: Record<string, string> = {};
    let last: Awaited<ReturnType<typeof job>> | undefined;
    for (let gen = 0; gen < 5; gen++) {
      if (gen > 0) bumps[`example.com/m${String(5 + gen).padStart(3, '0')}`] = 'v1.1.0';
      const project = world.writeProject(path.join(world.root, `project-gen${gen}`), bumps);
      last = await job('gen', { project, stepsAfterMain: [BUILD] });
      expect(last.succeeded, last.log).toBe(true);
      if (gen > 0) {
        // A lineage hit: the previous generation's entry.
        expect(last.outputs['build-cache-hit']).toBe('true');
        const trimmed = /\| Build cache entries trimmed \| (\d+) /.exec(last.summary);
        expect(Number(trimmed?.[1])).toBeGreaterThan(0);
      }
    }
    const gens = buildEntries('gen');
    expect(gens).toHaveLength(5);

    const fresh = await job('fresh', {
      project: path.join(world.root, 'project-gen4'),
      stepsAfterMain: [BUILD],
    });
    expect(fresh.succeeded, fresh.log).toBe(true);
    const freshSize = buildEntries('fresh')[0]!.size;
    const lastSize = gens[gens.length - 1]!.size;
    expect(lastSize).toBeLessThanOrEqual(freshSize * 1.05 + 16 * 1024);
    expect(lastSize).toBeLessThanOrEqual(gens[0]!.size * 1.05 + 16 * 1024);
  });
});

describe('the module cache', () => {
  it('is verified and healed as without the build cache', async () => {
    const seed = await job('heal', { stepsAfterMain: [BUILD] });
    expect(seed.succeeded, seed.log).toBe(true);
    const runner = world.cloneRunner(seed.home);
    corrupt(
      path.join(runner, 'home', 'go', 'pkg', 'mod'),
      'example.com/m003',
      'v1.0.0',
      'modified-file',
    );
    const planted = `${seed.outputs['cache-key']};gen=planted`;
    await world.plant(runner, planted);

    const healing = await job('heal', { stepsAfterMain: [BUILD] });
    expect(healing.succeeded, healing.log).toBe(true);
    expect(healing.outputs['cache-matched-key']).toBe(planted);
    expect(healing.outputs['rebuilt']).toBe('true');
    expect(healing.outputs['verified']).toBe('true');
    expect(healing.outputs['corrupt-modules']).toBe('example.com/m003@v1.0.0');
    expect(healing.outputs['build-cache-hit']).toBe('true');
  });
});
