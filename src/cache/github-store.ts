/**
 * GitHub's cache service as a CacheStore. Lookups are ours (v1 or v2,
 * ./service/), the archive comes through the segmented download
 * (./download.ts), saves go through @actions/cache (./backend.ts) run with the
 * directory as its workspace and `.` as its only path, and the inventory is
 * the REST API's (./inventory.ts).
 */
import * as core from '@actions/core';
import { actionsCacheBackend, type SaveResult } from './backend.js';
import { downloadStream } from './download.js';
import { inventoryFromEnv } from './inventory.js';
import { cacheServiceFromEnv, compressionForSave, entryVersion } from './service/index.js';
import type { CacheStore, LookupResult } from './store.js';

/** The only path handed to @actions/cache: archives are relative to the saved directory. */
export const ENTRY_PATHS = ['.'];

/** The version the entries we save carry, as @actions/cache computes it on this runner. */
export async function entryVersionHere(): Promise<string> {
  return entryVersion(ENTRY_PATHS, await compressionForSave(), process.platform);
}

async function lookup(
  primaryKey: string,
  restoreKeys: string[],
  lookupTimeoutMs: number,
): Promise<LookupResult> {
  const service = cacheServiceFromEnv();
  if (!service) return { kind: 'unavailable', reason: 'no cache service URL in this job' };
  const found = await service.lookup(primaryKey, restoreKeys, await entryVersionHere(), {
    timeoutMs: lookupTimeoutMs,
  });
  if (found.kind !== 'hit') return found;
  const url = found.entry.downloadUrl;
  // The download URL is signed: keep it out of the logs.
  core.setSecret(url);
  return {
    kind: 'hit',
    matchedKey: found.entry.matchedKey,
    open() {
      const stream = downloadStream(url, {});
      return { stream, sizeBytes: () => stream.sizeBytes };
    },
  };
}

/**
 * Saves the content of `src` under `key` through @actions/cache. The client
 * archives paths relative to GITHUB_WORKSPACE and resolves patterns against
 * the working directory, so both point at `src` for the duration of the save.
 */
async function save(src: string, key: string, timeoutMs: number): Promise<SaveResult> {
  const cwd = process.cwd();
  const workspace = process.env['GITHUB_WORKSPACE'];
  process.chdir(src);
  process.env['GITHUB_WORKSPACE'] = src;
  try {
    return await actionsCacheBackend.save(ENTRY_PATHS, key, timeoutMs);
  } finally {
    process.chdir(cwd);
    if (workspace === undefined) delete process.env['GITHUB_WORKSPACE'];
    else process.env['GITHUB_WORKSPACE'] = workspace;
  }
}

export const githubStore: CacheStore = {
  name: 'github',
  lookup,
  save,
  inventory: (githubToken, env) => inventoryFromEnv(githubToken, env),
};
