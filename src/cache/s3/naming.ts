/**
 * How entries are named in an S3 bucket, and which one a lookup picks. Pure.
 *
 *   <s3-prefix>/<scope>/<key><ext>
 *
 * - `scope` is the git ref whose entries these are, without `refs/`, its kind
 *   kept and its name URI-encoded so it is always exactly two path segments:
 *   `heads/main`, `heads/feature%2Fx`, `tags/v1.2.0`, `pull/12%2Fmerge`. A
 *   pull request's own scope is its merge ref, never its head branch's name:
 *   a fork chooses that name, and must not write into `heads/main`.
 * - `key` is the action's key as on GitHub's service (with its `;gen=`).
 * - `ext` is the archive's compression, `.tar.zst` or `.tar.gz`: it plays the
 *   part of the entry version on GitHub's service, so a runner only ever
 *   looks at entries it can read, as @actions/cache only sees entries of its
 *   own compression.
 *
 * A job reads its own scope, then its pull request's base branch, then the
 * default branch (the scopes GitHub's service lets it read), and writes only
 * its own. In each scope the lookup goes as GitHub's service does: the
 * primary key exactly, else the newest entry whose key starts with it, then
 * each restore key the same way. "Newest" is LastModified (whole seconds on
 * most stores), ties broken by the larger name: generations carry their
 * save time in base 36, so a later generation sorts after an earlier one.
 */

export type Compression = 'zstd' | 'gzip';

export const EXTENSIONS: Record<Compression, string> = { zstd: '.tar.zst', gzip: '.tar.gz' };

/** One object of a listing, as much of it as naming and lookup need. */
export interface Listed {
  name: string;
  lastModified: number;
  size: number;
}

/** The s3-prefix as a leading path ('' or `a/b/`): no leading or doubled slashes. */
export function prefixPath(s3Prefix: string): string {
  const parts = s3Prefix.split('/').filter((p) => p !== '');
  return parts.length === 0 ? '' : `${parts.join('/')}/`;
}

/** `refs/heads/feature/x` → `heads/feature%2Fx`; a ref without `refs/` is taken as a branch. */
export function scopeOfRef(ref: string): string {
  const m = /^refs\/([^/]+)\/(.+)$/.exec(ref);
  if (!m) return `heads/${encodeURIComponent(ref || 'detached')}`;
  return `${m[1]}/${encodeURIComponent(m[2]!)}`;
}

/** The inverse of scopeOfRef: `heads/feature%2Fx` → `refs/heads/feature/x`. */
export function refOfScope(scope: string): string {
  const [kind, name] = scope.split('/') as [string, string];
  return `refs/${kind}/${decodeURIComponent(name)}`;
}

export function objectName(s3Prefix: string, ref: string, key: string, c: Compression): string {
  return `${prefixPath(s3Prefix)}${scopeOfRef(ref)}/${key}${EXTENSIONS[c]}`;
}

/** The listing prefix of `key` (and every key starting with it) in one ref's scope. */
export function listPrefix(s3Prefix: string, ref: string, key: string): string {
  return `${prefixPath(s3Prefix)}${scopeOfRef(ref)}/${key}`;
}

export interface ParsedName {
  ref: string;
  key: string;
  compression: Compression;
}

/** An object name under `s3Prefix` read back, or undefined for anything this action did not name. */
export function parseObjectName(s3Prefix: string, name: string): ParsedName | undefined {
  const base = prefixPath(s3Prefix);
  if (!name.startsWith(base)) return undefined;
  const rest = name.slice(base.length).split('/');
  if (rest.length < 3 || rest[0] === '' || rest[1] === '') return undefined;
  const file = rest.slice(2).join('/');
  for (const [c, ext] of Object.entries(EXTENSIONS) as [Compression, string][]) {
    if (file.endsWith(ext) && file.length > ext.length) {
      try {
        return {
          ref: refOfScope(`${rest[0]}/${rest[1]}`),
          key: file.slice(0, -ext.length),
          compression: c,
        };
      } catch {
        return undefined; // a malformed %-escape: not ours
      }
    }
  }
  return undefined;
}

/** Newest first: LastModified, then the larger name. */
export function newestFirst(a: Listed, b: Listed): number {
  if (a.lastModified !== b.lastModified) return b.lastModified - a.lastModified;
  return a.name < b.name ? 1 : a.name > b.name ? -1 : 0;
}

/**
 * The object `key` matches in a listing of `prefix + key` (one scope): the
 * object named exactly `prefix + key + ext`, else the newest whose name starts
 * with `prefix + key` and ends with `ext`.
 */
export function pickMatch(
  listing: Listed[],
  prefix: string,
  key: string,
  ext: string,
): Listed | undefined {
  const start = prefix + key;
  const candidates = listing.filter(
    (o) =>
      o.name.startsWith(start) &&
      o.name.endsWith(ext) &&
      o.name.length >= start.length + ext.length,
  );
  const exact = candidates.find((o) => o.name === start + ext);
  if (exact) return exact;
  return [...candidates].sort(newestFirst)[0];
}

/** The scopes a job writes and reads, from the runner's environment and event payload. */
export interface Scopes {
  /** The ref a save goes to. */
  own: string;
  /** The refs a lookup reads, in order: own, the pull request's base, the default branch. */
  reads: string[];
}

/**
 * `GITHUB_REF` is the job's own scope (for a pull request `refs/pull/N/merge`,
 * as on GitHub's service); `GITHUB_BASE_REF` adds the base branch; the
 * default branch comes from the event payload (`repository.default_branch`),
 * else `main`.
 */
export function scopesFromEnv(env: NodeJS.ProcessEnv, defaultBranch: string | undefined): Scopes {
  const head = env['GITHUB_HEAD_REF'] ?? '';
  let own = env['GITHUB_REF'] ?? '';
  if (!own) own = `refs/heads/${head || env['GITHUB_REF_NAME'] || 'detached'}`;
  const reads = [own];
  const base = env['GITHUB_BASE_REF'] ?? '';
  if (base) reads.push(`refs/heads/${base}`);
  reads.push(`refs/heads/${defaultBranch || 'main'}`);
  return { own, reads: [...new Set(reads)] };
}
