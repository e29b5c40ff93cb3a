/**
 * The restore side of the GitHub Actions cache service, as our own client sees
 * it: one lookup that names an archive to download. Saving stays with
 * @actions/cache, so nothing here writes.
 */

/** An entry the service chose for a lookup, and where its archive can be fetched. */
export interface CacheEntryRef {
  /** The key of the entry found: the primary key, a longer key it prefixes, or a restore key's match. */
  matchedKey: string;
  /** A URL that serves the archive with a plain GET (signed; treat it as a secret). */
  downloadUrl: string;
  /** The archive size when the service says so (neither protocol does today). */
  sizeBytes?: number;
}

/**
 * What a lookup found. Service trouble is an outcome, never an exception:
 * `unavailable` (down, failing, slow, rate limited, answering nonsense) and
 * `denied` (the token or the run's cache-mode forbids reading) both mean
 * "go on without a cache", but a report words them differently.
 */
export type LookupOutcome =
  | { kind: 'hit'; entry: CacheEntryRef }
  | { kind: 'miss' }
  | { kind: 'unavailable'; reason: string }
  | { kind: 'denied'; reason: string };

export interface LookupOptions {
  /** Budget for the whole lookup, retries and waits included. */
  timeoutMs: number;
}

export interface CacheService {
  readonly protocol: 'v1' | 'v2';
  /**
   * Finds the entry for `primaryKey` (exact, then the newest key it prefixes),
   * else for each restore key in order, among entries of `version`.
   * Throws only for keys the service would reject anyway (see `checkKeys`).
   */
  lookup(
    primaryKey: string,
    restoreKeys: readonly string[],
    version: string,
    options: LookupOptions,
  ): Promise<LookupOutcome>;
}
