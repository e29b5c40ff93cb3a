/**
 * Restoring an entry: the lookup and the archive's bytes come from the job's
 * cache store (src/cache/: GitHub's service or S3), the confined, hashing extraction from ./extract.ts. Never
 * throws for service trouble or a bad archive: a rejected or broken archive
 * leaves the destination removed, so nothing half-written is ever used.
 */
import { lookupEntry } from '../cache/entry.js';
import { forceRemove } from '../go/modcache.js';
import type { ExtractRecord } from '../verify/record.js';
import { extractArchive, type ExtractLayout } from './extract.js';
import { ArchiveRejected } from './tar.js';

export type RestoreOutcome =
  | {
      kind: 'restored';
      matchedKey: string;
      archiveBytes: number;
      record?: ExtractRecord;
      ms: number;
    }
  | { kind: 'miss' }
  | { kind: 'unavailable'; reason: string }
  | { kind: 'denied'; reason: string }
  | { kind: 'rejected'; matchedKey: string; reason: string }
  | { kind: 'failed'; matchedKey: string; reason: string };

export interface RestoreRequest {
  dest: string;
  primaryKey: string;
  restoreKeys: string[];
  lookupTimeoutMs: number;
  /** Compute the module hash record while extracting (a module cache), or not (a build cache). */
  hash: boolean;
  /** The module cache's closed layout (the default), or every member ('open': a build cache). */
  layout?: ExtractLayout;
}

/**
 * Restores the newest entry matching the keys into `dest`, which must be empty
 * or absent. Never throws for service trouble or a bad archive: a rejected or
 * broken archive leaves `dest` removed, so nothing half-written is ever used.
 */
export async function restoreEntry(req: RestoreRequest): Promise<RestoreOutcome> {
  const found = await lookupEntry(req.primaryKey, req.restoreKeys, req.lookupTimeoutMs);
  if (found.kind !== 'hit') return found;
  const started = Date.now();
  let transport: Error | undefined;
  try {
    const source = found.open();
    source.stream.once('error', (e) => (transport = e));
    const result = await extractArchive(source.stream, req.dest, {
      layout: req.layout ?? 'modules',
    });
    return {
      kind: 'restored',
      matchedKey: found.matchedKey,
      archiveBytes: source.sizeBytes() ?? 0,
      record: req.hash ? result.record : undefined,
      ms: Date.now() - started,
    };
  } catch (e) {
    await forceRemove(req.dest);
    // A member the extractor refuses is the entry's fault; a download that
    // broke, or a stream that is not a whole archive, is the transport's.
    if (e instanceof ArchiveRejected && !transport && e.member !== '') {
      return {
        kind: 'rejected',
        matchedKey: found.matchedKey,
        reason: `member ${JSON.stringify(e.member)}: ${e.why}`,
      };
    }
    return {
      kind: 'failed',
      matchedKey: found.matchedKey,
      reason: (transport ?? (e as Error)).message,
    };
  }
}
