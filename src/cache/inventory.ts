/**
 * The cache inventory through GitHub's REST API: the entries under a key
 * prefix, the repository's usage against its quota, and deleting entries by
 * id. The cache service protocol the jobs speak has no list and no delete, so
 * this is the only way to see or clean up what scheduled health jobs report.
 *
 * Nothing here fails a step: a token that may not read the caches (403), a
 * GitHub Enterprise Server without the endpoints (404) or a network error
 * becomes `unavailable` with a reason the caller shows as a warning. A 403 on
 * delete names the missing permission.
 *
 * `planDeletions` is the pure rule for what health mode may delete.
 */
import { SEPARATOR } from './key.js';

type Octokit = ReturnType<typeof import('@actions/github').getOctokit>;

export interface CacheEntryInfo {
  id: number;
  key: string;
  /** The git ref whose scope holds the entry, `refs/heads/main`. */
  ref: string;
  version: string;
  sizeBytes: number;
  /** ISO time stamps, as the API gives them. */
  createdAt: string;
  lastAccessedAt: string;
}

export interface CacheUsage {
  activeBytes: number;
  activeCount: number;
  /** The repository's cache storage limit, when the API told it. */
  limitBytes?: number;
  /** For a store without a quota (an S3 bucket): where the counted objects live, `s3://b/p/`. */
  location?: string;
}

export type ListResult =
  { kind: 'listed'; entries: CacheEntryInfo[] } | { kind: 'unavailable'; reason: string };

export type DeleteResult =
  | { kind: 'deleted' }
  /** The entry was gone already (evicted, or deleted by another run). */
  | { kind: 'gone' }
  | { kind: 'forbidden'; message: string }
  | { kind: 'failed'; reason: string };

export interface Inventory {
  list(keyPrefix: string): Promise<ListResult>;
  usage(): Promise<CacheUsage | undefined>;
  deleteById(id: number): Promise<DeleteResult>;
}

/** GitHub's default cache storage per repository when the limit cannot be read. */
export const DEFAULT_LIMIT_BYTES = 10 * 1024 ** 3;

export const WRITE_PERMISSION_HINT =
  'Deleting cache entries needs `permissions: actions: write` for the workflow token: add ' +
  "'permissions:\\n  actions: write' to the health job (or pass a github-token that has it), " +
  "or set 'delete-superseded: false'.";

export const READ_PERMISSION_HINT =
  "Listing cache entries needs 'permissions: actions: read' (or a github-token that has it); " +
  'the inventory is left out of the report.';

/** An Octokit request error's status, or undefined for network errors. */
function statusOf(e: unknown): number | undefined {
  const s = (e as { status?: unknown }).status;
  return typeof s === 'number' ? s : undefined;
}

function messageOf(e: unknown): string {
  return (e as Error).message?.split('\n')[0] ?? String(e);
}

/** Why a list or usage call failed, in words a workflow author can act on. */
export function describeListFailure(e: unknown): string {
  const status = statusOf(e);
  if (status === 401) return `the github-token was refused (401). ${READ_PERMISSION_HINT}`;
  if (status === 403) return `GitHub refused to list the caches (403). ${READ_PERMISSION_HINT}`;
  if (status === 404) {
    return (
      'GitHub answered 404 for the cache list: the repository is not visible to the token, or ' +
      'this GitHub server has no cache API.'
    );
  }
  return `the cache list failed: ${messageOf(e)}`;
}

interface RawEntry {
  id?: number;
  key?: string;
  ref?: string;
  version?: string;
  size_in_bytes?: number;
  created_at?: string;
  last_accessed_at?: string;
}

export function fromRaw(raw: RawEntry): CacheEntryInfo {
  return {
    id: raw.id ?? 0,
    key: raw.key ?? '',
    ref: raw.ref ?? '',
    version: raw.version ?? '',
    sizeBytes: raw.size_in_bytes ?? 0,
    createdAt: raw.created_at ?? '',
    lastAccessedAt: raw.last_accessed_at ?? raw.created_at ?? '',
  };
}

const PER_PAGE = 100;
/** 100 pages of 100: far beyond what 10 GB of module caches holds. */
const MAX_PAGES = 100;

/**
 * The inventory over the REST API of `GITHUB_API_URL` for `GITHUB_REPOSITORY`,
 * through the toolkit's Octokit. Undefined (with the reason) when the token or
 * the repository is unknown.
 */
