/**
 * A local GitHub Actions cache service on loopback, for the unmodified
 * @actions/cache client and for our own restore client. Both protocols:
 * v2 (twirp JSON plus Azure-style blob uploads) and v1 (the REST API under
 * `_apis/artifactcache/`, as GHES and nektos/act speak it), chosen per job by
 * the environment `envFor` hands out.
 *
 * - Lookup order as on GitHub: for the job's own branch, then the default
 *   branch: the exact key, then the newest entry whose key starts with the
 *   key, then each restore key (exact, then newest prefix match). Keys are
 *   compared case-insensitively, as GitHub's service does; `lowerCaseKeys`
 *   stores them lower-cased on save, as nektos/act does.
 * - Entries are immutable: creating a key that exists (or is being uploaded),
 *   even in another letter case, is refused with 409, which the client
 *   reports as a reserve conflict.
 * - Only finalized entries are visible; an upload that never finalizes leaves
 *   nothing behind.
 * - Downloads honour a single HTTP Range (206) and can be throttled
 *   (`throttle(bytesPerSecond)`); each download records the entry's last access.
 *   Uploads (the request bodies of blob PUTs and v1 PATCHes) are throttled on
 *   their own, by `throttleUploads(bytesPerSecond)`: a link's two directions
 *   do not share their throughput.
 * - The bearer token names the job's branch: `branch:<name>`.
 * - Fault switches: down, 5xx, slow, rate limit, reserve conflict, corrupt
 *   download, Range ignored, read or write denied by policy. Those last until
 *   switched off; blips (`flakyLookups`, `flakyDownloads`, `cutDownloads`)
 *   hit only the next N requests of their kind and then heal, as a real
 *   service's hiccup does. A request a fault answered is logged with the
 *   status it got (a cut download as 206 with `cut: true`).
 * - `entries()` and `deleteEntry(id)` serve an emulation of GitHub's REST
 *   cache API (the protocol itself has no list or delete).
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, promises as fs, rmSync, statSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface Entry {
  id: number;
  key: string;
  version: string;
  branch: string;
  seq: number;
  file: string;
  size: number;
  finalized: boolean;
  /** Uncommitted Azure blocks, by block id. */
  blocks: Map<string, Buffer>;
  /** When the entry was created (reserved), ms since the epoch. */
  createdAt: number;
  /** When its archive was last downloaded (else its creation), ms since the epoch. */
  lastAccessedAt: number;
}

/** An entry as GitHub's REST API lists it (`GET /repos/{o}/{r}/actions/caches`). */
export interface EntryInfo {
  id: number;
  key: string;
  /** The scope: `refs/heads/<branch>`. */
  ref: string;
  version: string;
  sizeBytes: number;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601. */
  lastAccessedAt: string;
}

export type Protocol = 'v1' | 'v2';

/** A fault for the next `times` requests of one kind, then gone: a blip, not an outage. */
export interface Blip {
  /** How many more requests get it; counts down to 0 as they do. */
  times: number;
  /** 503, or 429 with `Retry-After: 1`. */
  status: 503 | 429;
}

export interface Faults {
  /** HTTP status for every twirp call (500, 503...). */
  status?: number;
  /** Delay before answering any request, in ms. */
  delayMs?: number;
  /** Answer twirp calls with 429 and a Retry-After. */
  rateLimit?: boolean;
  /** Refuse every CreateCacheEntry as if another job held the key. */
  reserveConflict?: boolean;
  /** Serve truncated archives on download. */
  corruptDownload?: boolean;
  /** Answer every download with the whole archive (200), ignoring Range. */
  ignoreRange?: boolean;
  /** Refuse lookups with 403 "cache read denied: ..." (a token without readable scopes). */
  denyRead?: boolean;
  /** Refuse reservations with 403 "cache write denied: ..." (a read-only token). */
  denyWrite?: boolean;
  /** The next lookups (v1 `GET cache` or v2 `GetCacheEntryDownloadURL`) fail, then work. */
  flakyLookups?: Blip;
  /** The next archive download requests (ranged or not) fail, then work. */
  flakyDownloads?: Blip;
  /** The next `n` downloads send their headers and half their body, then drop the connection. */
  cutDownloads?: number;
}

