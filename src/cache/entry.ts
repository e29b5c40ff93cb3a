/**
 * Cache entries as directories, on whichever store this job uses (the
 * `backend` input: GitHub's cache service, ./github-store.ts, or an S3
 * bucket, ./s3/): look one up, save one from a directory. The archive holds
 * paths relative to that directory, so an entry saved on one runner lands in
 * the right place on any other, whatever its workspace depth, HOME or
 * container layout. The restore that streams and extracts is
 * src/restore/restore.ts, the same for every store.
 */
import type { SaveResult } from './backend.js';
import { activeStore } from './active-store.js';
import type { LookupResult } from './store.js';

export { ENTRY_PATHS, entryVersionHere } from './github-store.js';

/** Looks the keys up without downloading anything. */
export function lookupEntry(
  primaryKey: string,
  restoreKeys: string[],
  lookupTimeoutMs: number,
): Promise<LookupResult> {
  return activeStore().lookup(primaryKey, restoreKeys, lookupTimeoutMs);
}

/** Saves the content of `src` under `key`. Never throws for store trouble. */
export function saveDirectory(o: {
  src: string;
  key: string;
  timeoutMs: number;
}): Promise<SaveResult> {
  return activeStore().save(o.src, o.key, o.timeoutMs);
}