export function inventoryFromEnv(
  token: string,
  env: NodeJS.ProcessEnv = process.env,
): Inventory | { unavailable: string } {
  const repository = env['GITHUB_REPOSITORY'] ?? '';
  const [owner, repo] = repository.split('/');
  if (!owner || !repo) return { unavailable: 'GITHUB_REPOSITORY is not set' };
  if (token === '' || token.startsWith('${{')) {
    return {
      unavailable:
        "no github-token (the input is empty); pass 'github-token: ${{ github.token }}' to list caches",
    };
  }
  const baseUrl = (env['GITHUB_API_URL'] || 'https://api.github.com').replace(/\/+$/, '');
  // Octokit is loaded on first use: only health mode lists or deletes, and the
  // import costs every stage about 40 ms of start-up.
  let client: Promise<Octokit> | undefined;
  const octokitOf = (): Promise<Octokit> =>
    (client ??= import('@actions/github').then((m) => m.getOctokit(token, { baseUrl })));
  return {
    async list(keyPrefix) {
      const entries: CacheEntryInfo[] = [];
      try {
        for (let page = 1; page <= MAX_PAGES; page++) {
          const r = await (
            await octokitOf()
          ).rest.actions.getActionsCacheList({
            owner,
            repo,
            key: keyPrefix,
            per_page: PER_PAGE,
            page,
            sort: 'created_at',
            direction: 'desc',
          });
          const batch = (r.data.actions_caches ?? []) as RawEntry[];
          entries.push(...batch.map(fromRaw));
          if (batch.length < PER_PAGE || entries.length >= r.data.total_count) break;
        }
      } catch (e) {
        return { kind: 'unavailable', reason: describeListFailure(e) };
      }
      // The API matches `key` as a prefix, but say so here too: a server that
      // ignored the filter must not let health mode see (or delete) other entries.
      return { kind: 'listed', entries: entries.filter((e) => e.key.startsWith(keyPrefix)) };
    },

    async usage() {
      try {
        const r = await (await octokitOf()).rest.actions.getActionsCacheUsage({ owner, repo });
        const usage: CacheUsage = {
          activeBytes: r.data.active_caches_size_in_bytes,
          activeCount: r.data.active_caches_count,
        };
        try {
          const limit = await (
            await octokitOf()
          ).request('GET /repos/{owner}/{repo}/actions/cache/storage-limit', {
            owner,
            repo,
          });
          const gb = (limit.data as { max_cache_size_gb?: unknown }).max_cache_size_gb;
          if (typeof gb === 'number' && gb > 0) usage.limitBytes = gb * 1024 ** 3;
        } catch {
          // Older servers and tokens without admin rights: the default applies.
        }
        return usage;
      } catch {
        return undefined;
      }
    },

    async deleteById(id) {
      try {
        await (
          await octokitOf()
        ).rest.actions.deleteActionsCacheById({ owner, repo, cache_id: id });
        return { kind: 'deleted' };
      } catch (e) {
        const status = statusOf(e);
        if (status === 404) return { kind: 'gone' };
        if (status === 403 || status === 401) {
          return {
            kind: 'forbidden',
            message: `GitHub refused to delete cache entry ${id} (${status}). ${WRITE_PERMISSION_HINT}`,
          };
        }
        return { kind: 'failed', reason: `deleting cache entry ${id} failed: ${messageOf(e)}` };
      }
    },
  };
}

/** The generation of a saved key: everything after `;gen=` (opaque), or '' for a key without one. */
export function generationOf(key: string): string {
  const at = key.indexOf(`${SEPARATOR}gen=`);
  return at < 0 ? '' : key.slice(at + `${SEPARATOR}gen=`.length);
}

/** The key without its generation: the exact key of the go.sum it was built from. */
export function exactKeyOf(key: string): string {
  const at = key.indexOf(`${SEPARATOR}gen=`);
  return at < 0 ? key : key.slice(0, at);
}

/** Orders entries oldest first by creation time, then by id (ids grow on GitHub). */
export function byCreation(a: CacheEntryInfo, b: CacheEntryInfo): number {
  const ta = Date.parse(a.createdAt);
  const tb = Date.parse(b.createdAt);
  if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) return ta - tb;
  return a.id - b.id;
}

export type DeletionReason = 'corrupt' | 'older generation' | 'older go.sum';

export interface PlannedDeletion {
  id: number;
  key: string;
  why: DeletionReason;
}

export interface DeletionPlanInput {
  /** The listed entries (any scope: only those under `scopePrefix` are considered). */
  entries: CacheEntryInfo[];
  /** One environment on one branch: `<prefix>;<os>-<arch>;env=<env>;ref=<branch>;`. */
  scopePrefix: string;
  /**
   * The entry this run proved good: the restored one when it verified, or the
   * repaired one it saved. Nothing but corrupt entries is deleted without one.
   */
  verifiedKey?: string;
  /** Keys this run found corrupt. */
  corruptKeys: string[];
  /**
   * When this run saved `verifiedKey`: the time it did. Used only when the list
   * does not show that entry yet (GitHub's list can lag a fresh save).
   */
  verifiedSavedAt?: string;
}

/**
 * What health mode deletes for one environment on one branch, conservatively:
 *
 * - every entry found corrupt by this run;
 * - and, only when this run verified (or saved) an entry of the scope, every
 *   other entry of the scope created BEFORE that verified entry: an older
 *   generation of the same go.sum, or an entry built from an older go.sum.
 *
 * Kept: the verified entry itself, anything created after it (a job may have
 * saved a newer generation meanwhile: nothing checked it), entries of other
 * branches and environments, and everything but corrupt entries when no entry
 * was verified or its creation time is unknown.
 */
export function planDeletions(p: DeletionPlanInput): PlannedDeletion[] {
  const scoped = p.entries.filter((e) => e.key.startsWith(p.scopePrefix)).sort(byCreation);
  const corrupt = new Set(p.corruptKeys);
  const verifiedEntry =
    p.verifiedKey === undefined
      ? undefined
      : [...scoped].reverse().find((e) => e.key === p.verifiedKey);
  const savedAt = p.verifiedSavedAt === undefined ? NaN : Date.parse(p.verifiedSavedAt);
  const olderThanVerified = (e: CacheEntryInfo): boolean => {
    if (verifiedEntry) return byCreation(e, verifiedEntry) < 0;
    const t = Date.parse(e.createdAt);
    return !Number.isNaN(savedAt) && !Number.isNaN(t) && t < savedAt;
  };
  const verifiedExact = p.verifiedKey === undefined ? undefined : exactKeyOf(p.verifiedKey);
  const out: PlannedDeletion[] = [];
  for (const e of scoped) {
    if (corrupt.has(e.key)) {
      out.push({ id: e.id, key: e.key, why: 'corrupt' });
      continue;
    }
    if (p.verifiedKey === undefined || e.key === p.verifiedKey || !olderThanVerified(e)) continue;
    const why = exactKeyOf(e.key) === verifiedExact ? 'older generation' : 'older go.sum';
    out.push({ id: e.id, key: e.key, why });
  }
  return out;
}
