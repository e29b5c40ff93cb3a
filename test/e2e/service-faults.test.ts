/**
 * The cache service down, failing, slow, rate limiting or serving a broken
 * archive: every job still succeeds, without a cache, with a warning, and
 * nothing half-written is left behind. A service that only blips (a lookup or
 * a download range answering 503 or 429 a time or two, a download cut
 * mid-body) costs a retry, visible in the log, and the job is still an exact,
 * verified hit: on both protocols, v2 (github.com) and v1 (GHES, act). An
 * entry fetched in several ranged segments restores the same.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheServer,
  type Faults,
  type Protocol,
  type RequestLog,
} from './harness/cache-server.js';
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
    // A lookup timeout above our lookup's own retries (6 attempts, about 25-30 s
    // of backoff), so that the 5xx path, not the budget, ends the lookup.
    const job = await world.job({
      inputs: { environment: 'five-hundred', 'lookup-timeout': '120' },
    });
    const warnings = expectHealthyWithoutCache(job, 'five-hundred');
    expect(
      warnings.some(
        (w) => w.includes('Cache service unavailable') && /HTTP 500.*after 6 attempts/.test(w),
      ),
    ).toBe(true);
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

describe('a download that trickles', () => {
  it('past SEGMENT_DOWNLOAD_TIMEOUT_MINS: a warning and a miss, never a failed job', async () => {
    const seed = await world.job({ inputs: { environment: 'trickle' } });
    expect(seed.succeeded, seed.log).toBe(true);
    // The entry is a few KB: at 400 bytes a second it takes several seconds,
    // past a deadline of 0.01 min (600 ms) that each segment has.
    world.server.throttle(400);
    try {
      const job = await world.job({
        inputs: { environment: 'trickle' },
        env: { SEGMENT_DOWNLOAD_TIMEOUT_MINS: '0.01' },
      });
      expect(job.succeeded, job.log).toBe(true);
      expect(job.outputs['hit-kind']).toBe('miss');
      expect(job.outputs['verified']).toBe('true');
      expect(existsSync(path.join(world.modCache(job.home), 'example.com', 'm000@v1.0.0'))).toBe(
        true,
      );
      const warnings = job.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
      expect(
        warnings.some(
          (w) =>
            w.includes('not finished within 600 ms (SEGMENT_DOWNLOAD_TIMEOUT_MINS)') &&
            w.includes('removed what was extracted'),
        ),
        warnings.join('\n'),
      ).toBe(true);
      expect(job.annotations.filter((a) => a.level === 'error')).toEqual([]);
    } finally {
      world.server.throttle(undefined);
    }
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

/** A warm job found the entry of its own go.sum, restored and verified it: what a user checks. */
function expectExactHit(job: JobResult): void {
  expect(job.succeeded, job.log).toBe(true);
  expect(job.outputs['hit-kind'], job.log).toBe('exact');
  expect(job.outputs['verified']).toBe('true');
  expect(job.outputs['cache-hit']).toBe('true');
  expect(job.annotations.filter((a) => a.level === 'error' || a.level === 'warning')).toEqual([]);
}

/** The service's log of one kind of request from `from` on. */
function requestsSince(from: number, method: string): RequestLog[] {
  return world.server.log.slice(from).filter((l) => l.method === method);
}

const seeded = new Map<Protocol, Promise<void>>();

/** A cold job saves the entry of environment `blips-<protocol>` once; later calls wait for it. */
function seedOnce(protocol: Protocol): Promise<void> {
  let done = seeded.get(protocol);
  if (!done) {
    done = world.job({ protocol, inputs: { environment: `blips-${protocol}` } }).then((cold) => {
      expect(cold.succeeded, cold.log).toBe(true);
      expect(world.entriesOf(`blips-${protocol}`)).toHaveLength(1);
    });
    seeded.set(protocol, done);
  }
  return done;
}

interface BlipCase {
  name: string;
  faults: () => Faults;
  /** The request kind that fails first and is then asked again. */
  method: 'GetCacheEntryDownloadURL' | 'download';
  /** The statuses the blip answers before the request works. */
  failed: number[];
  /** What the job log shows of the retry, on a protocol. */
  logged: (protocol: Protocol) => RegExp;
}

const BLIPS: BlipCase[] = [
  {
    name: 'a lookup answering 503 once',
    faults: () => ({ flakyLookups: { times: 1, status: 503 } }),
    method: 'GetCacheEntryDownloadURL',
    failed: [503],
    logged: (p) =>
      new RegExp(`cache service ${p} lookup: HTTP 503.*\\(attempt 1 of 6\\); retrying in`),
  },
  {
    name: 'a lookup rate limited twice (429, Retry-After: 1)',
    faults: () => ({ flakyLookups: { times: 2, status: 429 } }),
    method: 'GetCacheEntryDownloadURL',
    failed: [429, 429],
    logged: (p) =>
      new RegExp(
        `cache service ${p} lookup: rate limited \\(429, Retry-After 1 s\\) \\(attempt 2 of 6\\); retrying in 1 s`,
      ),
  },
  {
    name: 'a download range answering 503 once',
    faults: () => ({ flakyDownloads: { times: 1, status: 503 } }),
    method: 'download',
    failed: [503],
    logged: () =>
      /Download of http:\/\/127\.0\.0\.1:\d+\/blob\/\S+, bytes 0-\d*: HTTP 503 \(attempt 1 of 6\); retrying in/,
  },
  {
    name: 'download ranges rate limited twice (429, Retry-After: 1)',
    faults: () => ({ flakyDownloads: { times: 2, status: 429 } }),
    method: 'download',
    failed: [429, 429],
    logged: () => /Download of .*: HTTP 429 \(rate limited\) \(attempt 2 of 6\); retrying in 1 s/,
  },
];

