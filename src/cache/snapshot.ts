/**
 * What a saved entry holds: exactly the module versions that were verified,
 * staged as hard links beside the module cache and saved from there.
 *
 * Staging (instead of saving the module cache as it is) means nothing the job
 * left behind rides along: no version go.sum does not name, no unverified
 * toolchain, no lock or `.partial` file, no sumdb or vcs cache, and, for a lean
 * entry, no zips. The job's own module cache is never changed by a save.
 */
import { promises as fs, rmSync } from 'node:fs';
import * as path from 'node:path';
import { escapeModulePath } from '../go/gosum.js';
import { forceRemove } from '../go/modcache.js';

export interface SnapshotPlan {
  /** `path@version` whose tree, .ziphash, .mod, .info (and zip) go into the entry. */
  full: string[];
  /** `path@version` whose .mod (and .info) alone go into the entry: module-graph-only versions. */
  modOnly: string[];
  zips: boolean;
}

function splitId(id: string): { path: string; version: string } {
  const at = id.lastIndexOf('@');
  return { path: id.slice(0, at), version: id.slice(at + 1) };
}

/** The files and trees of one module version, relative to the module cache root. */
export function entryPaths(
  id: string,
  o: { tree: boolean; zip: boolean },
): { tree?: string; files: string[] } {
  const { path: p, version } = splitId(id);
  const base = `cache/download/${escapeModulePath(p)}/@v/${escapeModulePath(version)}`;
  const files = [`${base}.mod`, `${base}.info`];
  if (o.tree) files.push(`${base}.ziphash`);
  if (o.tree && o.zip) files.push(`${base}.zip`);
  return {
    tree: o.tree ? `${escapeModulePath(p)}@${escapeModulePath(version)}` : undefined,
    files,
  };
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  await fs.mkdir(path.dirname(to), { recursive: true });
  await linkOrCopyInto(from, to);
}

/** linkOrCopy into a directory that already exists (a tree's files: one mkdir per directory, not per file). */
async function linkOrCopyInto(from: string, to: string): Promise<void> {
  try {
    await fs.link(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'EEXIST') return;
    await fs.copyFile(from, to);
  }
}

async function linkTree(from: string, to: string): Promise<number> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(from, { withFileTypes: true });
  } catch {
    return 0;
  }
  await fs.mkdir(to, { recursive: true });
  let n = 0;
  for (const e of entries) {
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) n += await linkTree(a, b);
    else if (e.isFile()) {
      await linkOrCopyInto(a, b);
      n++;
    }
  }
  return n;
}

/**
 * Builds the staging directory for a save, beside the module cache (hard
 * links need the same file system). Returns its path; the caller removes it.
 */
export async function stageSnapshot(modCache: string, plan: SnapshotPlan): Promise<string> {
  const stage = path.join(path.dirname(modCache), `.vgc-save-${process.pid}-${Date.now()}`);
  await forceRemove(stage);
  await fs.mkdir(stage, { recursive: true });
  const jobs: Promise<unknown>[] = [];
  const add = (id: string, tree: boolean): void => {
    const p = entryPaths(id, { tree, zip: plan.zips });
    for (const f of p.files) jobs.push(linkOrCopy(path.join(modCache, f), path.join(stage, f)));
    if (p.tree) jobs.push(linkTree(path.join(modCache, p.tree), path.join(stage, p.tree)));
  };
  for (const id of plan.full) add(id, true);
  for (const id of plan.modOnly) add(id, false);
  await Promise.all(jobs);
  return stage;
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