const READ_DENIED = 'cache read denied: the token of this run has no readable cache scopes';
const WRITE_DENIED = 'cache write denied: the token of this run is read-only';

export interface RequestLog {
  /**
   * The twirp method name; v1 calls are logged under the name of the v2 call
   * they stand for (`GetCacheEntryDownloadURL`, `CreateCacheEntry`,
   * `FinalizeCacheEntryUpload`), plus `upload-chunk`, `download`, `upload*`.
   */
  method: string;
  body?: Record<string, unknown>;
  status: number;
  protocol?: Protocol;
  /** The Range header of a download, if any. */
  range?: string;
  /** A download dropped mid-body by `cutDownloads`. */
  cut?: boolean;
  /** The entry a download asked for. */
  entryId?: number;
}

const TWIRP = '/twirp/github.actions.results.api.v1.CacheService/';
const V1 = '/_apis/artifactcache/';
const THROTTLE_CHUNK = 64 * 1024;

export class CacheServer {
  /** Every entry, finalized or not. */
  readonly records: Entry[] = [];
  readonly log: RequestLog[] = [];
  faults: Faults = {};
  /** Store keys lower-cased on save, as nektos/act does. */
  lowerCaseKeys = false;
  /** The service's clock (ms since the epoch); replace it to age entries in tests. */
  clock: () => number = () => Date.now();
  private server?: http.Server;
  private seq = 0;
  private nextId = 1;
  private port = 0;
  private bytesPerSecond: number | undefined;
  private throttleScope: 'total' | 'connection' = 'total';
  /** When the shared (total) throttle is free to send the next chunk. */
  private throttleFreeAt = 0;
  private uploadBytesPerSecond: number | undefined;
  /** When the upload throttle (shared by every request body) is free to take the next chunk. */
  private uploadFreeAt = 0;

  constructor(
    readonly dir: string,
    readonly defaultBranch = 'main',
  ) {
    mkdirSync(dir, { recursive: true });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /**
   * Env vars that point @actions/cache at this service for a job on `branch`:
   * v2 (the default) sets ACTIONS_CACHE_SERVICE_V2 and ACTIONS_RESULTS_URL;
   * v1 sets only ACTIONS_CACHE_URL, as GHES and nektos/act do.
   */
  envFor(branch: string, options: { protocol?: Protocol } = {}): Record<string, string> {
    const common = {
      ACTIONS_RUNTIME_TOKEN: `branch:${branch}`,
      GITHUB_SERVER_URL: 'https://github.com',
    };
    if (options.protocol === 'v1') return { ACTIONS_CACHE_URL: this.url, ...common };
    return { ACTIONS_CACHE_SERVICE_V2: 'true', ACTIONS_RESULTS_URL: this.url, ...common };
  }

  /**
   * Limits download speed to `bytesPerSecond` (undefined or 0: unlimited), over
   * all downloads together (`total`, like one network link) or for each
   * request on its own (`connection`, like a per-connection cap on blob
   * storage). Takes effect at once, also for downloads under way.
   */
  throttle(bytesPerSecond: number | undefined, scope: 'total' | 'connection' = 'total'): void {
    this.bytesPerSecond = bytesPerSecond && bytesPerSecond > 0 ? bytesPerSecond : undefined;
    this.throttleScope = scope;
    this.throttleFreeAt = 0;
  }

  /**
   * Limits how fast request bodies are read (uploads: blob PUTs, v1 PATCHes,
   * and the small twirp bodies) to `bytesPerSecond` over all requests
   * together; undefined or 0: unlimited. `throttle` leaves uploads alone.
   */
  throttleUploads(bytesPerSecond: number | undefined): void {
    this.uploadBytesPerSecond = bytesPerSecond && bytesPerSecond > 0 ? bytesPerSecond : undefined;
    this.uploadFreeAt = 0;
  }

  /** Finalized entries as GitHub's REST API lists them, newest first. */
  entries(): EntryInfo[] {
    return this.finalized()
      .sort((a, b) => b.seq - a.seq)
      .map((e) => ({
        id: e.id,
        key: e.key,
        ref: refOf(e.branch),
        version: e.version,
        sizeBytes: e.size,
        createdAt: new Date(e.createdAt).toISOString(),
        lastAccessedAt: new Date(e.lastAccessedAt).toISOString(),
      }));
  }

  /** Deletes an entry (finalized or not) and its archive; false when there is none with `id`. */
  deleteEntry(id: number): boolean {
    const at = this.records.findIndex((e) => e.id === id);
    if (at < 0) return false;
    const [gone] = this.records.splice(at, 1);
    rmSync(gone!.file, { force: true });
    return true;
  }

  async start(port = 0): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'internal', msg: e.message }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops listening: clients then get "connection refused" on the same URL. */
  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  finalized(): Entry[] {
    return this.records.filter((e) => e.finalized);
  }

