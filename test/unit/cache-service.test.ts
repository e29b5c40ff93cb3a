/**
 * Our cache-service lookup client against a real HTTP server on loopback, and
 * the entry version and compression checked against @actions/cache's own
 * functions: a lookup that computes another version finds nothing, ever.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  cacheServiceFromEnv,
  compressionForSave,
  entryVersion,
  V1CacheService,
  V2CacheService,
  type CacheService,
} from '../../src/cache/service/index.js';
import {
  getCacheVersion,
  getCompressionMethod,
} from '../../node_modules/@actions/cache/lib/internal/cacheUtils.js';
import type { CompressionMethod } from '../../node_modules/@actions/cache/lib/internal/constants.js';
import { internalCacheTwirpClient } from '../../node_modules/@actions/cache/lib/internal/shared/cacheTwirpClient.js';
import { callWithRetries, fitWait, type Clock } from '../../src/cache/service/http.js';

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang';

const open: http.Server[] = [];
afterEach(async () => {
  await Promise.all(
    open.splice(0).map(
      (s) =>
        new Promise<void>((r) => {
          s.closeAllConnections();
          s.close(() => r());
        }),
    ),
  );
});

/** A service that answers request n with replies[n] (the last one repeats) and records requests. */
async function fakeService(replies: Reply[]): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const reply = replies[Math.min(got.length - 1, replies.length - 1)] as Reply;
      if (reply === 'hang') return;
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, got };
}

