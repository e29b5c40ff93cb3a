/**
 * Bounding the build cache: keep only what this job used or created.
 *
 * How Go marks use (cmd/go/internal/cache/cache.go): every lookup of an action
 * entry (`<id>-a`) and every use of an output (`<id>-d`) calls markUsed, which
 * sets the file's mtime to now, but only when the mtime is at least an hour old
 * (mtimeInterval), to spare inode writes. Go's own Trim, at most once a day
 * (trim.txt holds the time of the last one), deletes `-a`/`-d` files unused for
 * five days plus an hour.
 *
 * The design:
 *  - after restoring, every `-a`/`-d` file gets the mtime `restoredAt - 2h`
 *    (STAMP_AGE). Older than an hour, so the first use in this job refreshes
 *    it; younger than five days, so Go's own Trim during the job deletes none
 *    of them (stamping them far in the past would let the first go command,
 *    finding no trim.txt, delete everything it did not touch itself);
 *  - at save, a file is used when its mtime is at least `restoredAt - 1h`
 *    (USED_MARGIN: an hour of slack for coarse file-system clocks). Created
 *    files carry their creation time and count as used;
 *  - an unused `-d` is still kept when a kept `-a` names it: an action entry
 *    is worthless without its output, and a use that refreshed only the
 *    action entry must not cost a rebuild next time;
 *  - `trim.txt` is deleted after restoring and before saving, so a restored
 *    cache never tells Go it was trimmed recently.
 *
 * The entry saved after N go.sum generations therefore holds exactly what the
 * last job's build used, whatever the generations before it held.
 */
import { cp, lstat, mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import * as path from 'node:path';

/** How far before the restore the restored files' mtimes are set. */
export const STAMP_AGE_MS = 2 * 3600_000;
/** A file whose mtime is at least this long before the restore was not used. */
export const USED_MARGIN_MS = 3600_000;
/** Go's record of its last trim; never restored, never saved. */
export const TRIM_FILE = 'trim.txt';

export type EntryKind = 'a' | 'd';

/** One build cache file (`<2 hex>/<64 hex>-a` or `-d`). */
export interface EntryFile {
  /** Path relative to GOCACHE, forward slashes. */
  rel: string;
  kind: EntryKind;
  mtimeMs: number;
  bytes: number;
  /** For a used `-a`: the output it names (64 hex), when the file parses. */
  outputId?: string;
  /** For a used `-a`: when Go wrote it (ms since the epoch). */
  createdMs?: number;
}

export interface TrimPlan {
  keep: EntryFile[];
  drop: EntryFile[];
  keptBytes: number;
  droppedBytes: number;
  /** Kept action entries written after the restore: what this job compiled, tested or vetted. */
  created: number;
}

const ENTRY_NAME = /^([0-9a-f]{64})-([ad])$/;
const SUBDIR = /^[0-9a-f]{2}$/;

/** `<hex>-a` -> 'a', `<hex>-d` -> 'd', anything else undefined. */
export function entryKind(name: string): EntryKind | undefined {
  return ENTRY_NAME.exec(name)?.[2] as EntryKind | undefined;
}

/** The mtime restored files get. */
export function stampTime(restoredAtMs: number): number {
  return restoredAtMs - STAMP_AGE_MS;
}

/** Whether a file with this mtime was used (or created) after a restore at `restoredAtMs`. */
export function isUsed(mtimeMs: number, restoredAtMs: number | undefined): boolean {
  if (restoredAtMs === undefined) return true;
  return mtimeMs >= restoredAtMs - USED_MARGIN_MS;
}

/**
 * Parses an action entry: `v1 <action id> <output id> <size> <time ns>\n`
 * (fixed width, cache.go entrySize). Undefined when it does not parse.
 */
export function parseActionEntry(
  text: string,
): { outputId: string; createdMs: number } | undefined {
  const m = /^v1 [0-9a-f]{64} ([0-9a-f]{64}) +(\d+) +(\d+)\n$/.exec(text);
  if (!m) return undefined;
  return { outputId: m[1]!, createdMs: Math.floor(Number(m[3]) / 1e6) };
}

/**
 * Pure: which files to keep. `restoredAtMs` undefined means nothing was
 * restored (every file was written by this job): everything is kept.
 */
export function planTrim(files: EntryFile[], restoredAtMs: number | undefined): TrimPlan {
  const keepA = files.filter((f) => f.kind === 'a' && isUsed(f.mtimeMs, restoredAtMs));
  const named = new Set(keepA.flatMap((f) => (f.outputId ? [f.outputId] : [])));
  const keep: EntryFile[] = [];
  const drop: EntryFile[] = [];
  for (const f of files) {
    const used = isUsed(f.mtimeMs, restoredAtMs);
    const kept = used || (f.kind === 'd' && named.has(path.posix.basename(f.rel).slice(0, 64)));
    (kept ? keep : drop).push(f);
  }
  const sum = (xs: EntryFile[]): number => xs.reduce((n, f) => n + f.bytes, 0);
  const created = keepA.filter(
    (f) => restoredAtMs === undefined || (f.createdMs !== undefined && f.createdMs >= restoredAtMs),
  ).length;
  return { keep, drop, keptBytes: sum(keep), droppedBytes: sum(drop), created };
}

// ---- disk ----

/** Runs `fn` over `items`, `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true }))
      .filter((d) => d.isDirectory() && SUBDIR.test(d.name))
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/** Bytes of a file, or of every file under a directory (a cached executable). */
async function sizeOf(p: string): Promise<number> {
  const st = await lstat(p);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const e of await readdir(p)) total += await sizeOf(path.join(p, e));
  return total;
}

