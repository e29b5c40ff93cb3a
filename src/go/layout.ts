/**
 * Go's module cache layout as pure rules: where a path relative to the module
 * cache root belongs (a module version's extracted tree, one of its download
 * files, or nothing Go defines for a module version), and which paths one
 * module version occupies. The closed layout of a restore is built on these:
 * a path that is not a tree or download file of a module version whose path
 * and version Go's rules accept is never written.
 */
import {
  escapeModulePath,
  isModulePath,
  isModuleVersion,
  splitModuleId,
  unescapeModulePath,
} from './gosum.js';

export const DOWNLOAD_EXTS = ['.ziphash', '.zip', '.mod', '.info', '.partial'] as const;
export type DownloadExt = (typeof DOWNLOAD_EXTS)[number];

/** Where a path (relative to the module cache root) belongs. Pure. */
export type Placement =
  | {
      kind: 'tree';
      /** `<escaped path>@<escaped version>`: the tree's directory. */
      root: string;
      path: string;
      version: string;
      /** Path inside the tree ('' for the tree's own directory). */
      inner: string;
    }
  | { kind: 'download'; path: string; version: string; ext: DownloadExt }
  | { kind: 'other' };

/**
 * Classifies a module cache path: an extracted tree is identified by the first
 * segment containing '@' (`golang.org/x/tools@v0.1.0/...` and
 * `golang.org/x/tools/gopls@v0.24.0/...` are different modules); download files
 * are `cache/download/<escaped path>/@v/<escaped version><ext>`.
 */
export function placeOf(rel: string): Placement {
  if (rel === 'cache' || rel.startsWith('cache/')) return downloadPlaceOf(rel);
  // The first segment holding an '@' is the one holding the first '@'.
  const firstAt = rel.indexOf('@');
  if (firstAt < 0) return OTHER;
  const end = rel.indexOf('/', firstAt);
  const root = end < 0 ? rel : rel.slice(0, end);
  const tree = treeRootOf(root);
  if (tree === null) return OTHER;
  return {
    kind: 'tree',
    root,
    path: tree.path,
    version: tree.version,
    inner: end < 0 ? '' : rel.slice(end + 1),
  };
}

const OTHER: Placement = Object.freeze({ kind: 'other' });

/** Tree roots seen, unescaped once each: an extraction asks for every file of every tree. */
const treeRoots = new Map<string, { path: string; version: string } | null>();

/** `<escaped path>@<escaped version>` → the module it names, or null when it names none. */
function treeRootOf(root: string): { path: string; version: string } | null {
  let tree = treeRoots.get(root);
  if (tree !== undefined) return tree;
  const segStart = root.lastIndexOf('/') + 1;
  const at = root.lastIndexOf('@');
  const escPath = root.slice(0, at);
  const escVersion = root.slice(at + 1);
  tree =
    at === segStart ||
    escVersion === '' ||
    !isCanonicalEscape(escPath) ||
    !isCanonicalEscape(escVersion)
      ? null
      : moduleOrNull(unescapeModulePath(escPath), unescapeModulePath(escVersion));
  if (treeRoots.size > 100_000) treeRoots.clear();
  treeRoots.set(root, tree);
  return tree;
}

/**
 * Go's escaping (module.EscapePath) never leaves an upper-case letter and
 * always puts a lower-case one after '!': 'Foo' and '!foo' would otherwise
 * both read as module Foo, one hiding the other.
 */
function isCanonicalEscape(escaped: string): boolean {
  return !/[A-Z]|![^a-z]|!$/.test(escaped);
}

/**
 * A module Go could have put in the cache, or null. Anything else is kept as a
 * plain file, never unpacked or counted as a module: a download path such as
 * `cache/download/example.com/a@v1.0.0/x/@v/v2.0.0.zip` would otherwise name
 * the tree `example.com/a@v1.0.0/x@v2.0.0`, which lies inside another
 * module's tree and would add files to it unseen by its record.
 */
function moduleOrNull(p: string, version: string): { path: string; version: string } | null {
  return isModulePath(p) && isModuleVersion(version) ? { path: p, version } : null;
}

function downloadPlaceOf(rel: string): Placement {
  const segs = rel.split('/');
  const at = segs.indexOf('@v');
  if (segs[1] !== 'download' || at < 3 || at !== segs.length - 2) return OTHER;
  const file = segs[segs.length - 1]!;
  const ext = DOWNLOAD_EXTS.find((x) => file.endsWith(x) && file.length > x.length);
  if (!ext || !isCanonicalEscape(rel)) return OTHER;
  const m = moduleOrNull(
    unescapeModulePath(segs.slice(2, at).join('/')),
    unescapeModulePath(file.slice(0, -ext.length)),
  );
  return m === null ? OTHER : { kind: 'download', ...m, ext };
}

