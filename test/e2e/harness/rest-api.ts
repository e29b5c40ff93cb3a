/**
 * A loopback emulation of the part of GitHub's REST API that manages Actions
 * caches, over the entries of the harness cache service:
 *
 * - `GET  /repos/{owner}/{repo}/actions/caches` (`key` prefix, `ref`, `sort`,
 *   `direction`, `per_page`, `page`) -> `{total_count, actions_caches}`
 * - `GET  /repos/{owner}/{repo}/actions/cache/usage`
 * - `GET  /repos/{owner}/{repo}/actions/cache/storage-limit` -> `{max_cache_size_gb}`
 * - `DELETE /repos/{owner}/{repo}/actions/caches/{id}` -> 204 (404 when gone)
 * - `DELETE /repos/{owner}/{repo}/actions/caches?key=&ref=`
 *
 * Tokens carry permissions as GitHub's workflow token does: every request
 * needs a known token (401), reading needs `actions: read` and deleting needs
 * `actions: write` (403 with GitHub's "Resource not accessible by
 * integration"). Another repository than the configured one is a 404.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the REST API needs of the cache service (CacheServer provides both). */
export interface CacheStore {
  entries(): {
    id: number;
    key: string;
    ref: string;
    version: string;
    sizeBytes: number;
    createdAt: string;
    lastAccessedAt: string;
  }[];
  deleteEntry(id: number): boolean;
}

export interface TokenGrant {
  /** `actions: read` (list, usage). */
  read: boolean;
  /** `actions: write` (delete). */
  write: boolean;
}

export interface RestCall {
  method: string;
  path: string;
  status: number;
  token?: string;
}

export class RestApi {
  readonly calls: RestCall[] = [];
  /** Tokens and what they may do; a token not listed gets 401. */
  readonly tokens = new Map<string, TokenGrant>([
    ['read-token', { read: true, write: false }],
    ['write-token', { read: true, write: true }],
  ]);
  /** The repository's cache storage limit, in GB (undefined answers 404, as older servers do). */
  storageLimitGb: number | undefined = 10;
  private server?: http.Server;
  private port = 0;

  constructor(
    readonly store: CacheStore,
    readonly repository = 'octo/app',
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Env vars a health job needs to reach this API as `repository`. */
  envFor(): Record<string, string> {
    return { GITHUB_API_URL: this.url, GITHUB_REPOSITORY: this.repository };
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      try {
        this.handle(req, res);
      } catch (e) {
        send(res, 500, { message: (e as Error).message });
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  deletes(): RestCall[] {
    return this.calls.filter((c) => c.method === 'DELETE');
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const auth = req.headers.authorization ?? '';
    const token = /^(?:token|bearer)\s+(.+)$/i.exec(auth)?.[1];
    const reply = (status: number, body?: unknown): void => {
      this.calls.push({ method, path: url.pathname + url.search, status, token });
      send(res, status, body);
    };
    const grant = token === undefined ? undefined : this.tokens.get(token);
    if (!grant) return reply(401, { message: 'Bad credentials', status: '401' });

    const m =
      /^\/repos\/([^/]+)\/([^/]+)\/actions\/(caches(?:\/(\d+))?|cache\/usage|cache\/storage-limit)$/.exec(
        url.pathname,
      );
    if (!m || `${m[1]}/${m[2]}` !== this.repository) {
      return reply(404, { message: 'Not Found', status: '404' });
    }
    const what = m[3]!;
    const id = m[4] === undefined ? undefined : Number(m[4]);
    const forbidden = (): void =>
      reply(403, { message: 'Resource not accessible by integration', status: '403' });

    if (method === 'GET') {
      if (!grant.read) return forbidden();
      if (what === 'cache/usage') {
        const all = this.store.entries();
        return reply(200, {
          full_name: this.repository,
          active_caches_size_in_bytes: all.reduce((n, e) => n + e.sizeBytes, 0),
          active_caches_count: all.length,
        });
      }
      if (what === 'cache/storage-limit') {
        if (this.storageLimitGb === undefined) return reply(404, { message: 'Not Found' });
        return reply(200, { max_cache_size_gb: this.storageLimitGb });
      }
      if (id !== undefined) return reply(404, { message: 'Not Found' });
      return reply(200, this.list(url.searchParams));
    }
    if (method === 'DELETE') {
      if (!grant.write) return forbidden();
      if (id !== undefined) {
        return this.store.deleteEntry(id) ? reply(204) : reply(404, { message: 'Not Found' });
      }
      const key = url.searchParams.get('key');
      if (!key) return reply(422, { message: 'key is required' });
      const ref = url.searchParams.get('ref');
      const gone = this.store.entries().filter((e) => e.key === key && (!ref || e.ref === ref));
      if (gone.length === 0) return reply(404, { message: 'Not Found' });
      for (const e of gone) this.store.deleteEntry(e.id);
      return reply(200, { total_count: gone.length, actions_caches: gone.map(toRest) });
    }
    return reply(405, { message: 'Method Not Allowed' });
  }

  private list(q: URLSearchParams): unknown {
    const key = q.get('key') ?? '';
    const ref = q.get('ref');
    const perPage = Math.min(100, Math.max(1, Number(q.get('per_page') ?? 30)));
    const page = Math.max(1, Number(q.get('page') ?? 1));
    const sort = q.get('sort') ?? 'last_accessed_at';
    const direction = q.get('direction') === 'asc' ? 1 : -1;
    const field =
      sort === 'created_at'
        ? 'createdAt'
        : sort === 'size_in_bytes'
          ? 'sizeBytes'
          : 'lastAccessedAt';
    const matched = this.store
      .entries()
      .filter((e) => e.key.startsWith(key) && (!ref || e.ref === ref))
      .sort((a, b) => {
        const x = a[field];
        const y = b[field];
        return (x < y ? -1 : x > y ? 1 : a.id - b.id) * direction;
      });
    return {
      total_count: matched.length,
      actions_caches: matched.slice((page - 1) * perPage, page * perPage).map(toRest),
    };
  }
}

function toRest(e: ReturnType<CacheStore['entries']>[number]): Record<string, unknown> {
  return {
    id: e.id,
    ref: e.ref,
    key: e.key,
    version: e.version,
    last_accessed_at: e.lastAccessedAt,
    created_at: e.createdAt,
    size_in_bytes: e.sizeBytes,
  };
}

function send(res: http.ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
