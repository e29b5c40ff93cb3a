/**
 * The local cache service itself, driven by the clients the action uses:
 * lookup order, immutability, branch scopes, and Azure block uploads (which
 * the cache client only uses above 128 MiB, so the Azure SDK drives them here
 * with small blocks); the v1 REST protocol with the real @actions/cache
 * client; Range, throttling, case-insensitive keys and the REST-API view.
 * Our own restore client (lookup + segmented download) must find and fetch
 * exactly what the real client saved, over both protocols.
 */
import { BlockBlobClient } from '@azure/storage-blob';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadStream } from '../../src/cache/download.js';
import {
  cacheServiceFromEnv,
  compressionForSave,
  entryVersion,
} from '../../src/cache/service/index.js';
import { CacheServer, type Protocol } from './harness/cache-server.js';
import { REPO_ROOT } from './harness/runner.js';

const execFileAsync = promisify(execFile);

let server: CacheServer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vgc-service-'));
  server = new CacheServer(dir);
  await server.start();
});

afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function twirp(
  method: string,
  body: object,
  branch = 'main',
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(
    `${server.url}twirp/github.actions.results.api.v1.CacheService/${method}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer branch:${branch}` },
      body: JSON.stringify(body),
    },
  );
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function put(key: string, data: Buffer, branch = 'main', version = 'v1'): Promise<void> {
  const created = await twirp('CreateCacheEntry', { key, version }, branch);
  expect(created.status).toBe(200);
  const blob = new BlockBlobClient(created.json['signed_upload_url'] as string);
  await blob.uploadData(data, { maxSingleShotSize: 1024, blockSize: 1024, concurrency: 2 });
  const fin = await twirp(
    'FinalizeCacheEntryUpload',
    { key, version, size_bytes: String(data.length) },
    branch,
  );
  expect(fin.json['ok']).toBe(true);
}

async function get(
  key: string,
  restoreKeys: string[] = [],
  branch = 'main',
  version = 'v1',
): Promise<string | undefined> {
  const r = await twirp(
    'GetCacheEntryDownloadURL',
    { key, restore_keys: restoreKeys, version },
    branch,
  );
  if (!r.json['ok']) return undefined;
  return r.json['matched_key'] as string;
}

describe('local cache service', () => {
  it('assembles Azure block uploads and serves the bytes back', async () => {
    const data = Buffer.alloc(5000, 7);
    data.write('first block', 0);
    data.write('last block', 4990);
    await put('blocks', data);
    expect(server.log.filter((l) => l.method === 'upload-block').length).toBe(5);
    expect(server.log.some((l) => l.method === 'upload-blocklist')).toBe(true);
    const r = await twirp('GetCacheEntryDownloadURL', {
      key: 'blocks',
      restore_keys: [],
      version: 'v1',
    });
    const body = Buffer.from(
      await (await fetch(r.json['signed_download_url'] as string)).arrayBuffer(),
    );
    expect(body.equals(data)).toBe(true);
  });

  it('matches exact, then newest prefix, then restore keys; versions must match', async () => {
    await put('a;x;1', Buffer.from('1'));
    await put('a;x;2', Buffer.from('2'));
    await put('a;y;1', Buffer.from('3'));
    expect(await get('a;x;1')).toBe('a;x;1');
    expect(await get('a;x;')).toBe('a;x;2');
    expect(await get('a;z;', ['a;y;', 'a;'])).toBe('a;y;1');
    expect(await get('a;z;', ['a;'])).toBe('a;y;1');
    expect(await get('a;x;1', [], 'main', 'v2')).toBeUndefined();
  });

  it('refuses to overwrite a key', async () => {
    const again = await twirp('CreateCacheEntry', { key: 'a;x;1', version: 'v1' });
    expect(again.status).toBe(409);
  });

  it('scopes entries by branch: a branch reads its own and the default branch', async () => {
    await put('scoped;feature', Buffer.from('f'), 'feature');
    expect(await get('scoped;', [], 'feature')).toBe('scoped;feature');
    expect(await get('scoped;', [], 'main')).toBeUndefined();
    expect(await get('a;x;', [], 'feature')).toBe('a;x;2');
    expect(await get('scoped;', [], 'other')).toBeUndefined();
  });

  it('never shows an entry whose upload was not finalized', async () => {
    const created = await twirp('CreateCacheEntry', { key: 'half', version: 'v1' });
    await new BlockBlobClient(created.json['signed_upload_url'] as string).uploadData(
      Buffer.from('x'),
    );
    expect(await get('half')).toBeUndefined();
  });

  it('fault switches', async () => {
    server.faults = { reserveConflict: true };
    expect((await twirp('CreateCacheEntry', { key: 'new', version: 'v1' })).status).toBe(409);
    server.faults = { status: 503 };
    expect((await twirp('GetCacheEntryDownloadURL', { key: 'a', version: 'v1' })).status).toBe(503);
    server.faults = { rateLimit: true };
    const limited = await fetch(
      `${server.url}twirp/github.actions.results.api.v1.CacheService/GetCacheEntryDownloadURL`,
      {
        method: 'POST',
        body: '{}',
      },
    );
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');
    server.faults = { delayMs: 300 };
    const t0 = Date.now();
    await get('a;x;1');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    server.faults = {};
  });
});

