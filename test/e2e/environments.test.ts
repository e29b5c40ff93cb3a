/**
 * Matrix jobs per environment, matrix siblings saving the same key, a
 * self-hosted runner whose module cache is already full, and a go.work
 * workspace.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGo, writeProject } from './harness/goproxy.js';
import { World } from './harness/world.js';

let world: World;

beforeAll(async () => {
  world = await World.create({ modules: 8 });
});

afterAll(async () => {
  await world?.dispose();
});

describe('a matrix over environments', () => {
  it('saves and restores concurrently without ever crossing environments', async () => {
    const envs = ['dev', 'prod', 'prod-eu'];
    const cold = await Promise.all(envs.map((e) => world.job({ inputs: { environment: e } })));
    for (const job of cold) {
      expect(job.succeeded, job.log).toBe(true);
      expect(job.outputs['hit-kind']).toBe('miss');
    }
    const warm = await Promise.all(
      envs.map((e) => world.job({ inputs: { environment: e }, env: { GOPROXY: 'off' } })),
    );
    warm.forEach((job, i) => {
      expect(job.succeeded, job.log).toBe(true);
      expect(job.outputs['hit-kind']).toBe('exact');
      expect(job.outputs['cache-matched-key']).toContain(`;env=${envs[i]};`);
    });
    // A new environment never falls back to a neighbour's entries, even one
    // whose name it is a prefix of.
    const fresh = await world.job({ inputs: { environment: 'pro' } });
    expect(fresh.outputs['hit-kind']).toBe('miss');
  });

  it('matrix siblings saving the same key: one saves, the other gets a notice, both succeed', async () => {
    const jobs = await Promise.all(
      [1, 2].map(() => world.job({ inputs: { environment: 'siblings' }, runId: '4242' })),
    );
    for (const job of jobs) expect(job.succeeded, job.log).toBe(true);
    expect(world.server.keys().filter((k) => k.includes(';env=siblings;'))).toHaveLength(1);
    const notices = jobs.flatMap((j) => j.annotations.filter((a) => a.level === 'notice'));
    expect(notices).toHaveLength(1);
    // Which notice depends on timing: the sibling's save was in flight, or already done.
    expect(notices[0]!.message).toMatch(/Another job is saving|was saved while this job ran/);
  });
});

describe('a self-hosted runner with a module cache already on disk', () => {
  it('pre does not extract over it; main verifies what is there; post saves once', async () => {
    const first = await world.job({ inputs: { environment: 'self-hosted-seed' } });
    expect(first.succeeded, first.log).toBe(true);
    const runner = world.cloneRunner(first.home);
    const home = path.join(runner, 'home');

    const job = await world.job({
      home,
      inputs: { environment: 'self-hosted' },
      env: { GOPROXY: 'off' },
    });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.pre?.stdout).toContain('is not empty: not extracting over it');
    expect(job.log).not.toContain('Cannot open: File exists');
    expect(job.outputs['hit-kind']).toBe('local');
    expect(job.outputs['verified']).toBe('true');
    expect(world.server.keys().filter((k) => k.includes(';env=self-hosted;'))).toHaveLength(1);

    const again = await world.job({
      home,
      inputs: { environment: 'self-hosted' },
      env: { GOPROXY: 'off' },
    });
    expect(again.succeeded, again.log).toBe(true);
    expect(again.outputs['hit-kind']).toBe('local');
    expect(again.post.stdout).toContain('an entry for this go.sum already exists');
    expect(world.server.keys().filter((k) => k.includes(';env=self-hosted;'))).toHaveLength(1);
  });
});

describe('a go.work workspace with two modules', () => {
  it('is keyed on both go.sum files, verified as one, and restored exactly', async () => {
    const ws = path.join(world.root, 'workspace-project');
    mkdirSync(ws, { recursive: true });
    const env = world.toolEnv();
    const plain = world.set.plain;
    writeProject(
      path.join(ws, 'a'),
      'example.com/a',
      Object.fromEntries(plain.slice(0, 3).map((p) => [p, 'v1.0.0'])),
      env,
    );
    writeProject(
      path.join(ws, 'b'),
      'example.com/b',
      { ...world.set.special, [plain[5]!]: 'v1.1.0' },
      env,
    );
    writeFileSync(path.join(ws, 'go.work'), 'go 1.21\n\nuse (\n\t./a\n\t./b\n)\n');
    runGo(['work', 'sync'], ws, { ...env, GOWORK: '' });
    const cold = await world.job({ project: ws, inputs: { environment: 'workspace' } });
    expect(cold.succeeded, cold.log).toBe(true);
    expect(cold.outputs['hit-kind']).toBe('miss');
    expect(Number(cold.outputs['module-count'])).toBeGreaterThanOrEqual(3 + 3 + 1);
    const warm = await world.job({
      project: ws,
      inputs: { environment: 'workspace' },
      env: { GOPROXY: 'off' },
      stepsAfterMain: ['go build ./a ./b'],
    });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.outputs['verified']).toBe('true');
    // Changing one member's go.sum changes the key.
    const changed = path.join(world.root, 'workspace-changed');
    cpSync(ws, changed, { recursive: true });
    writeFileSync(path.join(changed, 'a', 'go.sum'), '');
    writeProject(
      path.join(changed, 'a'),
      'example.com/a',
      Object.fromEntries(plain.slice(0, 4).map((p) => [p, 'v1.0.0'])),
      env,
    );
    const third = await world.job({ project: changed, inputs: { environment: 'workspace' } });
    expect(third.succeeded, third.log).toBe(true);
    expect(third.outputs['hit-kind']).toBe('lineage');
  });
});
