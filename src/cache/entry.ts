/**
 * Cache entries as directories: restore one into an empty directory, save one
 * from a directory. The archive holds paths relative to that directory, so an
 * entry saved on one runner lands in the right place on any other, whatever
 * its workspace depth, HOME or container layout.
 *
 * Restoring is ours: lookup on the service (v1 or v2), a streaming download,
 * decompression and a confined extraction that hashes every file as it is
 * written (src/cache/archive.ts). Saving is @actions/cache's: it is run with
 * the directory as its workspace and `.` as its only path.
 */
import * as core from '@actions/core';
import { actionsCacheBackend, type SaveResult } from './backend.js';
import { ArchiveRejected, extractArchive, type ExtractRecord } from './archive.js';
import { downloadStream } from './download.js';
import { cacheServiceFromEnv, compressionForSave, entryVersion } from './service/index.js';
import { forceRemove } from '../go/modcache.js';

/** The only path handed to @actions/cache: archives are relative to the saved directory. */
export const ENTRY_PATHS = ['.'];

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
}

/** The version the entries we save carry, as @actions/cache computes it on this runner. */
export async function entryVersionHere(): Promise<string> {
  return entryVersion(ENTRY_PATHS, await compressionForSave(), process.platform);
}

/** Looks the keys up without downloading anything. */
export async function lookupEntry(
  primaryKey: string,
  restoreKeys: string[],
  lookupTimeoutMs: number,
): Promise<
  | { kind: 'hit'; matchedKey: string; url: string }
  | { kind: 'miss' }
  | { kind: 'unavailable' | 'denied'; reason: string }
> {
  const service = cacheServiceFromEnv();
  if (!service) return { kind: 'unavailable', reason: 'no cache service URL in this job' };
  const found = await service.lookup(primaryKey, restoreKeys, await entryVersionHere(), {
    timeoutMs: lookupTimeoutMs,
  });
  if (found.kind !== 'hit') return found;
  // The download URL is signed: keep it out of the logs.
  core.setSecret(found.entry.downloadUrl);
  return { kind: 'hit', matchedKey: found.entry.matchedKey, url: found.entry.downloadUrl };
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
    const source = downloadStream(found.url, {});
    source.once('error', (e) => (transport = e));
    const result = await extractArchive(source, req.dest);
    return {
      kind: 'restored',
      matchedKey: found.matchedKey,
      archiveBytes: source.sizeBytes ?? 0,
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

/**
 * Saves the content of `src` under `key` through @actions/cache. The client
 * archives paths relative to GITHUB_WORKSPACE and resolves patterns against
 * the working directory, so both point at `src` for the duration of the save.
 */
export async function saveDirectory(o: {
  src: string;
  key: string;
  timeoutMs: number;
}): Promise<SaveResult> {
  const cwd = process.cwd();
  const workspace = process.env['GITHUB_WORKSPACE'];
  process.chdir(o.src);
  process.env['GITHUB_WORKSPACE'] = o.src;
  try {
    return await actionsCacheBackend.save(ENTRY_PATHS, o.key, o.timeoutMs);
  } finally {
    process.chdir(cwd);
    if (workspace === undefined) delete process.env['GITHUB_WORKSPACE'];
    else process.env['GITHUB_WORKSPACE'] = workspace;
  }
}
