/**
 * The Go module cache on disk: whether it is empty, a cheap scan of its
 * download area (cache/download/<escaped path>/@v), and removing read-only trees.
 */
import { createHash } from 'node:crypto';
import { chmodSync, promises as fs, readdirSync, readFileSync, rmSync, type Dirent } from 'node:fs';
import * as path from 'node:path';
import {
  escapeModulePath,
  goModHash,
  isModulePath,
  isModuleVersion,
  splitModuleId,
  unescapeModulePath,
} from './gosum.js';
import { modeBeforeRemove } from './paths.js';

export async function isNonEmptyDir(dir: string): Promise<boolean> {
  try {
    const entries = await fs.readdir(dir);
    return entries.length > 0;
  } catch {
    return false;
  }
}

export interface CachedVersion {
  /** Module path, unescaped. */
  path: string;
  version: string;
  hasZip: boolean;
  ziphash?: string;
  modHash?: string;
  partial: boolean;
}

export interface CacheScan {
  versions: CachedVersion[];
  /** Stable digest of the names of every zip, ziphash, mod and partial file. */
  fingerprint: string;
}

const KNOWN_EXT = ['.zip', '.ziphash', '.mod', '.partial'] as const;

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function findVersionDirs(root: string, rel: string, out: string[]): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(path.join(root, rel), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    if (e.name === '@v') {
      out.push(rel);
      continue;
    }
    if (rel === '' && e.name === 'sumdb') continue;
    findVersionDirs(root, rel === '' ? e.name : `${rel}/${e.name}`, out);
  }
}

/** Bytes of the cached zips of these versions (`path@version`; 0 for one without a zip). */
export async function zipBytes(modCache: string, ids: string[]): Promise<number> {
  const sizes = await Promise.all(
    ids.map((id) => {
      const { path: p, version } = splitModuleId(id);
      const esc = escapeModulePath(p).split('/');
      const file = path.join(
        modCache,
        'cache',
        'download',
        ...esc,
        '@v',
        `${escapeModulePath(version)}.zip`,
      );
      return fs.stat(file).then(
        (x) => x.size,
        () => 0,
      );
    }),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

/**
 * Scans `<modcache>/cache/download`. Reads ziphash and go.mod files, never zips.
 * Synchronous calls: a real project's cache has a few thousand of these small
 * files, and each asynchronous read's trip through libuv's thread pool cost
 * more than the read (main and post spent 0.16 s each here on the real workload).
 */
export async function scanModCache(
  modCache: string,
  o: { contents?: boolean } = {},
): Promise<CacheScan> {
  // contents: false lists the versions and their files (the fingerprint) without reading any.
  const contents = o.contents ?? true;
  const download = path.join(modCache, 'cache', 'download');
  const dirs: string[] = [];
  findVersionDirs(download, '', dirs);
  dirs.sort();
  const versions: CachedVersion[] = [];
  const names: string[] = [];
  for (const rel of dirs) {
    const vdir = path.join(download, ...rel.split('/'), '@v');
    const modPath = unescapeModulePath(rel);
    // Go never makes such a directory (module.CheckPath): it is no module.
    if (!isModulePath(modPath)) continue;
    let files: string[];
    try {
      files = readdirSync(vdir).sort();
    } catch {
      continue;
    }
    const byVersion = new Map<string, Set<string>>();
    for (const f of files) {
      const ext = KNOWN_EXT.find((x) => f.endsWith(x));
      if (!ext) continue;
      const v = unescapeModulePath(f.slice(0, -ext.length));
      if (!isModuleVersion(v)) continue;
      if (!byVersion.has(v)) byVersion.set(v, new Set());
      byVersion.get(v)!.add(ext);
      names.push(`${rel}/@v/${f}`);
    }
    for (const [version, exts] of byVersion) {
      const base = path.join(vdir, escapeModulePath(version));
      const cv: CachedVersion = {
        path: modPath,
        version,
        hasZip: exts.has('.zip'),
        partial: exts.has('.partial'),
      };
      if (contents && exts.has('.ziphash')) cv.ziphash = readText(base + '.ziphash')?.trim();
      if (contents && exts.has('.mod')) {
        let mod: Buffer | undefined;
        try {
          mod = readFileSync(base + '.mod');
        } catch {
          mod = undefined;
        }
        if (mod) cv.modHash = goModHash(mod);
      }
      versions.push(cv);
    }
  }
  const fingerprint = createHash('sha256').update(names.join('\n')).digest('hex').slice(0, 32);
  return { versions, fingerprint };
}

/**
 * Removes a module cache that a failed restore left half-written. Go makes
 * extracted trees read-only, so directories are made writable first.
 * Synchronous calls: a module cache has tens of thousands of entries, and
 * main spent 0.32 s removing an emptied quarantine with asynchronous ones
 * (each a trip through libuv's thread pool) against a few dozen ms this way.
 */
export async function forceRemove(
  dir: string,
  platform: NodeJS.Platform = process.platform,
): Promise<void> {
  // Read-only directories block removal on POSIX, read-only files on Windows.
  const dirMode = modeBeforeRemove('dir', platform);
  const fileMode = modeBeforeRemove('file', platform);
  const chmodQuietly = (p: string, mode: number): void => {
    try {
      chmodSync(p, mode);
    } catch {
      // Gone already, or not ours to change: rmSync says what matters.
    }
  };
  const makeWritable = (d: string): void => {
    if (dirMode !== undefined) chmodQuietly(d, dirMode);
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) makeWritable(p);
      else if (fileMode !== undefined) chmodQuietly(p, fileMode);
    }
  };
  makeWritable(dir);
  rmSync(dir, { recursive: true, force: true });
}
