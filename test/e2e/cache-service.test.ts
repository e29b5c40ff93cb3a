/**
 * The local cache service itself, driven by the clients the action uses:
 * lookup order, immutability, branch scopes, and Azure block uploads (which
 * the cache client only uses above 128 MiB, so the Azure SDK drives them here
 * with small blocks).
 */
import { BlockBlobClient } from '@azure/storage-blob';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheServer } from './harness/cache-server.js';

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