describe.each(['v1', 'v2'] as const)(
  'blips over %s: a fault for the next N requests, then healed',
  (protocol) => {
    async function lookup(): Promise<Response> {
      if (protocol === 'v2') {
        return fetch(
          `${server.url}twirp/github.actions.results.api.v1.CacheService/GetCacheEntryDownloadURL`,
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer branch:main' },
            body: JSON.stringify({ key: 'blip;1', restore_keys: [], version: 'b' }),
          },
        );
      }
      return fetch(`${server.url}_apis/artifactcache/cache?keys=blip%3B1&version=b`, {
        headers: { authorization: 'Bearer branch:main' },
      });
    }

    beforeAll(async () => {
      if (!server.keys().includes('blip;1')) await put('blip;1', Buffer.from('blip'), 'main', 'b');
    });

    it('lookups answer 503, then 429 with Retry-After: 1, then work', async () => {
      server.faults = { flakyLookups: { times: 1, status: 503 } };
      expect((await lookup()).status).toBe(503);
      expect((await lookup()).status).toBe(200);
      server.faults = { flakyLookups: { times: 2, status: 429 } };
      const limited = await lookup();
      expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '1']);
      expect((await lookup()).status).toBe(429);
      expect((await lookup()).status).toBe(200);
      const logged = server.calls('GetCacheEntryDownloadURL').slice(-5);
      expect(logged.map((l) => l.status)).toEqual([503, 200, 429, 429, 200]);
      expect(logged.every((l) => l.body?.['key'] === 'blip;1')).toBe(true);
      server.faults = {};
    });

    it('downloads answer 503 or 429, or are cut mid-body, the next N times only', async () => {
      const url = (await (await lookup()).json()) as {
        signed_download_url?: string;
        archiveLocation?: string;
      };
      const blob = url.signed_download_url ?? url.archiveLocation ?? '';
      server.faults = { flakyDownloads: { times: 1, status: 503 } };
      expect((await fetch(blob, { headers: { range: 'bytes=0-1' } })).status).toBe(503);
      const ok = await fetch(blob, { headers: { range: 'bytes=0-1' } });
      expect([ok.status, Buffer.from(await ok.arrayBuffer()).toString()]).toEqual([206, 'bl']);
      server.faults = { flakyDownloads: { times: 1, status: 429 } };
      const limited = await fetch(blob);
      expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '1']);
      server.faults = { cutDownloads: 1 };
      await expect(fetch(blob).then((r) => r.arrayBuffer())).rejects.toThrow();
      expect(Buffer.from(await (await fetch(blob)).arrayBuffer()).toString()).toBe('blip');
      expect(
        server
          .calls('download')
          .slice(-5)
          .map((l) => [l.status, l.cut ?? false]),
      ).toEqual([
        [503, false],
        [206, false],
        [429, false],
        [200, true],
        [200, false],
      ]);
      server.faults = {};
    });
  },
);

/**
 * Runs the real @actions/cache client the way our post stage will save: cwd
 * and GITHUB_WORKSPACE a staging directory, paths ['.'].
 */
async function realClient(
  args: string[],
  workspace: string,
  protocol: Protocol,
  branch = 'main',
): Promise<{ code: number; output: string }> {
  mkdirSync(workspace, { recursive: true });
  try {
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      [path.join(REPO_ROOT, 'test/e2e/harness/cache-client.mjs'), ...args],
      {
        cwd: workspace,
        env: {
          PATH: process.env['PATH'] ?? '',
          HOME: path.join(dir, 'home'),
          GITHUB_WORKSPACE: workspace,
          RUNNER_TEMP: path.join(dir, 'runner-temp'),
          ...server.envFor(branch, { protocol }),
        },
      },
    );
    return { code: 0, output: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

async function sha256Stream(stream: AsyncIterable<Buffer>): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of stream) h.update(chunk);
  return h.digest('hex');
}

