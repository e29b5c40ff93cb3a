/**
 * The cache store: where entries live. Two implementations, chosen by the
 * `backend` input: GitHub's cache service (./github-store.ts) and any
 * S3-compatible object store (./s3/). Both keep the same promises: lookup in
 * the service's order (exact key, newest prefix match, each restore key),
 * branch scoping, immutable entries, only complete entries visible, and never
 * an exception for a store that is down, slow or refusing: that becomes an
 * outcome with a reason the stages show as a warning.
 *
 * Restoring (src/restore/) is the same for every store: it receives the
 * archive as a Readable and extracts and hashes it as it arrives.
 */
import type { Readable } from 'node:stream';
import type { SaveResult } from './backend.js';
import type { Inventory } from './inventory.js';

export type { SaveResult } from './backend.js';

/** An entry's archive, opened: its bytes in order, and its size once known. */
export interface ArchiveSource {
  stream: Readable;
  sizeBytes(): number | undefined;
}

export type LookupResult =
  | { kind: 'hit'; matchedKey: string; open(): ArchiveSource }
  | { kind: 'miss' }
  | { kind: 'unavailable' | 'denied'; reason: string };

export interface CacheStore {
  /** `github` or `s3`, for logs and the summary. */
  readonly name: string;
  /** Looks the keys up without downloading anything. */
  lookup(primaryKey: string, restoreKeys: string[], timeoutMs: number): Promise<LookupResult>;
  /** Saves the content of `directory` (paths relative to it) under `key`. Never throws. */
  save(directory: string, key: string, timeoutMs: number): Promise<SaveResult>;
  /** The entries, usage and deletion, for health mode. */
  inventory(githubToken: string, env: NodeJS.ProcessEnv): Inventory | { unavailable: string };
}