  keys(): string[] {
    return this.finalized().map((e) => e.key);
  }

  calls(method: string): RequestLog[] {
    return this.log.filter((l) => l.method === method);
  }

  private visible(branch: string, version: string): Entry[][] {
    const scopes = branch === this.defaultBranch ? [branch] : [branch, this.defaultBranch];
    return scopes.map((scope) =>
      this.records
        .filter((e) => e.finalized && e.branch === scope && e.version === version)
        .sort((a, b) => b.seq - a.seq),
    );
  }

  /** The entry a lookup finds; keys compare case-insensitively. */
  lookup(branch: string, key: string, restoreKeys: string[], version: string): Entry | undefined {
    const exactly = (k: string) => (e: Entry) => sameKey(e.key, k);
    const prefix = (k: string) => (e: Entry) => e.key.toLowerCase().startsWith(k.toLowerCase());
    for (const scoped of this.visible(branch, version)) {
      const exact = scoped.find(exactly(key));
      if (exact) return exact;
      const prefixed = scoped.find(prefix(key));
      if (prefixed) return prefixed;
      for (const rk of restoreKeys) {
        const hit = scoped.find(exactly(rk)) ?? scoped.find(prefix(rk));
        if (hit) return hit;
      }
    }
    return undefined;
  }

  /** An entry (even one still uploading) that a new `key` would collide with. */
  private taken(branch: string, key: string, version: string): Entry | undefined {
    return this.records.find(
      (e) => sameKey(e.key, key) && e.version === version && e.branch === branch,
    );
  }

  /** Reserves a new entry; undefined when the key is taken or a conflict is injected. */
  private reserve(branch: string, key: string, version: string): Entry | undefined {
    if (this.faults.reserveConflict || this.taken(branch, key, version)) return undefined;
    const id = this.nextId++;
    const now = this.clock();
    const entry: Entry = {
      id,
      key: this.lowerCaseKeys ? key.toLowerCase() : key,
      version,
      branch,
      seq: 0,
      file: path.join(this.dir, `${id}.bin`),
      size: 0,
      finalized: false,
      blocks: new Map(),
      createdAt: now,
      lastAccessedAt: now,
    };
    this.records.push(entry);
    return entry;
  }

  /**
   * Stores raw archive bytes as a finalized entry, bypassing any client: what
   * a workflow writing to the repository's cache could plant (tests only).
   */
  async putArchive(branch: string, key: string, version: string, data: Buffer): Promise<void> {
    const entry = this.reserve(branch, key, version);
    if (!entry) throw new Error(`cannot plant ${key}: the key is taken`);
    await fs.writeFile(entry.file, data);
    this.finalize(entry, data.length);
  }

  private finalize(entry: Entry, size: number): void {
    entry.size = size;
    entry.finalized = true;
    entry.seq = ++this.seq;
  }