describe.each(['v1', 'v2'] as const)('%s with the real client and ours', (protocol) => {
  it('the real client saves and restores; our client finds and downloads the same archive', async () => {
    const staging = path.join(dir, `staging-${protocol}`);
    mkdirSync(path.join(staging, 'cache', 'download', 'example.com', 'm', '@v'), {
      recursive: true,
    });
    writeFileSync(
      path.join(staging, 'cache', 'download', 'example.com', 'm', '@v', 'list'),
      'v1.0.0\n',
    );
    mkdirSync(path.join(staging, 'example.com', 'm@v1.0.0'), { recursive: true });
    writeFileSync(
      path.join(staging, 'example.com', 'm@v1.0.0', 'go.mod'),
      'module example.com/m\n',
    );
    const key = `go-mod;${protocol};Linux;abc`;
    const saved = await realClient(['save', key, '.'], staging, protocol);
    expect(saved.code, saved.output).toBe(0);
    const entry = server.finalized().find((e) => e.key === key);
    expect(entry).toBeDefined();
    expect(server.calls('CreateCacheEntry').at(-1)?.protocol).toBe(
      protocol === 'v1' ? 'v1' : undefined,
    );

    // The real client restores it (into another staging directory).
    const target = path.join(dir, `target-${protocol}`);
    const restored = await realClient(['restore', 'go-mod;', '.'], target, protocol);
    expect(restored.code, restored.output).toBe(0);
    expect(restored.output).toContain(`restored ${key}`);
    expect(readFileSync(path.join(target, 'example.com', 'm@v1.0.0', 'go.mod'), 'utf8')).toBe(
      'module example.com/m\n',
    );

    // Ours: same version, same entry, same bytes, fetched in ranges.
    const svc = cacheServiceFromEnv({ ...server.envFor('feature', { protocol }) });
    expect(svc?.protocol).toBe(protocol);
    const version = entryVersion(['.'], await compressionForSave(), process.platform);
    expect(version).toBe(entry!.version);
    const found = await svc!.lookup('go-mod;x', [`go-mod;${protocol};linux`], version, {
      timeoutMs: 5000,
    });
    expect(found).toMatchObject({ kind: 'hit', entry: { matchedKey: key } });
    if (found.kind !== 'hit') return;
    const before = server.log.length;
    const got = await sha256Stream(downloadStream(found.entry.downloadUrl, { segmentBytes: 64 }));
    expect(got).toBe(createHash('sha256').update(readFileSync(entry!.file)).digest('hex'));
    const ranged = server.log.slice(before).filter((l) => l.method === 'download');
    expect(ranged.length).toBe(Math.ceil(entry!.size / 64));
    expect(ranged.every((l) => l.status === 206)).toBe(true);
  });

  it('a policy denial: the real client and ours both treat it as no cache', async () => {
    server.faults = { denyRead: true, denyWrite: true };
    try {
      const staging = path.join(dir, `staging-${protocol}`);
      const restore = await realClient(
        ['restore', 'go-mod;', '.'],
        path.join(dir, 'denied'),
        protocol,
      );
      expect(restore.code).toBe(2);
      expect(restore.output).toContain('cache read denied:');
      const save = await realClient(['save', `denied;${protocol}`, '.'], staging, protocol);
      expect(save.code).toBe(1);
      expect(save.output).toContain('cache write denied:');
      const svc = cacheServiceFromEnv(server.envFor('main', { protocol }));
      expect(await svc!.lookup('go-mod;', [], 'any', { timeoutMs: 3000 })).toEqual({
        kind: 'denied',
        reason: expect.stringMatching(/^cache read denied: .* \(HTTP 403\)$/),
      });
    } finally {
      server.faults = {};
    }
  });

  it('refuses a second save of a key that differs only in case', async () => {
    const staging = path.join(dir, `staging-${protocol}`);
    const again = await realClient(
      ['save', `GO-MOD;${protocol};linux;ABC`, '.'],
      staging,
      protocol,
    );
    expect(again.code).toBe(1);
    expect(again.output).toMatch(/not saved/);
    expect(server.calls('CreateCacheEntry').at(-1)?.status).toBe(409);
  });
});

