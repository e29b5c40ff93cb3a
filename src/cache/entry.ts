/**
 * Cache entries as directories on GitHub's cache service: look one up, save
 * one from a directory. The archive holds paths relative to that directory, so
 * an entry saved on one runner lands in the right place on any other, whatever
 * its workspace depth, HOME or container layout.
 *
 * Lookups are ours (v1 or v2, src/cache/service/); the restore that streams
 * and extracts is src/restore/restore.ts. Saving is @actions/cache's: it is
 * run with the directory as its workspace and `.` as its only path.
 */
import * as core from '@actions/core';
import { actionsCacheBackend, type SaveResult } from './backend.js';
import { cacheServiceFromEnv, compressionForSave, entryVersion } from './service/index.js';

/** The only path handed to @actions/cache: archives are relative to the saved directory. */
export const ENTRY_PATHS = ['.'];

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
