/**
 * The everyday paths: a cold job, the warm job after it, a go.sum change, and
 * a local action (pre skipped).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGoSum } from './harness/goproxy.js';
import { World } from './harness/world.js';

let world: World;

beforeAll(async () => {
  world = await World.create({ modules: 12 });
});

afterAll(async () => {
  await world?.dispose();
});

describe('cold then warm', () => {
  it('misses, downloads, verifies and saves; the next job is an exact hit that downloads and saves nothing', async () => {
    const cold = await world.job({ inputs: { environment: 'ci' } });
    expect(cold.succeeded, cold.log).toBe(true);
    expect(cold.outputs['hit-kind']).toBe('miss');
    expect(cold.outputs['cache-hit']).toBe('false');
    expect(cold.outputs['verified']).toBe('true');
    expect(cold.outputs['module-count']).toBe(String(12 + 3));
    expect(cold.outputs['cache-key']).toMatch(
      /^vgc-v1;linux-x64;env=ci;ref=main;sum=[0-9a-f]{40}$/,
    );
    const keys = world.server.keys();
    expect(keys).toHaveLength(1);
    expect(keys[0]!.startsWith(`${cold.outputs['cache-key']};gen=`)).toBe(true);
    expect(cold.summary).toContain('| Hit kind | miss |');

    const before = world.server.finalized().length;
    // GOPROXY=off: any download in the warm job would fail it.
    const warm = await world.job({
      inputs: { environment: 'ci' },
      env: { GOPROXY: 'off' },
      stepsAfterMain: ['go build -o app . && ./app'],
    });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.outputs['cache-hit']).toBe('true');
    expect(warm.outputs['cache-matched-key']).toBe(keys[0]);
    expect(warm.outputs['verified']).toBe('true');
    expect(warm.steps[0]!.exitCode).toBe(0);
    expect(world.server.finalized().length).toBe(before);
    expect(world.server.calls('CreateCacheEntry').length).toBe(1);
    expect(warm.post.stdout).toContain('exact hit, verified, nothing new to save');
    // pre restored the files before checkout: they are on disk in the runner's module cache.
    expect(
      existsSync(path.join(world.modCache(warm.home), 'example.com', 'm000@v1.0.0', 'm000.go')),
    ).toBe(true);
    expect(warm.pre?.stdout).toContain('Restored');
  });
});

describe('go.sum changed', () => {
  it('restores the lineage, downloads only the new module, saves a new entry; the next job is an exact hit', async () => {
    const env = 'bump';
    const first = await world.job({ inputs: { environment: env } });
    expect(first.succeeded, first.log).toBe(true);

    const bumped = world.writeProject(path.join(world.root, 'project-bumped'), {
      'example.com/m001': 'v1.1.0',
    });
    // The only thing this job can download is m001@v1.1.0.
    const onlyNew = world.proxySubset('bump', [{ path: 'example.com/m001', version: 'v1.1.0' }]);
    const second = await world.job({
      project: bumped,
      inputs: { environment: env },
      env: { GOPROXY: onlyNew },
    });
    expect(second.succeeded, second.log).toBe(true);
    expect(second.outputs['hit-kind']).toBe('lineage');
    expect(second.outputs['cache-matched-key']!.startsWith(first.outputs['cache-key']!)).toBe(true);
    expect(second.outputs['cache-key']).not.toBe(first.outputs['cache-key']);
    expect(second.outputs['verified']).toBe('true');
    expect(
      existsSync(path.join(world.modCache(second.home), 'example.com', 'm001@v1.1.0', 'm001.go')),
    ).toBe(true);
    const saved = world.server.keys().filter((k) => k.startsWith(second.outputs['cache-key']!));
    expect(saved).toHaveLength(1);

    // m001@v1.0.0, which go.sum no longer names, stayed in the quarantine: it
    // never entered the module cache, so no saved entry can carry it.
    expect(second.main.stdout).toContain('stayed out (not named by go.sum, or not proven)');
    expect(existsSync(path.join(world.modCache(second.home), 'example.com', 'm001@v1.0.0'))).toBe(
      false,
    );
    expect(world.entryModules(saved[0]!)).not.toContain('example.com/m001@v1.0.0');

    const third = await world.job({
      project: bumped,
      inputs: { environment: env },
      env: { GOPROXY: 'off' },
      stepsAfterMain: ['go build -o app . && ./app'],
    });
    expect(third.succeeded, third.log).toBe(true);
    expect(third.outputs['hit-kind']).toBe('exact');
    expect(third.outputs['cache-matched-key']).toBe(saved[0]);
    // The entry holds what the new go.sum needs, and the job above built from
    // it offline: m001@v1.0.0, which go.sum no longer names, was pruned.
    const mc = world.modCache(third.home);
    const dl = path.join(mc, 'cache', 'download', 'example.com', 'm001', '@v');
    expect(existsSync(path.join(mc, 'example.com', 'm001@v1.0.0'))).toBe(false);
    expect(existsSync(path.join(dl, 'v1.0.0.zip'))).toBe(false);
    expect(readGoSum(bumped)).not.toContain('example.com/m001 v1.0.0');
    expect(existsSync(path.join(mc, 'example.com', 'm001@v1.1.0'))).toBe(true);
  });
});

describe('pre skipped (uses: ./)', () => {
  it('main restores alone with the same results', async () => {
    const env = 'local-action';
    const cold = await world.job({ inputs: { environment: env }, skipPre: true });
    expect(cold.succeeded, cold.log).toBe(true);
    expect(cold.pre).toBeUndefined();
    expect(cold.outputs['hit-kind']).toBe('miss');
    expect(cold.main.stdout).toContain('pre did not run');
    const warm = await world.job({
      inputs: { environment: env },
      skipPre: true,
      env: { GOPROXY: 'off' },
    });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.outputs['verified']).toBe('true');
    expect(warm.post.stdout).toContain('nothing new to save');
  });
});

describe('branches and pull requests', () => {
  it('a pull request restores the default branch entry and, with save: never, saves nothing', async () => {
    const env = 'pr';
    const onMain = await world.job({ inputs: { environment: env } });
    expect(onMain.succeeded, onMain.log).toBe(true);
    const before = world.server.keys().length;
    const pr = await world.job({
      headRef: 'feature/x',
      inputs: { environment: env, save: 'never' },
      env: { GOPROXY: 'off' },
    });
    expect(pr.succeeded, pr.log).toBe(true);
    expect(pr.outputs['hit-kind']).toBe('lineage');
    expect(pr.outputs['cache-key']).toContain(';ref=feature/x;');
    expect(pr.outputs['cache-matched-key']!.startsWith(onMain.outputs['cache-key']!)).toBe(true);
    expect(pr.post.stdout).toContain("save is 'never'");
    expect(world.server.keys().length).toBe(before);
  });

  it('an entry saved on a feature branch is not visible to the default branch', async () => {
    const env = 'scoped';
    const feature = await world.job({ branch: 'feature-y', inputs: { environment: env } });
    expect(feature.succeeded, feature.log).toBe(true);
    expect(world.server.finalized().some((e) => e.branch === 'feature-y')).toBe(true);
    const main = await world.job({ branch: 'main', inputs: { environment: env } });
    expect(main.succeeded, main.log).toBe(true);
    expect(main.outputs['hit-kind']).toBe('miss');
  });
});

describe('modules added by a step after main', () => {
  it('post verifies them before it saves, under the key of the new go.sum', async () => {
    const env = 'later-step';
    const job = await world.job({
      inputs: { environment: env },
      stepsAfterMain: ['GOFLAGS=-mod=mod go get example.com/m002@v1.1.0 && go build ./...'],
    });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.post.stdout).toContain('verifying what is new before saving');
    const saved = world.server.keys().filter((k) => k.includes(`;env=${env};`));
    expect(saved).toHaveLength(1);
    expect(saved[0]!.startsWith(job.outputs['cache-key']!)).toBe(false);
  });

  it('post refuses to save modules that a later step left corrupt', async () => {
    const env = 'later-step-corrupt';
    const job = await world.job({
      inputs: { environment: env },
      stepsAfterMain: [
        'GOFLAGS=-mod=mod go get example.com/m002@v1.1.0',
        'd="$HOME/go/pkg/mod/example.com/m002@v1.1.0"; chmod u+w "$d"; echo tampered > "$d/extra.txt"',
      ],
    });
    expect(
      job.steps.every((s) => s.exitCode === 0),
      job.log,
    ).toBe(true);
    expect(job.post.stdout).toContain(
      'Not saving example.com/m002@v1.1.0: it does not match go.sum',
    );
    expect(job.post.stdout).toContain('an incomplete cache is never saved');
    expect(
      job.annotations.some(
        (a) => a.level === 'warning' && a.message.includes('example.com/m002@v1.1.0'),
      ),
    ).toBe(true);
    expect(world.server.keys().filter((k) => k.includes(`;env=${env};`))).toHaveLength(0);
  });
});