/** A port nobody listens on. */
async function deadUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}/`;
}

const FAST = { baseDelayMs: 20, maxAttempts: 4, maxRetryAfterMs: 2000 };
const V2_HIT = {
  ok: true,
  signed_download_url: 'http://blob/1?sig=x',
  matched_key: 'go-mod;linux;abc',
};
const V1_HIT = { cacheKey: 'go-mod;linux;abc', archiveLocation: 'http://blob/1?sig=x' };

interface Extra {
  cacheMode?: string;
  onRetry?: (line: string) => void;
}

function v2(url: string, { onRetry, ...extra }: Extra = {}): CacheService {
  return new V2CacheService({ baseUrl: url, token: 'tok', tuning: { ...FAST, onRetry }, ...extra });
}
function v1(url: string, { onRetry, ...extra }: Extra = {}): CacheService {
  return new V1CacheService({ baseUrl: url, token: 'tok', tuning: { ...FAST, onRetry }, ...extra });
}

const protocols = [
  { name: 'v2', make: v2, hit: V2_HIT, miss: { status: 200, body: { ok: false } } as Reply },
  { name: 'v1', make: v1, hit: V1_HIT, miss: { status: 204 } as Reply },
] as const;

describe('entry version', () => {
  it('equals @actions/cache getCacheVersion for paths ["."] and every compression', () => {
    for (const compression of ['zstd-without-long', 'gzip'] as const) {
      for (const crossOs of [false, true]) {
        expect(entryVersion(['.'], compression, process.platform, crossOs)).toBe(
          getCacheVersion(['.'], compression as CompressionMethod, crossOs),
        );
      }
    }
    expect(entryVersion(['a', 'b/c'], 'gzip', process.platform)).toBe(
      getCacheVersion(['a', 'b/c'], 'gzip' as CompressionMethod),
    );
  });

  it('equals the toolkit on a Windows runner, with and without cross-OS archives', () => {
    const real = Object.getOwnPropertyDescriptor(process, 'platform')!;
    Object.defineProperty(process, 'platform', { value: 'win32' });
    try {
      const winOnly = getCacheVersion(['.'], 'zstd-without-long' as CompressionMethod, false);
      const cross = getCacheVersion(['.'], 'zstd-without-long' as CompressionMethod, true);
      expect(entryVersion(['.'], 'zstd-without-long', 'win32')).toBe(winOnly);
      expect(entryVersion(['.'], 'zstd-without-long', 'win32', true)).toBe(cross);
      expect(winOnly).not.toBe(cross);
    } finally {
      Object.defineProperty(process, 'platform', real);
    }
    expect(entryVersion(['.'], 'gzip', 'linux')).not.toBe(entryVersion(['.'], 'gzip', 'win32'));
  });

  it('picks the compression the toolkit picks, and gzip without zstd', async () => {
    expect(await compressionForSave()).toBe(await getCompressionMethod());
    expect(await compressionForSave('/nonexistent/zstd')).toBe('gzip');
  });
});

describe('cacheServiceFromEnv', () => {
  const base = { ACTIONS_RUNTIME_TOKEN: 't', GITHUB_SERVER_URL: 'https://github.com' };
  it('speaks v2 when ACTIONS_CACHE_SERVICE_V2 is set, else v1', () => {
    const both = { ...base, ACTIONS_RESULTS_URL: 'http://r/', ACTIONS_CACHE_URL: 'http://c/' };
    expect(cacheServiceFromEnv({ ...both, ACTIONS_CACHE_SERVICE_V2: 'true' })?.protocol).toBe('v2');
    expect(cacheServiceFromEnv(both)?.protocol).toBe('v1');
    expect(cacheServiceFromEnv({ ...both, ACTIONS_CACHE_SERVICE_V2: '' })?.protocol).toBe('v1');
  });

  it('speaks v1 on GHES even when v2 is asked for', () => {
    const env = {
      ...base,
      GITHUB_SERVER_URL: 'https://ghes.example.com',
      ACTIONS_CACHE_SERVICE_V2: 'true',
      ACTIONS_RESULTS_URL: 'http://r/',
    };
    expect(cacheServiceFromEnv(env)?.protocol).toBe('v1');
    expect(
      cacheServiceFromEnv({ ...env, GITHUB_SERVER_URL: 'https://acme.ghe.com' })?.protocol,
    ).toBe('v2');
  });

  it('is undefined without a URL, or for v2 without a token; v1 works without one (act)', () => {
    expect(
      cacheServiceFromEnv({ ACTIONS_RESULTS_URL: 'http://r/', ACTIONS_CACHE_SERVICE_V2: 'true' }),
    ).toBeUndefined();
    expect(cacheServiceFromEnv({ ACTIONS_CACHE_URL: 'http://c/' })?.protocol).toBe('v1');
    expect(cacheServiceFromEnv({})).toBeUndefined();
    expect(cacheServiceFromEnv({ ...base, ACTIONS_CACHE_SERVICE_V2: 'true' })).toBeUndefined();
    expect(cacheServiceFromEnv({ ...base, ACTIONS_CACHE_URL: 'http://c/' })?.protocol).toBe('v1');
  });
});

describe('wire format', () => {
  it('v2 posts twirp JSON with proto field names and the bearer token', async () => {
    const s = await fakeService([{ status: 200, body: V2_HIT }]);
    await v2(`${s.url}ignored/path/`).lookup('k', ['r1', 'r2'], 'ver', { timeoutMs: 2000 });
    const req = s.got[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe(
      '/twirp/github.actions.results.api.v1.CacheService/GetCacheEntryDownloadURL',
    );
    expect(req.headers.authorization).toBe('Bearer tok');
    expect(JSON.parse(req.body)).toEqual({ key: 'k', restore_keys: ['r1', 'r2'], version: 'ver' });
  });

  it('v1 GETs all keys comma-joined with the 6.0-preview.1 Accept header', async () => {
    const s = await fakeService([{ status: 200, body: V1_HIT }]);
    await v1(`${s.url}base/`).lookup('k;1', ['k;'], 'ver', { timeoutMs: 2000 });
    const req = s.got[0]!;
    expect(req.method).toBe('GET');
    expect(req.url).toBe('/base/_apis/artifactcache/cache?keys=k%3B1%2Ck%3B&version=ver');
    expect(req.headers.accept).toBe('application/json;api-version=6.0-preview.1');
    expect(req.headers.authorization).toBe('Bearer tok');
  });
});

describe.each(protocols)('$name lookup', ({ make, hit, miss }) => {
  const opts = { timeoutMs: 3000 };

  it('hit', async () => {
    const s = await fakeService([{ status: 200, body: hit }]);
    expect(await make(s.url).lookup('go-mod;linux;abc', [], 'v', opts)).toEqual({
      kind: 'hit',
      entry: { matchedKey: 'go-mod;linux;abc', downloadUrl: 'http://blob/1?sig=x' },
    });
  });

  it('miss', async () => {
    const s = await fakeService([miss]);
    expect(await make(s.url).lookup('k', ['r'], 'v', opts)).toEqual({ kind: 'miss' });
  });

  it('retries 5xx and then finds the entry, logging each retry', async () => {
    const s = await fakeService([
      { status: 503, body: { msg: 'busy' } },
      { status: 502 },
      { status: 200, body: hit },
    ]);
    const lines: string[] = [];
    const svc = make(s.url, { onRetry: (line) => lines.push(line) });
    expect((await svc.lookup('k', [], 'v', opts)).kind).toBe('hit');
    expect(s.got).toHaveLength(3);
    expect(lines).toEqual([
      expect.stringMatching(
        /lookup: HTTP 503: \{"msg":"busy"\} \(attempt 1 of 4\); retrying in \d+ ms$/,
      ),
      expect.stringMatching(/lookup: HTTP 502 \(attempt 2 of 4\); retrying in \d+ ms$/),
    ]);
  });

  it('gives up on a service that keeps failing, as unavailable', async () => {
    const s = await fakeService([{ status: 500, body: { msg: 'boom' } }]);
    const out = await make(s.url).lookup('k', [], 'v', opts);
    expect(out.kind).toBe('unavailable');
    expect(out.kind === 'unavailable' && out.reason).toMatch(/HTTP 500.*after 4 attempts/);
    expect(s.got).toHaveLength(4);
  });

  it('waits out a 429 Retry-After, then retries', async () => {
    const s = await fakeService([
      { status: 429, headers: { 'retry-after': '1' }, body: { msg: 'slow down' } },
      { status: 200, body: hit },
    ]);
    const t0 = Date.now();
    expect((await make(s.url).lookup('k', [], 'v', opts)).kind).toBe('hit');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
  });

  it('does not wait for a Retry-After beyond the cap', async () => {
    const s = await fakeService([{ status: 429, headers: { 'retry-after': '60' } }]);
    const t0 = Date.now();
    const out = await make(s.url).lookup('k', [], 'v', opts);
    expect(out).toEqual({
      kind: 'unavailable',
      reason: expect.stringMatching(/rate limited \(429, Retry-After 60 s\)/),
    });
    expect(Date.now() - t0).toBeLessThan(500);
    expect(s.got).toHaveLength(1);
  });

  it('connection refused: unavailable at once, no retries', async () => {
    const t0 = Date.now();
    const out = await make(await deadUrl()).lookup('k', [], 'v', opts);
    expect(out).toEqual({ kind: 'unavailable', reason: expect.stringMatching(/ECONNREFUSED/) });
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('a service that never answers: unavailable within the budget', async () => {
    const s = await fakeService(['hang']);
    const t0 = Date.now();
    const out = await make(s.url).lookup('k', [], 'v', { timeoutMs: 400 });
    expect(out).toEqual({
      kind: 'unavailable',
      reason: expect.stringMatching(/no answer within 400 ms/),
    });
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('a "cache read denied:" answer is denied, not unavailable', async () => {
    const msg = 'cache read denied: token has no readable cache scopes';
    const s = await fakeService([
      { status: 403, body: { code: 'permission_denied', msg, message: msg } },
    ]);
    expect(await make(s.url).lookup('k', [], 'v', opts)).toEqual({
      kind: 'denied',
      reason: `${msg} (HTTP 403)`,
    });
    expect(s.got).toHaveLength(1);
  });

  it('another 403 is unavailable and names the status', async () => {
    const s = await fakeService([
      { status: 403, body: { msg: 'bad token', message: 'bad token' } },
    ]);
    expect(await make(s.url).lookup('k', [], 'v', opts)).toEqual({
      kind: 'unavailable',
      reason: expect.stringMatching(/HTTP 403: bad token/),
    });
  });

  it('ACTIONS_CACHE_MODE write-only or none: denied without asking the service', async () => {
    const s = await fakeService([{ status: 200, body: hit }]);
    for (const mode of ['write-only', 'NONE']) {
      const out = await make(s.url, { cacheMode: mode }).lookup('k', [], 'v', opts);
      expect(out).toEqual({
        kind: 'denied',
        reason: expect.stringMatching(/does not permit reads/),
      });
    }
    expect(s.got).toHaveLength(0);
    expect((await make(s.url, { cacheMode: 'read' }).lookup('k', [], 'v', opts)).kind).toBe('hit');
  });

  it('a malformed hit is unavailable', async () => {
    const s = await fakeService([{ status: 200, body: { ok: true, cacheKey: 'k' } }]);
    expect((await make(s.url).lookup('k', [], 'v', opts)).kind).toBe('unavailable');
  });

  it('refuses keys the service would refuse, naming them', async () => {
    const svc = make('http://127.0.0.1:9/');
    await expect(svc.lookup('a,b', [], 'v', opts)).rejects.toThrow(/"a,b" contains a comma/);
    await expect(svc.lookup('x'.repeat(513), [], 'v', opts)).rejects.toThrow(/513 characters/);
    await expect(svc.lookup('k', Array(10).fill('r'), 'v', opts)).rejects.toThrow(/Too many/);
  });
});

/** Time that moves only when the retries sleep, and at once: a whole schedule without waiting. */
function virtualClock(): Clock & { waits: number[] } {
  let now = 0;
  const waits: number[] = [];
  return {
    waits,
    now: () => now,
    sleep: (ms) => {
      waits.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

/**
 * The least @actions/cache's v2 client waits over all its attempts before it
 * gives up on a failing service: its own backoff function with no jitter.
 */
function toolkitLeastPatienceMs(): { attempts: number; waitedMs: number } {
  const saved = { ...process.env };
  Object.assign(process.env, {
    ACTIONS_RUNTIME_TOKEN: 'tok',
    ACTIONS_RESULTS_URL: 'http://127.0.0.1:9/',
    ACTIONS_CACHE_SERVICE_V2: 'true',
  });
  const random = vi.spyOn(Math, 'random').mockReturnValue(0);
  try {
    const rpc = (internalCacheTwirpClient() as unknown as { rpc: ToolkitRetries }).rpc;
    let waitedMs = 0;
    for (let attempt = 0; attempt + 1 < rpc.maxAttempts; attempt++) {
      waitedMs += rpc.getExponentialRetryTimeMilliseconds(attempt);
    }
    return { attempts: rpc.maxAttempts, waitedMs };
  } finally {
    random.mockRestore();
    process.env = saved;
  }
}

interface ToolkitRetries {
  maxAttempts: number;
  getExponentialRetryTimeMilliseconds(attempt: number): number;
}

describe('the lookup retry schedule', () => {
  const failing = [{ status: 503, body: { msg: 'down' } }] as Reply[];

  it('is at least as patient with a failing service as @actions/cache', async () => {
    const toolkit = toolkitLeastPatienceMs();
    expect(toolkit.attempts).toBe(5);
    const s = await fakeService(failing);
    const clock = virtualClock();
    const out = await callWithRetries(
      { method: 'GET', url: s.url, headers: {}, timeoutMs: 120_000 },
      { clock, onRetry: () => {} },
    );
    expect(out).toEqual({ kind: 'failed', reason: expect.stringMatching(/after 6 attempts$/) });
    expect(s.got.length).toBeGreaterThanOrEqual(toolkit.attempts);
    const waited = clock.waits.reduce((a, b) => a + b, 0);
    expect(waited).toBeGreaterThanOrEqual(toolkit.waitedMs);
  });

  it('keeps every attempt within the default lookup-timeout of 30 s', async () => {
    const s = await fakeService(failing);
    const clock = virtualClock();
    await callWithRetries(
      { method: 'GET', url: s.url, headers: {}, timeoutMs: 30_000 },
      { clock, onRetry: () => {} },
    );
    expect(s.got).toHaveLength(6);
    expect(clock.now()).toBeLessThan(30_000);
  });

  it('stops retrying when the lookup-timeout leaves no room for another attempt', async () => {
    const s = await fakeService(failing);
    const clock = virtualClock();
    const out = await callWithRetries(
      { method: 'GET', url: s.url, headers: {}, timeoutMs: 5_000 },
      { clock, onRetry: () => {} },
    );
    expect(out).toEqual({
      kind: 'failed',
      reason: expect.stringMatching(/HTTP 503.*no time left for a retry within 5000 ms$/),
    });
    expect(clock.now()).toBeLessThan(5_000);
    expect(s.got.length).toBeGreaterThanOrEqual(3);
  });

  it('shortens a backoff to fit the budget, but never a Retry-After', () => {
    expect(fitWait(1_000, 10_000, false)).toBe(1_000);
    expect(fitWait(8_000, 6_000, false)).toBe(5_000);
    expect(fitWait(8_000, 900, false)).toBeUndefined();
    expect(fitWait(3_000, 5_000, true)).toBe(3_000);
    expect(fitWait(6_000, 5_000, true)).toBeUndefined();
    // A server's wait that would leave no time for the attempt after it is not taken.
    expect(fitWait(4_500, 5_000, true)).toBeUndefined();
  });
});
