/**
 * The cache service down, failing, slow, rate limiting or serving a broken
 * archive: every job still succeeds, without a cache, with a warning, and
 * nothing half-written is left behind.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CacheServer } from './harness/cache-server.js';
import { World } from './harness/world.js';
import type { JobResult } from './harness/runner.js';

let world: World;

beforeAll(async () => {
  world = await World.create({ modules: 6 });
});

afterEach(() => {
  world.server.faults = {};
});

afterAll(async () => {
  await world?.dispose();
});

function expectHealthyWithoutCache(job: JobResult & { home: string }, env: string): string[] {
  expect(job.succeeded, job.log).toBe(true);
  expect(job.outputs['verified']).toBe('true');
  expect(job.outputs['hit-kind']).toBe('miss');
  expect(existsSync(path.join(world.modCache(job.home), 'example.com', 'm000@v1.0.0'))).toBe(true);
  expect(world.server.keys().filter((k) => k.includes(`;env=${env};`))).toEqual([]);
  expect(job.annotations.filter((a) => a.level === 'error')).toEqual([]);
  return job.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
}

describe('cache service faults', () => {
  it('down (connection refused)', async () => {
    const dead = new CacheServer(path.join(world.root, 'dead-service'));
    await dead.start();
    const url = dead.url;
    await dead.stop();
    const job = await world.job({
      inputs: { environment: 'down' },
      env: { ACTIONS_RESULTS_URL: url },
    });
    const warnings = expectHealthyWithoutCache(job, 'down');
    expect(warnings.some((w) => w.includes('Cache service unavailable'))).toBe(true);
    expect(warnings.some((w) => /save/i.test(w))).toBe(true);
  });

  it('answering 5xx', async () => {
    world.server.faults = { status: 500 };
    // A lookup timeout above the client's own retries (about 25-35 s), so the
    // 5xx path is what ends the lookup.
    const job = await world.job({
      inputs: { environment: 'five-hundred', 'lookup-timeout': '120' },
    });
    const warnings = expectHealthyWithoutCache(job, 'five-hundred');
    expect(warnings.some((w) => w.includes('Cache service unavailable') && w.includes('500'))).toBe(
      true,
    );
    expect(world.server.calls('GetCacheEntryDownloadURL').every((c) => c.status === 500)).toBe(
      true,
    );
  });

  it('slow: lookups and saves past their timeouts', async () => {
    world.server.faults = { delayMs: 4000 };
    const job = await world.job({
      inputs: { environment: 'slow', 'lookup-timeout': '1', 'save-timeout': '2' },
    });
    const warnings = expectHealthyWithoutCache(job, 'slow');
    expect(warnings.some((w) => w.includes('no answer within 1000 ms'))).toBe(true);
    expect(warnings.some((w) => w.includes('did not finish within 2 s'))).toBe(true);
    // Let the delayed requests land: the entry they create is never finalized, so never visible.
    await new Promise((r) => setTimeout(r, 4500));
    expect(world.server.keys().filter((k) => k.includes(';env=slow;'))).toEqual([]);
  });

  it('rate limiting', async () => {
    world.server.faults = { rateLimit: true };
    const job = await world.job({ inputs: { environment: 'rate' } });
    const warnings = expectHealthyWithoutCache(job, 'rate');
    expect(warnings.some((w) => w.includes('Rate limited') || w.includes('rate limit'))).toBe(true);
  });

  it('serving a corrupted archive: the half-extracted cache is removed and rebuilt from the proxy', async () => {
    const seed = await world.job({ inputs: { environment: 'broken-archive' } });
    expect(seed.succeeded, seed.log).toBe(true);
    world.server.faults = { corruptDownload: true };
    const job = await world.job({ inputs: { environment: 'broken-archive' } });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['verified']).toBe('true');
    expect(job.outputs['hit-kind']).toBe('miss');
    const warnings = job.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
    expect(warnings.some((w) => w.includes('removed what was extracted'))).toBe(true);
    expect(job.annotations.filter((a) => a.level === 'error')).toEqual([]);
  });
});

describe('a reserve conflict on save', () => {
  it('is a notice, not a failure', async () => {
    world.server.faults = { reserveConflict: true };
    const job = await world.job({ inputs: { environment: 'conflict' } });
    expect(job.succeeded, job.log).toBe(true);
    expect(
      job.annotations
        .filter((a) => a.level === 'notice')
        .map((a) => a.message)
        .join(),
    ).toContain('Another job is saving');
    expect(job.annotations.filter((a) => a.level === 'error' || a.level === 'warning')).toEqual([]);
  });
});
