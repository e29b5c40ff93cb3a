/**
 * Planting a module cache as an entry in either of the formats the action
 * meets in the cache service: the old one (the module cache as it lies:
 * extracted trees AND zips) and the one it now saves (each module as its zip,
 * `.ziphash`, `.mod` and `.info`, no extracted tree: the restore writes the
 * tree from the zip).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import type { World } from './world.js';

export type EntryFormat = 'trees-and-zips' | 'zips-only';

export const ENTRY_FORMATS: EntryFormat[] = ['trees-and-zips', 'zips-only'];

/**
 * Removes every extracted tree `<module>@<version>/` from a module cache,
 * keeping the download area `cache/` (zips, `.ziphash`, `.mod`, `.info`) as it is.
 */
export function stripTrees(modCache: string): void {
  // Go leaves trees read-only.
  execFileSync('chmod', ['-R', 'u+w', modCache]);
  for (const name of readdirSync(modCache)) {
    if (name !== 'cache') rmSync(path.join(modCache, name), { recursive: true, force: true });
  }
}

/**
 * Plants the module cache `modCache` as the entry `key` in `format`, with the
 * real cache client as world.plant does (paths relative to the module cache,
 * the single path `.`). For 'zips-only' the trees are removed from `modCache`
 * first: the caller's copy is changed.
 */
export async function plantEntry(
  world: World,
  modCache: string,
  key: string,
  format: EntryFormat,
  branch = 'main',
): Promise<void> {
  if (format === 'zips-only') stripTrees(modCache);
  await world.plantDir(modCache, key, branch);
}

/** The archive file the cache service holds for the finalized entry `key`. */
export function entryArchive(world: World, key: string): string {
  const entry = world.server.finalized().find((e) => e.key === key);
  if (!entry) throw new Error(`no entry ${key} on the service`);
  return entry.file;
}