  private blobUrl(id: number): string {
    return `${this.url}blob/devstoreaccount1/cache/${id}?sig=loopback-test-signature`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const body = await readBody(req, (n) => this.uploadDelay(n));
    if (this.faults.delayMs) await new Promise((r) => setTimeout(r, this.faults.delayMs));
    if (res.destroyed) return;

    if (url.pathname.startsWith(TWIRP)) {
      const method = url.pathname.slice(TWIRP.length);
      const json = body.length
        ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>)
        : {};
      const reply = (
        status: number,
        payload: unknown,
        headers: Record<string, string> = {},
      ): void => {
        this.log.push({ method, body: json, status });
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(payload));
      };
      if (this.faults.rateLimit) {
        return reply(
          429,
          { code: 'resource_exhausted', msg: 'rate limited' },
          { 'retry-after': '60' },
        );
      }
      const blip = method === 'GetCacheEntryDownloadURL' && takeBlip(this.faults.flakyLookups);
      if (blip) {
        return reply(blip.status, { code: 'unavailable', msg: 'injected blip' }, blipHeaders(blip));
      }
      if (this.faults.status) {
        return reply(this.faults.status, { code: 'internal', msg: 'injected failure' });
      }
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer branch:(.+)$/.exec(auth);
      if (!m) return reply(401, { code: 'unauthenticated', msg: 'missing token' });
      const branch = m[1] as string;
      const key = String(json['key'] ?? '');
      const version = String(json['version'] ?? '');
      switch (method) {
        case 'GetCacheEntryDownloadURL': {
          if (this.faults.denyRead) {
            return reply(403, { code: 'permission_denied', msg: READ_DENIED });
          }
          const restoreKeys = (json['restore_keys'] as string[] | undefined) ?? [];
          const hit = this.lookup(branch, key, restoreKeys, version);
          if (!hit) return reply(200, { ok: false, signed_download_url: '', matched_key: '' });
          return reply(200, {
            ok: true,
            signed_download_url: this.blobUrl(hit.id),
            matched_key: hit.key,
          });
        }
        case 'CreateCacheEntry': {
          if (this.faults.denyWrite) {
            return reply(403, { code: 'permission_denied', msg: WRITE_DENIED });
          }
          const entry = this.reserve(branch, key, version);
          if (!entry) {
            return reply(409, { code: 'already_exists', msg: 'cache entry already exists' });
          }
          return reply(200, { ok: true, signed_upload_url: this.blobUrl(entry.id) });
        }
        case 'FinalizeCacheEntryUpload': {
          const entry = this.records.find(
            (e) =>
              sameKey(e.key, key) && e.version === version && e.branch === branch && !e.finalized,
          );
          if (!entry) return reply(404, { code: 'not_found', msg: 'no upload in progress' });
          const size = statSync(entry.file, { throwIfNoEntry: false })?.size ?? -1;
          if (size !== Number(json['size_bytes'])) {
            return reply(200, { ok: false, entry_id: '0', message: `size mismatch ${size}` });
          }
          this.finalize(entry, size);
          return reply(200, { ok: true, entry_id: String(entry.id) });
        }
        default:
          return reply(404, { code: 'bad_route', msg: `no method ${method}` });
      }
    }

    if (url.pathname.startsWith(V1)) return this.handleV1(req, res, url, body);

    const blob = /^\/blob\/devstoreaccount1\/cache\/(\d+)$/.exec(url.pathname);
    if (blob) {
      const entry = this.records.find((e) => e.id === Number(blob[1]));
      if (!entry) {
        res.writeHead(404).end();
        return;
      }
      if (req.method === 'GET' || req.method === 'HEAD') return this.download(req, res, entry);
      if (req.method === 'PUT') {
        if (entry.finalized) {
          res.writeHead(409).end();
          return;
        }
        const comp = url.searchParams.get('comp');
        const headers = {
          'x-ms-request-id': createHash('sha1').update(String(Date.now())).digest('hex'),
          'x-ms-version': '2024-11-04',
          etag: '"0x1"',
          'last-modified': new Date().toUTCString(),
          'x-ms-request-server-encrypted': 'true',
        };
        if (comp === 'block') {
          entry.blocks.set(url.searchParams.get('blockid') ?? '', body);
          this.log.push({ method: 'upload-block', status: 201 });
        } else if (comp === 'blocklist') {
          const ids = [
            ...body.toString('utf8').matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)<\//g),
          ].map((x) => x[1] as string);
          const parts = ids.map((id) => {
            const part = entry.blocks.get(id);
            if (!part) throw new Error(`unknown block ${id}`);
            return part;
          });
          await fs.writeFile(entry.file, Buffer.concat(parts));
          entry.blocks.clear();
          this.log.push({ method: 'upload-blocklist', status: 201 });
        } else {
          await fs.writeFile(entry.file, body);
          this.log.push({ method: 'upload', status: 201 });
        }
        res.writeHead(201, headers);
        res.end();
        return;
      }
    }
    res.writeHead(404).end();
  }

  /**
   * The v1 REST protocol: lookup `GET cache?keys=&version=`, reserve `POST
   * caches`, upload `PATCH caches/{id}` (Content-Range), commit `POST
   * caches/{id}` {size}, and `GET caches?key=` (the client's debug listing).
   */
  private async handleV1(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    body: Buffer,
  ): Promise<void> {
    const resource = url.pathname.slice(V1.length);
    const json =
      body.length && req.method === 'POST'
        ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>)
        : {};
    let method = `${req.method} ${resource}`;
    if (req.method === 'GET' && resource === 'cache') {
      method = 'GetCacheEntryDownloadURL';
      Object.assign(json, v1LookupRequest(url));
    } else if (req.method === 'POST' && resource === 'caches') method = 'CreateCacheEntry';
    else if (req.method === 'POST' && /^caches\/\d+$/.test(resource)) {
      method = 'FinalizeCacheEntryUpload';
    } else if (req.method === 'PATCH') method = 'upload-chunk';
    const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      this.log.push({ method, body: json, status, protocol: 'v1' });
      if (payload === undefined) {
        res.writeHead(status, headers).end();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };
    if (this.faults.rateLimit) {
      return reply(429, { message: 'rate limited' }, { 'retry-after': '60' });
    }
    const blip = method === 'GetCacheEntryDownloadURL' && takeBlip(this.faults.flakyLookups);
    if (blip) return reply(blip.status, { message: 'injected blip' }, blipHeaders(blip));
    if (this.faults.status) return reply(this.faults.status, { message: 'injected failure' });
    const m = /^Bearer branch:(.+)$/.exec(req.headers.authorization ?? '');
    if (!m) return reply(401, { message: 'missing token' });
    const branch = m[1] as string;

    if (method === 'GetCacheEntryDownloadURL' && this.faults.denyRead) {
      return reply(403, { message: READ_DENIED });
    }
    if (method === 'CreateCacheEntry' && this.faults.denyWrite) {
      return reply(403, { message: WRITE_DENIED });
    }
    if (req.method === 'GET' && resource === 'cache') {
      const { key, restore_keys: restoreKeys, version } = v1LookupRequest(url);
      const hit = this.lookup(branch, key, restoreKeys, version);
      if (!hit) return reply(204);
      return reply(200, {
        cacheKey: hit.key,
        scope: refOf(hit.branch),
        cacheVersion: hit.version,
        creationTime: new Date(hit.createdAt).toISOString(),
        archiveLocation: this.blobUrl(hit.id),
      });
    }
    if (req.method === 'GET' && resource === 'caches') {
      const prefix = (url.searchParams.get('key') ?? '').toLowerCase();
      const found = this.finalized().filter((e) => e.key.toLowerCase().startsWith(prefix));
      return reply(200, {
        totalCount: found.length,
        artifactCaches: found.map((e) => ({
          cacheKey: e.key,
          cacheVersion: e.version,
          scope: refOf(e.branch),
          creationTime: new Date(e.createdAt).toISOString(),
        })),
      });
    }
    if (req.method === 'POST' && resource === 'caches') {
      const key = String(json['key'] ?? '');
      const version = String(json['version'] ?? '');
      const entry = this.reserve(branch, key, version);
      if (!entry) {
        return reply(409, {
          message: `Cache already exists. Scope: ${refOf(branch)}, Key: ${key}, Version: ${version}`,
        });
      }
      await fs.writeFile(entry.file, Buffer.alloc(0));
      return reply(201, { cacheId: entry.id });
    }
    const idMatch = /^caches\/(\d+)$/.exec(resource);
    const entry = idMatch
      ? this.records.find((e) => e.id === Number(idMatch[1]) && e.branch === branch)
      : undefined;
    if (idMatch && !entry) return reply(404, { message: `no cache ${idMatch[1]} being uploaded` });
    if (entry && entry.finalized) return reply(409, { message: 'cache already committed' });
    if (entry && req.method === 'PATCH') {
      const range = /^bytes (\d+)-(\d+)\/\*$/.exec(req.headers['content-range'] ?? '');
      const start = Number(range?.[1]);
      const end = Number(range?.[2]);
      if (!range || end - start + 1 !== body.length) {
        return reply(400, { message: `bad Content-Range ${req.headers['content-range'] ?? ''}` });
      }
      const fh = await fs.open(entry.file, 'r+');
      try {
        await fh.write(body, 0, body.length, start);
      } finally {
        await fh.close();
      }
      return reply(204);
    }
    if (entry && req.method === 'POST') {
      const size = statSync(entry.file, { throwIfNoEntry: false })?.size ?? -1;
      if (size !== Number(json['size'])) {
        return reply(400, {
          message: `size mismatch: uploaded ${size}, committed ${json['size']}`,
        });
      }
      this.finalize(entry, size);
      return reply(204);
    }
    return reply(404, { message: `no route ${req.method} ${resource}` });
  }

  /** Serves an archive: whole (200) or one byte range (206), throttled if asked. */
  private async download(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    entry: Entry,
  ): Promise<void> {
    const rangeHeader = req.headers.range;
    const blip = takeBlip(this.faults.flakyDownloads);
    if (blip) {
      this.log.push({
        method: 'download',
        status: blip.status,
        range: rangeHeader,
        entryId: entry.id,
      });
      res.writeHead(blip.status, blipHeaders(blip)).end('injected blip');
      return;
    }
    entry.lastAccessedAt = this.clock();
    if (this.faults.corruptDownload) {
      this.log.push({ method: 'download', status: 200, range: rangeHeader, entryId: entry.id });
      const data = await fs.readFile(entry.file);
      const broken = data.subarray(0, Math.floor(data.length / 2));
      res.writeHead(200, { 'content-length': String(broken.length) });
      res.end(req.method === 'HEAD' ? undefined : broken);
      return;
    }
    const range = this.faults.ignoreRange ? undefined : parseRange(rangeHeader, entry.size);
    if (range === 'unsatisfiable') {
      this.log.push({ method: 'download', status: 416, range: rangeHeader, entryId: entry.id });
      res.writeHead(416, { 'content-range': `bytes */${entry.size}` }).end();
      return;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? entry.size - 1;
    const status = range ? 206 : 200;
    const logged: RequestLog = {
      method: 'download',
      status,
      range: rangeHeader,
      entryId: entry.id,
    };
    this.log.push(logged);
    const headers: Record<string, string> = {
      'content-length': String(end - start + 1),
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
    };
    if (range) headers['content-range'] = `bytes ${start}-${end}/${entry.size}`;
    if (req.method === 'GET' && end >= start && (this.faults.cutDownloads ?? 0) > 0) {
      this.faults.cutDownloads!--;
      logged.cut = true;
      return this.sendHalfAndDrop(res, status, headers, entry, start, end);
    }
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || end < start) {
      res.end();
      return;
    }
    const file = createReadStream(entry.file, { start, end, highWaterMark: THROTTLE_CHUNK });
    if (!this.bytesPerSecond) {
      file.pipe(res);
      res.on('close', () => file.destroy());
      return;
    }
    await this.sendThrottled(file, res);
  }

  /** How long to wait before reading `bytes` more of a request body (ms), by the upload throttle. */
  private uploadDelay(bytes: number): number {
    const bps = this.uploadBytesPerSecond;
    if (!bps) return 0;
    const now = Date.now();
    this.uploadFreeAt = Math.max(now, this.uploadFreeAt) + (bytes / bps) * 1000;
    return this.uploadFreeAt - now;
  }

  /** Announces the whole range, sends the first half of it and drops the connection. */
  private async sendHalfAndDrop(
    res: http.ServerResponse,
    status: number,
    headers: Record<string, string>,
    entry: Entry,
    start: number,
    end: number,
  ): Promise<void> {
    const data = (await fs.readFile(entry.file)).subarray(start, end + 1);
    res.writeHead(status, headers);
    res.write(data.subarray(0, Math.floor(data.length / 2)), () => res.destroy());
  }

  /** Writes `file` to `res` no faster than the throttle allows, re-reading it for every chunk. */
  private async sendThrottled(
    file: NodeJS.ReadableStream,
    res: http.ServerResponse,
  ): Promise<void> {
    let connectionFreeAt = 0;
    try {
      for await (const chunk of file as AsyncIterable<Buffer>) {
        if (res.destroyed) break;
        const bps = this.bytesPerSecond;
        if (bps) {
          const now = Date.now();
          const cost = (chunk.length / bps) * 1000;
          let at: number;
          if (this.throttleScope === 'total') {
            at = Math.max(now, this.throttleFreeAt) + cost;
            this.throttleFreeAt = at;
          } else {
            at = Math.max(now, connectionFreeAt) + cost;
            connectionFreeAt = at;
          }
          if (at - now >= 1) await new Promise((r) => setTimeout(r, at - now));
        }
        if (res.destroyed) break;
        if (!res.write(chunk)) {
          await new Promise<void>((r) => {
            const done = (): void => {
              res.off('drain', done);
              res.off('close', done);
              r();
            };
            res.on('drain', done);
            res.on('close', done);
          });
        }
      }
    } finally {
      (file as unknown as { destroy(): void }).destroy();
      res.end();
    }
  }
}

