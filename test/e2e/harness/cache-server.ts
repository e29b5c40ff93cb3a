/**
 * A local GitHub Actions cache service (v2: twirp JSON plus Azure-style blob
 * uploads) on loopback, for the unmodified @actions/cache client.
 *
 * - Lookup order as on GitHub: for the job's own branch, then the default
 *   branch: the exact key, then the newest entry whose key starts with the
 *   key, then each restore key (exact, then newest prefix match).
 * - Entries are immutable: creating a key that exists (or is being uploaded)
 *   is refused with 409, which the client reports as a reserve conflict.
 * - Only finalized entries are visible; an upload that never finalizes leaves
 *   nothing behind.
 * - The bearer token names the job's branch: `branch:<name>`.
 * - Fault switches: down, 5xx, slow, rate limit, reserve conflict, corrupt
 *   download.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, promises as fs, statSync } from 'node:fs';
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
}

export interface RequestLog {
  method: string;
  body?: Record<string, unknown>;
  status: number;
}

const TWIRP = '/twirp/github.actions.results.api.v1.CacheService/';

export class CacheServer {
  readonly entries: Entry[] = [];
  readonly log: RequestLog[] = [];
  faults: Faults = {};
  private server?: http.Server;
  private seq = 0;
  private port = 0;

  constructor(
    readonly dir: string,
    readonly defaultBranch = 'main',
  ) {
    mkdirSync(dir, { recursive: true });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** Env vars that point @actions/cache at this service for a job on `branch`. */
  envFor(branch: string): Record<string, string> {
    return {
      ACTIONS_CACHE_SERVICE_V2: 'true',
      ACTIONS_RESULTS_URL: this.url,
      ACTIONS_RUNTIME_TOKEN: `branch:${branch}`,
      GITHUB_SERVER_URL: 'https://github.com',
    };
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
    return this.entries.filter((e) => e.finalized);
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
      this.entries
        .filter((e) => e.finalized && e.branch === scope && e.version === version)
        .sort((a, b) => b.seq - a.seq),
    );
  }

  lookup(branch: string, key: string, restoreKeys: string[], version: string): Entry | undefined {
    for (const scoped of this.visible(branch, version)) {
      const exact = scoped.find((e) => e.key === key);
      if (exact) return exact;
      const prefixed = scoped.find((e) => e.key.startsWith(key));
      if (prefixed) return prefixed;
      for (const rk of restoreKeys) {
        const hit = scoped.find((e) => e.key === rk) ?? scoped.find((e) => e.key.startsWith(rk));
        if (hit) return hit;
      }
    }
    return undefined;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const body = await readBody(req);
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
          const restoreKeys = (json['restore_keys'] as string[] | undefined) ?? [];
          const hit = this.lookup(branch, key, restoreKeys, version);
          if (!hit) return reply(200, { ok: false, signed_download_url: '', matched_key: '' });
          return reply(200, {
            ok: true,
            signed_download_url: `${this.url}blob/devstoreaccount1/cache/${hit.id}?sig=loopback-test-signature`,
            matched_key: hit.key,
          });
        }
        case 'CreateCacheEntry': {
          const taken = this.entries.some(
            (e) => e.key === key && e.version === version && e.branch === branch,
          );
          if (this.faults.reserveConflict || taken) {
            return reply(409, { code: 'already_exists', msg: 'cache entry already exists' });
          }
          const id = this.entries.length + 1;
          this.entries.push({
            id,
            key,
            version,
            branch,
            seq: 0,
            file: path.join(this.dir, `${id}.bin`),
            size: 0,
            finalized: false,
            blocks: new Map(),
          });
          return reply(200, {
            ok: true,
            signed_upload_url: `${this.url}blob/devstoreaccount1/cache/${id}?sig=loopback-test-signature`,
          });
        }
        case 'FinalizeCacheEntryUpload': {
          const entry = this.entries.find(
            (e) => e.key === key && e.version === version && e.branch === branch && !e.finalized,
          );
          if (!entry) return reply(404, { code: 'not_found', msg: 'no upload in progress' });
          const size = statSync(entry.file, { throwIfNoEntry: false })?.size ?? -1;
          if (size !== Number(json['size_bytes'])) {
            return reply(200, { ok: false, entry_id: '0', message: `size mismatch ${size}` });
          }
          entry.size = size;
          entry.finalized = true;
          entry.seq = ++this.seq;
          return reply(200, { ok: true, entry_id: String(entry.id) });
        }
        default:
          return reply(404, { code: 'bad_route', msg: `no method ${method}` });
      }
    }

    const blob = /^\/blob\/devstoreaccount1\/cache\/(\d+)$/.exec(url.pathname);
    if (blob) {
      const entry = this.entries.find((e) => e.id === Number(blob[1]));
      if (!entry) {
        res.writeHead(404).end();
        return;
      }
      if (req.method === 'GET') {
        this.log.push({ method: 'download', status: 200 });
        if (this.faults.corruptDownload) {
          const data = await fs.readFile(entry.file);
          const broken = data.subarray(0, Math.floor(data.length / 2));
          res.writeHead(200, { 'content-length': String(broken.length) });
          res.end(broken);
          return;
        }
        res.writeHead(200, { 'content-length': String(entry.size) });
        createReadStream(entry.file).pipe(res);
        return;
      }
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
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
