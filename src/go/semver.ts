/**
 * Go module versions and paths by semantic versioning, the way the go command
 * reads them (golang.org/x/mod/semver and module.SplitPathVersion): ordering,
 * pseudo-versions, `+incompatible`, and the major-version suffix of a module
 * path (`/v2`, `gopkg.in/x.v2`). Go toolchain versions (`1.21rc1`) are another
 * scheme: see compareGoVersions in ./workspace.ts. Pure.
 */

export interface Parsed {
  major: number;
  minor: number;
  patch: number;
  prerelease: string[];
}

/**
 * Parses a Go semantic version (`v1`, `v1.2`, `v1.2.3`, `-pre`, `+build`);
 * undefined when it is not one. `+incompatible` is build metadata and does not
 * order. Shorthands `v1` and `v1.2` mean `v1.0.0` and `v1.2.0`, as in Go.
 */
export function parseSemver(v: string): Parsed | undefined {
  const m =
    /^v(0|[1-9]\d*)(?:\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?)?)?(?:\+[0-9A-Za-z.-]+)?$/.exec(
      v,
    );
  if (!m) return undefined;
  const prerelease = m[4] === undefined ? [] : m[4].split('.');
  if (prerelease.some((p) => p === '' || (/^\d+$/.test(p) && p.length > 1 && p.startsWith('0')))) {
    return undefined;
  }
  if (m[3] === undefined && (m[4] !== undefined || /\+/.test(v))) return undefined;
  return {
    major: Number(m[1]),
    minor: Number(m[2] ?? 0),
    patch: Number(m[3] ?? 0),
    prerelease,
  };
}

function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePrereleaseIds(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) {
    // Compared as decimal strings: no precision limit on long numeric identifiers.
    return a.length !== b.length ? compareNumbers(a.length, b.length) : a < b ? -1 : a > b ? 1 : 0;
  }
  if (an) return -1;
  if (bn) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders two Go module versions by semantic versioning precedence: a
 * prerelease (including a pseudo-version `vX.Y.Z-0.yyyymmddhhmmss-hash`) sorts
 * before its release, pseudo-versions order by their timestamp, and build
 * metadata such as `+incompatible` is ignored. A valid version is greater than
 * an invalid one; two invalid versions compare as strings.
 */
export function compareVersions(a: string, b: string): number {
  const pa = parseSemver(a);
  const pb = parseSemver(b);
  if (!pa || !pb) {
    if (pa) return 1;
    if (pb) return -1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const core =
    compareNumbers(pa.major, pb.major) ||
    compareNumbers(pa.minor, pb.minor) ||
    compareNumbers(pa.patch, pb.patch);
  if (core !== 0) return core;
  // A release sorts after every prerelease of the same version.
  if (pa.prerelease.length === 0 && pb.prerelease.length === 0) return 0;
  if (pa.prerelease.length === 0) return 1;
  if (pb.prerelease.length === 0) return -1;
  const n = Math.min(pa.prerelease.length, pb.prerelease.length);
  for (let i = 0; i < n; i++) {
    const c = comparePrereleaseIds(pa.prerelease[i]!, pb.prerelease[i]!);
    if (c !== 0) return c;
  }
  return compareNumbers(pa.prerelease.length, pb.prerelease.length);
}

/**
 * A pseudo-version names a commit, not a tag: `vX.0.0-yyyymmddhhmmss-hash`,
 * `vX.Y.Z-pre.0.yyyymmddhhmmss-hash` or `vX.Y.(Z+1)-0.yyyymmddhhmmss-hash`
 * (with an optional `+incompatible`).
 */
export function isPseudoVersion(v: string): boolean {
  return /^v\d+\.(?:0\.0-|\d+\.\d+-(?:[^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(?:\+[0-9A-Za-z.-]+)?$/.test(
    v,
  );
}

/** The largest part of a version that differs: how big a step from `a` to `b` is. */
export type VersionStep = 'major' | 'minor' | 'patch' | 'prerelease' | 'same';

/**
 * Which part changes between two valid versions (`undefined` when either is
 * not one). Build metadata (`+incompatible`) is not a part; a pseudo-version's
 * numbers are read as written (`v1.2.4-0.2021...` sits just below `v1.2.4`).
 */
export function versionStep(a: string, b: string): VersionStep | undefined {
  const pa = parseSemver(a);
  const pb = parseSemver(b);
  if (!pa || !pb) return undefined;
  if (pa.major !== pb.major) return 'major';
  if (pa.minor !== pb.minor) return 'minor';
  if (pa.patch !== pb.patch) return 'patch';
  return compareVersions(a, b) === 0 ? 'same' : 'prerelease';
}

/**
 * Splits a module path into the path without its major-version suffix and
 * that major: `example.com/m/v2` -> (`example.com/m`, 2), `gopkg.in/yaml.v3`
 * -> (`gopkg.in/yaml`, 3), `example.com/m` -> (`example.com/m`, undefined).
 * Go only accepts suffixes of 2 and above (`/v1` and `/v0` are not suffixes).
 */
export function splitPathMajor(p: string): { root: string; major?: number } {
  const gopkg = /^(gopkg\.in\/.+)\.v(0|[1-9]\d*)(-unstable)?$/.exec(p);
  if (gopkg) return { root: gopkg[1]!, major: Number(gopkg[2]) };
  const m = /^(.+)\/v([2-9]|[1-9]\d+)$/.exec(p);
  if (m) return { root: m[1]!, major: Number(m[2]) };
  return { root: p };
}