/** A v1 lookup's query as the twirp request body it stands for. */
function v1LookupRequest(url: URL): { key: string; restore_keys: string[]; version: string } {
  const [key = '', ...restoreKeys] = (url.searchParams.get('keys') ?? '').split(',');
  return { key, restore_keys: restoreKeys, version: url.searchParams.get('version') ?? '' };
}

/** Spends one request of a blip: the blip if it still applies, else undefined. */
function takeBlip(blip: Blip | undefined): Blip | undefined {
  if (!blip || blip.times <= 0) return undefined;
  blip.times--;
  return blip;
}

function blipHeaders(blip: Blip): Record<string, string> {
  return blip.status === 429 ? { 'retry-after': '1' } : {};
}

/** Reads a request body, pausing `delay(chunk bytes)` ms after each chunk (a throttle). */
function readBody(req: http.IncomingMessage, delay: (bytes: number) => number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      const ms = delay(c.length);
      if (ms >= 1) {
        req.pause();
        setTimeout(() => req.resume(), ms);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Keys compare as GitHub's service compares them: ignoring letter case. */
function sameKey(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The REST API's `ref` of a scope. */
function refOf(branch: string): string {
  return branch.startsWith('refs/') ? branch : `refs/heads/${branch}`;
}

/**
 * One `bytes=a-b`, `bytes=a-` or `bytes=-n` range of a `size`-byte file;
 * undefined (serve it all) when absent or not a single byte range.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec((header ?? '').trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}