describe('downloads, keys and the REST view', () => {
  async function fetchBytes(
    url: string,
    range?: string,
  ): Promise<{ status: number; body: Buffer; headers: Headers }> {
    const res = await fetch(url, { headers: range ? { range } : {} });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
  }

  it('serves single byte ranges with 206 and refuses ranges past the end with 416', async () => {
    const data = Buffer.from('0123456789abcdef');
    await put('range;1', data, 'main', 'r');
    const r = await twirp('GetCacheEntryDownloadURL', { key: 'range;1', version: 'r' });
    const url = r.json['signed_download_url'] as string;
    const mid = await fetchBytes(url, 'bytes=4-7');
    expect([mid.status, mid.body.toString(), mid.headers.get('content-range')]).toEqual([
      206,
      '4567',
      'bytes 4-7/16',
    ]);
    expect((await fetchBytes(url, 'bytes=10-')).body.toString()).toBe('abcdef');
    expect((await fetchBytes(url, 'bytes=-3')).body.toString()).toBe('def');
    const past = await fetchBytes(url, 'bytes=16-20');
    expect([past.status, past.headers.get('content-range')]).toEqual([416, 'bytes */16']);
    const whole = await fetchBytes(url);
    expect([whole.status, whole.body.equals(data)]).toEqual([200, true]);
    server.faults = { ignoreRange: true };
    expect((await fetchBytes(url, 'bytes=4-7')).status).toBe(200);
    server.faults = {};
  });

  it('throttles downloads, changeable at runtime', async () => {
    const data = Buffer.alloc(256 * 1024, 1);
    await put('throttle;1', data, 'main', 'r');
    const r = await twirp('GetCacheEntryDownloadURL', { key: 'throttle;1', version: 'r' });
    const url = r.json['signed_download_url'] as string;
    server.throttle(512 * 1024);
    let t0 = Date.now();
    expect((await fetchBytes(url)).body.equals(data)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    server.throttle(undefined);
    t0 = Date.now();
    await fetchBytes(url);
    expect(Date.now() - t0).toBeLessThan(200);
  });

  it('matches keys case-insensitively; lowerCaseKeys stores them lower-cased', async () => {
    await put('Case;Key;1', Buffer.from('c'), 'main', 'c');
    expect(await get('case;key;1', [], 'main', 'c')).toBe('Case;Key;1');
    expect(await get('CASE;', [], 'main', 'c')).toBe('Case;Key;1');
    expect(await get('nothing', ['case;KEY'], 'main', 'c')).toBe('Case;Key;1');
    expect((await twirp('CreateCacheEntry', { key: 'CASE;KEY;1', version: 'c' })).status).toBe(409);
    server.lowerCaseKeys = true;
    try {
      await put('Act;Style', Buffer.from('a'), 'main', 'c');
      expect(await get('ACT;STYLE', [], 'main', 'c')).toBe('act;style');
    } finally {
      server.lowerCaseKeys = false;
    }
  });

  it('lists entries like the REST API, records downloads as access, and deletes', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    server.clock = () => now;
    try {
      await put('rest;1', Buffer.from('12345'), 'feature-z', 'rv');
      const listed = server.entries().find((e) => e.key === 'rest;1');
      expect(listed).toEqual({
        id: expect.any(Number),
        key: 'rest;1',
        ref: 'refs/heads/feature-z',
        version: 'rv',
        sizeBytes: 5,
        createdAt: '2026-01-01T00:00:00.000Z',
        lastAccessedAt: '2026-01-01T00:00:00.000Z',
      });
      now += 3600_000;
      const r = await twirp(
        'GetCacheEntryDownloadURL',
        { key: 'rest;1', version: 'rv' },
        'feature-z',
      );
      await fetchBytes(r.json['signed_download_url'] as string);
      expect(server.entries().find((e) => e.key === 'rest;1')?.lastAccessedAt).toBe(
        '2026-01-01T01:00:00.000Z',
      );
      expect(server.deleteEntry(listed!.id)).toBe(true);
      expect(server.deleteEntry(listed!.id)).toBe(false);
      expect(await get('rest;1', [], 'feature-z', 'rv')).toBeUndefined();
    } finally {
      server.clock = () => Date.now();
    }
  });
});
