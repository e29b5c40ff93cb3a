/**
 * Platform-dependent path logic, with the platform as a parameter so that the
 * Windows and macOS rules are unit tested on any machine (no hosted Windows or
 * macOS runner can run the test suite). Pure: no file system access.
 *
 * What differs between the platforms:
 * - path syntax: `\` and drive letters on win32 (`/` is accepted too);
 * - GOPATH list separator: `;` on win32, `:` elsewhere (Go's
 *   filepath.SplitList; on win32 an entry may be double-quoted to hold a `;`);
 * - the home directory Go uses for the default GOPATH: %USERPROFILE% on win32,
 *   $HOME elsewhere (Go's os.UserHomeDir);
 * - environment variable names: case-insensitive on win32;
 * - file name comparison: case-insensitive on win32 and on macOS (APFS and
 *   HFS+ as formatted by default), and macOS also folds Unicode
 *   normalization (NFC/NFD) of names;
 * - read-only trees: Go makes extracted modules read-only (0444 files, 0555
 *   directories). On POSIX a file can be deleted from a writable directory
 *   whatever its own mode, so directories must be made writable; on win32 the
 *   read-only attribute of a file blocks its deletion while directories are
 *   never blocked, so files must be made writable.
 */
import * as os from 'node:os';
import * as path from 'node:path';

export type Platform = NodeJS.Platform;

/** Node's path functions for `platform`'s path syntax. */
export function pathApi(platform: Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

/** True where the default file system compares names without regard to case. */
export function caseInsensitiveFs(platform: Platform): boolean {
  return platform === 'win32' || platform === 'darwin';
}

/**
 * Reads an environment variable as the platform does: names are
 * case-insensitive on win32 (`Path`, `GoModCache`). An empty or blank value
 * counts as unset, as it does for Go.
 */
export function envValue(
  env: NodeJS.ProcessEnv,
  name: string,
  platform: Platform,
): string | undefined {
  let value = env[name];
  if (value === undefined && platform === 'win32') {
    const upper = name.toUpperCase();
    const found = Object.keys(env).find((k) => k.toUpperCase() === upper);
    value = found === undefined ? undefined : env[found];
  }
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/**
 * Splits a GOPATH-style list like Go's filepath.SplitList: `;` on win32 (where
 * an entry may be wrapped in double quotes to contain a `;`), `:` elsewhere.
 * Empty entries are kept, as Go keeps them.
 */
export function splitPathList(list: string, platform: Platform): string[] {
  if (list === '') return [];
  if (platform !== 'win32') return list.split(':');
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of list) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ';' && !quoted) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}

/**
 * Where Go will put the module cache, found without running Go (pre runs
 * before setup-go): GOMODCACHE, else the first GOPATH entry + pkg/mod, else
 * `<home>/go/pkg/mod` with home from USERPROFILE on win32 and HOME elsewhere,
 * falling back to `home`. Empty GOPATH entries are skipped (Go would refuse
 * the list; main asks Go itself and notices the difference).
 */
export function locateModCacheWithoutGo(
  env: NodeJS.ProcessEnv,
  platform: Platform = process.platform,
  home: string = os.homedir(),
): string {
  const p = pathApi(platform);
  const explicit = envValue(env, 'GOMODCACHE', platform);
  if (explicit) return explicit;
  const gopath = envValue(env, 'GOPATH', platform);
  if (gopath) {
    const first = splitPathList(gopath, platform).find((e) => e.trim() !== '');
    if (first) return p.join(first.trim(), 'pkg', 'mod');
  }
  const homeDir = envValue(env, platform === 'win32' ? 'USERPROFILE' : 'HOME', platform) || home;
  return p.join(homeDir, 'go', 'pkg', 'mod');
}

/** A name or path in the form two of them are compared in on `platform`. */
function comparable(s: string, platform: Platform): string {
  const n = platform === 'darwin' ? s.normalize('NFC') : s;
  return caseInsensitiveFs(platform) ? n.toLowerCase() : n;
}

/**
 * Whether two paths name the same directory on `platform`, without touching
 * the disk: resolved, then compared case-insensitively on win32 and macOS
 * (and across Unicode normalization forms on macOS). Symbolic links are not
 * followed.
 */
export function samePath(a: string, b: string, platform: Platform = process.platform): boolean {
  const p = pathApi(platform);
  return comparable(p.resolve(a), platform) === comparable(p.resolve(b), platform);
}

/**
 * The mode to give an entry of a read-only module cache tree before deleting
 * it, or undefined when its mode does not matter on `platform` (see the file
 * comment): directories on POSIX, files on win32.
 */
export function modeBeforeRemove(kind: 'file' | 'dir', platform: Platform): number | undefined {
  if (platform === 'win32') return kind === 'file' ? 0o666 : undefined;
  return kind === 'dir' ? 0o755 : undefined;
}