/** placeOf for a regular file: a file standing where a tree directory belongs is just other. */
export function filePlaceOf(rel: string): Placement {
  const place = placeOf(rel);
  return place.kind === 'tree' && place.inner === '' ? OTHER : place;
}

/** Go's modes: trees read-only (files 0444, dirs 0555 once filled), the rest 0644 / 0755. */
export function fileModeFor(place: Placement): number {
  return place.kind === 'tree' ? 0o444 : 0o644;
}

// ---------------------------------------------------------------------------
// Record building, shared by extraction and recordFromDisk.

/** The files and trees of one module version, relative to the module cache root. */
export function entryPaths(
  id: string,
  o: { tree: boolean; zip: boolean },
): { tree?: string; files: string[] } {
  const { path: p, version } = splitModuleId(id);
  const base = `cache/download/${escapeModulePath(p)}/@v/${escapeModulePath(version)}`;
  const files = [`${base}.mod`, `${base}.info`];
  if (o.tree) files.push(`${base}.ziphash`);
  if (o.tree && o.zip) files.push(`${base}.zip`);
  return {
    tree: o.tree ? `${escapeModulePath(p)}@${escapeModulePath(version)}` : undefined,
    files,
  };
}

// ---------------------------------------------------------------------------
// The closed layout of a module cache restore.

/**
 * The largest download files a closed-layout restore writes, by extension. A
 * `.ziphash` is one h1 line (47 bytes), a `.info` a few hundred bytes of JSON;
 * one of kilobytes or megabytes is no file Go wrote. A go.mod can be large (a
 * few hundred KiB for the biggest modules): its bound only stops a bomb.
 */
export const DOWNLOAD_FILE_LIMITS: Readonly<Record<'.ziphash' | '.info' | '.mod', number>> = {
  '.ziphash': 1 << 10,
  '.info': 64 << 10,
  '.mod': 16 << 20,
};

/**
 * Pure: whether a closed-layout restore writes a regular file of `size` bytes
 * standing at `place` (filePlaceOf). Only what Go's layout defines for a module
 * version whose path and version Go's rules accept is written: its tree's
 * files, and its `.zip`, `.ziphash`, `.mod` and `.info` within their bounds.
 * Everything else (cache/vcs, sumdb, `list`, `.lock`, `.partial`, top-level or
 * misplaced files) is dropped. A dropped `.partial` is harmless: it marks an
 * interrupted extraction of a tree, and every tree is hashed from its bytes.
 */
export function closedLayoutKeeps(place: Placement, size: number): boolean {
  if (place.kind === 'tree') return place.inner !== '';
  if (place.kind !== 'download' || place.ext === '.partial') return false;
  if (place.ext === '.zip') return true;
  return size <= DOWNLOAD_FILE_LIMITS[place.ext];
}

/** RFC 3339, as Go's time.Time marshals it (seconds, optional fraction, Z or an offset). */
const RFC3339 =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/**
 * Pure: the `Time` of a `.info` file's JSON when it is a valid RFC 3339 time,
 * else undefined. Nothing else of the file is ever used.
 */
export function infoTimeOf(data: Buffer | string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const time = (parsed as Record<string, unknown>)['Time'];
  if (typeof time !== 'string' || !RFC3339.test(time) || Number.isNaN(Date.parse(time)))
    return undefined;
  return time;
}

/**
 * Pure: the `.info` a restore writes for a verified version: its version and,
 * when the entry's `.info` had a valid one, its time. Never an Origin or any
 * other field an entry brought (Go reads Origin to decide whether a cached
 * query result is still current; a planted one would point it elsewhere).
 */
export function trustedInfo(version: string, time: string | undefined): string {
  return JSON.stringify(
    time === undefined ? { Version: version } : { Version: version, Time: time },
  );
}

/** Longest member name shown in a message or kept in a record. */
export const SHOWN_NAME = 200;

/** A name cut to SHOWN_NAME characters (with an ellipsis), for messages and records. */
export function shortName(name: string): string {
  return name.length <= SHOWN_NAME ? name : `${name.slice(0, SHOWN_NAME)}…`;
}
