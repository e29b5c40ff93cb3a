/**
 * What a saved entry holds: exactly the module versions that were verified,
 * staged as hard links beside the module cache and saved from there.
 *
 * Each module is held once: a version whose zip was verified goes in as its
 * zip (with `.ziphash`, `.mod`, `.info`) and no tree, because the restore
 * writes the tree from the zip as Go's own extraction does, hashing it as it
 * goes (src/restore/extract.ts); any other version goes in as its tree.
 *
 * Staging (instead of saving the module cache as it is) means nothing the job
 * left behind rides along: no version go.sum does not name, no unverified
 * toolchain, no lock or `.partial` file, no sumdb or vcs cache, and, for a lean
 * entry, no zips. The job's own module cache is never changed by a save.
 */
import { createHash } from 'node:crypto';
import { promises as fs, rmSync } from 'node:fs';
import * as path from 'node:path';
import { entryPaths } from '../go/layout.js';
import { forceRemove } from '../go/modcache.js';

export interface SnapshotPlan {
  /** `path@version` whose tree (or zip), .ziphash, .mod, .info go into the entry. */
  full: string[];
  /** `path@version` whose .mod (and .info) alone go into the entry: module-graph-only versions. */
  modOnly: string[];
  /** Zips at all (false: a lean entry of trees). */
  zips: boolean;
  /** Those of `full` whose zip was verified: they go in as the zip, without the tree. */
  verifiedZips: ReadonlySet<string>;
}

/** Links (or copies) a file into the stage; false when there is no such file. */
async function linkOrCopy(from: string, to: string): Promise<boolean> {
  await fs.mkdir(path.dirname(to), { recursive: true });
  return linkOrCopyInto(from, to);
}

/** linkOrCopy into a directory that already exists (a tree's files: one mkdir per directory, not per file). */
async function linkOrCopyInto(from: string, to: string): Promise<boolean> {
  try {
    await fs.link(from, to);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code === 'EEXIST') return true;
    await fs.copyFile(from, to);
    return true;
  }
}

/** The zip beside a version's `.mod` file. */
const zipOf = (modFile: string): string => `${modFile.slice(0, -'.mod'.length)}.zip`;

/** Links a tree's files into the stage: how many, or -1 when there is no such directory. */
async function linkTree(from: string, to: string): Promise<number> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(from, { withFileTypes: true });
  } catch {
    return -1;
  }
  await fs.mkdir(to, { recursive: true });
  let n = 0;
  for (const e of entries) {
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) n += Math.max(0, await linkTree(a, b));
    else if (e.isFile()) {
      await linkOrCopyInto(a, b);
      n++;
    }
  }
  return n;
}

/** Go's h1 of a module with no files: the sha256 of an empty summary. */
const EMPTY_TREE_H1 = `h1:${createHash('sha256').digest('base64')}`;

/**
 * Links a tree into the stage; does it carry the module? A tree with files
 * does. An empty one only if the module has no files at all (its .ziphash is
 * the empty hash): otherwise a later step emptied it.
 */
async function treeCarries(
  from: string,
  to: string,
  ziphash: () => Promise<string>,
): Promise<boolean> {
  const files = await linkTree(from, to);
  if (files !== 0) return files > 0;
  return (await ziphash().catch(() => '')).trim() === EMPTY_TREE_H1;
}

/** A staged save: its directory, and what it could not take from the module cache. */
export interface Snapshot {
  stage: string;
  /**
   * Versions of `full` that are no longer whole in the module cache (no
   * `.ziphash`, or neither the zip nor any file of the tree: a later step
   * removed them): an entry without them would be incomplete.
   */
  unstaged: string[];
}

/**
 * Builds the staging directory for a save, beside the module cache (hard
 * links need the same file system). The caller removes `stage`.
 */
export async function stageSnapshot(modCache: string, plan: SnapshotPlan): Promise<Snapshot> {
  const stage = path.join(path.dirname(modCache), `.vgc-save-${process.pid}-${Date.now()}`);
  await forceRemove(stage);
  await fs.mkdir(stage, { recursive: true });
  const jobs: Promise<unknown>[] = [];
  const unstaged: string[] = [];
  const link = (f: string) => linkOrCopy(path.join(modCache, f), path.join(stage, f));
  const add = async (id: string): Promise<void> => {
    const p = entryPaths(id, { tree: true, zip: false });
    const linked = await Promise.all(p.files.map(link));
    const ziphash = p.files.find((f) => f.endsWith('.ziphash'))!;
    const hasZiphash = linked[p.files.indexOf(ziphash)] === true;
    // A zip that is gone after all leaves the tree to carry the module.
    const carried =
      (plan.zips && plan.verifiedZips.has(id) && (await link(zipOf(p.files[0]!)))) ||
      (await treeCarries(path.join(modCache, p.tree!), path.join(stage, p.tree!), () =>
        fs.readFile(path.join(modCache, ziphash), 'utf8'),
      ));
    if (!hasZiphash || !carried) unstaged.push(id);
  };
  for (const id of plan.full) jobs.push(add(id));
  for (const id of plan.modOnly)
    for (const f of entryPaths(id, { tree: false, zip: false }).files) jobs.push(link(f));
  await Promise.all(jobs);
  return { stage, unstaged: unstaged.sort() };
}

/**
 * Removes a stage. Its directories were made by stageSnapshot and are
 * writable, so one recursive removal does; where that fails (read-only
 * files block unlinking on Windows) forceRemove makes them writable first.
 */
export async function removeSnapshot(stage: string): Promise<void> {
  try {
    rmSync(stage, { recursive: true, force: true, maxRetries: 2 });
  } catch {
    await forceRemove(stage);
  }
}