describe.each(['v2', 'v1'] as const)('a service that blips, over %s', (protocol) => {
  it.each(BLIPS)('$name: retried, and the job is an exact hit', async (blip) => {
    await seedOnce(protocol);
    const from = world.server.log.length;
    world.server.faults = blip.faults();
    const job = await world.job({ protocol, inputs: { environment: `blips-${protocol}` } });
    expectExactHit(job);
    expect(job.log).toMatch(blip.logged(protocol));
    const asked = requestsSince(from, blip.method);
    const statuses = asked.map((l) => l.status);
    expect(statuses.slice(0, blip.failed.length + 1)).toEqual([
      ...blip.failed,
      blip.method === 'download' ? 206 : 200,
    ]);
    // The same request, asked again: the same keys, or the same byte range.
    const [first, again] = [asked[0]!, asked[blip.failed.length]!];
    if (blip.method === 'download') expect(again.range).toBe(first.range);
    else expect(again.body).toEqual(first.body);
    const lookups = requestsSince(from, 'GetCacheEntryDownloadURL');
    expect(lookups.every((l) => l.protocol === (protocol === 'v1' ? 'v1' : undefined))).toBe(true);
  });

  it('a download cut mid-body once: the missing bytes are asked for, and the job is an exact hit', async () => {
    await seedOnce(protocol);
    const from = world.server.log.length;
    world.server.faults = { cutDownloads: 1 };
    const job = await world.job({ protocol, inputs: { environment: `blips-${protocol}` } });
    expectExactHit(job);
    // The retry asks for the bytes still missing, not the whole range again.
    expect(job.log).toMatch(
      /Download of .*, bytes [1-9]\d*-\d+: .*\(attempt 1 of 6\); retrying in/,
    );
    const [cut, resumed] = requestsSince(from, 'download');
    expect(cut).toMatchObject({
      status: 206,
      cut: true,
      range: expect.stringMatching(/^bytes=0-/),
    });
    expect(resumed?.status).toBe(206);
    expect(Number(/^bytes=(\d+)-/.exec(resumed?.range ?? '')?.[1])).toBeGreaterThan(0);
  });

  it('an entry larger than a segment is fetched in several ranged requests, and the job is an exact hit', async () => {
    await seedOnce(protocol);
    const key = world.entriesOf(`blips-${protocol}`)[0];
    const entry = world.server.finalized().find((e) => e.key === key)!;
    // Five segments or so, whatever the entry's size.
    const segmentBytes = Math.ceil(entry.size / 5);
    const from = world.server.log.length;
    const job = await world.job({
      protocol,
      inputs: { environment: `blips-${protocol}` },
      env: { VGC_DOWNLOAD_SEGMENT_BYTES: String(segmentBytes) },
    });
    expectExactHit(job);
    expect(job.outputs['cache-matched-key']).toBe(key);
    const downloads = requestsSince(from, 'download');
    expect(downloads.every((l) => l.status === 206 && l.entryId === entry.id)).toBe(true);
    expect(downloads.length).toBe(Math.ceil(entry.size / segmentBytes));
    expect(downloads.length).toBeGreaterThanOrEqual(3);
    const starts = downloads
      .map((l) => Number(/^bytes=(\d+)-/.exec(l.range ?? '')?.[1]))
      .sort((a, b) => a - b);
    expect(starts).toEqual(starts.map((_, i) => i * segmentBytes));
  });
});

describe('cache service v1 end to end (GHES, act)', () => {
  it('a cold job saves over v1, a warm job restores it over v1 as an exact hit', async () => {
    const from = world.server.log.length;
    const cold = await world.job({ protocol: 'v1', inputs: { environment: 'v1-end-to-end' } });
    expect(cold.succeeded, cold.log).toBe(true);
    expect(cold.outputs['hit-kind']).toBe('miss');
    expect(world.entriesOf('v1-end-to-end')).toHaveLength(1);
    const warm = await world.job({ protocol: 'v1', inputs: { environment: 'v1-end-to-end' } });
    expectExactHit(warm);
    expect(warm.outputs['cache-matched-key']).toBe(world.entriesOf('v1-end-to-end')[0]);
    const service = world.server.log
      .slice(from)
      .filter((l) =>
        ['GetCacheEntryDownloadURL', 'CreateCacheEntry', 'FinalizeCacheEntryUpload'].includes(
          l.method,
        ),
      );
    expect(new Set(service.map((l) => l.method))).toEqual(
      new Set(['GetCacheEntryDownloadURL', 'CreateCacheEntry', 'FinalizeCacheEntryUpload']),
    );
    expect(service.every((l) => l.protocol === 'v1')).toBe(true);
  });
});