/** Every `-a`/`-d` file under GOCACHE (names relative to it). */
export async function listEntryNames(gocache: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await subdirs(gocache)) {
    for (const name of await readdir(path.join(gocache, sub))) {
      if (entryKind(name)) out.push(`${sub}/${name}`);
    }
  }
  return out;
}

/** Whether GOCACHE holds any entry (Go creates the 256 subdirectories empty on first use). */
export async function hasEntries(gocache: string): Promise<boolean> {
  for (const sub of await subdirs(gocache)) {
    if ((await readdir(path.join(gocache, sub))).some((n) => entryKind(n))) return true;
  }
  return false;
}

/**
 * Lists the entries with their mtimes and sizes, and reads the used action
 * entries (only those: the planner needs their output ids and creation times).
 */
export async function scanEntries(
  gocache: string,
  restoredAtMs: number | undefined,
): Promise<EntryFile[]> {
  const names = await listEntryNames(gocache);
  const files: EntryFile[] = [];
  await pool(names, 32, async (rel) => {
    const abs = path.join(gocache, rel);
    try {
      const st = await stat(abs);
      const f: EntryFile = {
        rel,
        kind: entryKind(path.posix.basename(rel))!,
        mtimeMs: st.mtimeMs,
        bytes: st.isDirectory() ? await sizeOf(abs) : st.size,
      };
      if (f.kind === 'a' && isUsed(f.mtimeMs, restoredAtMs)) {
        const fh = await open(abs, 'r');
        try {
          const buf = Buffer.alloc(256);
          const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
          const parsed = parseActionEntry(buf.subarray(0, bytesRead).toString('latin1'));
          if (parsed) Object.assign(f, parsed);
        } finally {
          await fh.close();
        }
      }
      files.push(f);
    } catch {
      // Removed while scanning (a concurrent go clean): not there to save.
    }
  });
  return files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/**
 * Sets every restored entry's mtime to `stampTime(restoredAtMs)` and removes
 * the restored trim.txt. Returns how many entries were stamped.
 */
export async function stampRestored(dir: string, restoredAtMs: number): Promise<number> {
  const names = await listEntryNames(dir);
  const t = new Date(stampTime(restoredAtMs));
  await pool(names, 32, (rel) => utimes(path.join(dir, rel), t, t));
  await rm(path.join(dir, TRIM_FILE), { force: true });
  return names.length;
}

/**
 * Moves a restored cache from `from` into GOCACHE without replacing anything
 * there: Go may have opened GOCACHE meanwhile (it creates the 256 empty
 * subdirectories, README and trim.txt), and a file Go wrote itself wins.
 * Renames keep the stamped mtimes. Returns how many entries were moved.
 */
export async function mergeInto(from: string, gocache: string): Promise<number> {
  await mkdir(gocache, { recursive: true });
  let moved = 0;
  for (const top of await readdir(from, { withFileTypes: true })) {
    const src = path.join(from, top.name);
    const dst = path.join(gocache, top.name);
    if (top.name === TRIM_FILE) continue;
    if (!top.isDirectory() || !SUBDIR.test(top.name)) {
      if (!(await exists(dst))) await move(src, dst);
      continue;
    }
    await mkdir(dst, { recursive: true });
    const names = await readdir(src);
    await pool(names, 32, async (name) => {
      const to = path.join(dst, name);
      if (await exists(to)) return;
      await move(path.join(src, name), to);
      if (entryKind(name)) moved++;
    });
  }
  return moved;
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** rename, or copy and remove when `from` is on another file system. */
async function move(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await cp(from, to, { recursive: true, preserveTimestamps: true });
    await rm(from, { recursive: true, force: true });
  }
}

/** Deletes the dropped entries and trim.txt. */
export async function applyTrim(gocache: string, plan: TrimPlan): Promise<void> {
  await pool(plan.drop, 32, (f) => rm(path.join(gocache, f.rel), { recursive: true, force: true }));
  await rm(path.join(gocache, TRIM_FILE), { force: true });
}
