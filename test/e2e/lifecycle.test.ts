/**
 * The everyday paths: a cold job, the warm job after it, a go.sum change, and
 * a local action (pre skipped).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
