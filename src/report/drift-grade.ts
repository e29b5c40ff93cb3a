/**
 * Dependency drift graded against a baseline: every module change between a
 * known-good set of module versions (the default branch's newest entry, a
 * go.sum, another environment's entry) and what the job builds now gets a
 * grade, and the worst grade is the drift level a workflow can fail on. The
 * rules (the README's table is this function's documentation):
 *
 * - critical: a new major version (a higher major on the same path, or a move
 *   to another major-suffix path of the same module: `example.com/m` ->
 *   `example.com/m/v2`), a downgrade (also back to a lower major path), a
 *   replace directive added, removed or pointed elsewhere, and the SAME version
 *   with another checksum than the baseline's (a re-published module or an
 *   edited go.sum; content or go.mod line);
 * - warning: a minor upgrade, a new direct dependency (required in a go.mod
 *   without `// indirect`), a pseudo-version (an untagged commit) as the new
 *   version, and versions that are not semantic versions at all;
 * - info: patch and prerelease upgrades, new indirect dependencies, removed
 *   dependencies.
 *
 * Pure: the caller reads go.mod, go.sum and entries.
 */
import {
  compareVersions,
  isPseudoVersion,
  parseSemver,
  splitPathMajor,
  versionStep,
} from '../go/semver.js';
import type { Baseline, BaselineModule, Current, ReplaceRule, Site } from './drift-baseline.js';
import { computeDrift, sumContentVersions, type ModuleVersion } from './drift.js';
import { TOOLCHAIN_MODULE as TOOLCHAIN } from '../verify/toolchains.js';

export type Grade = 'critical' | 'warning' | 'info';
export type DriftLevel = 'none' | Grade;
export type FailOnDrift = 'critical' | 'warning' | 'never';

export type ChangeKind =
  | 'major'
  | 'downgrade'
  | 'replace-added'
  | 'replace-removed'
  | 'replace-changed'
  | 'checksum'
  | 'minor'
  | 'new-direct'
  | 'pseudo'
  | 'not-semver'
  | 'patch'
  | 'new-indirect'
  | 'removed';

export interface GradedChange {
  grade: Grade;
  kind: ChangeKind;
  path: string;
  /** The baseline's version (`path@version` when the path changed too). */
  from?: string;
  /** The version now (`path@version` when the path changed too). */
  to?: string;
  /** One sentence: what changed and why it has this grade. */
  why: string;
  site?: Site;
}

const RANK: Record<DriftLevel, number> = { none: 0, info: 1, warning: 2, critical: 3 };

/** The major a module version belongs to: its path's suffix, else its version's first number. */
function effectiveMajor(p: string, version: string): number | undefined {
  return splitPathMajor(p).major ?? parseSemver(version)?.major;
}

function upgradeGrade(from: string, to: string): { grade: Grade; kind: ChangeKind; why: string } {
  const step = versionStep(from, to);
  if (step === undefined) {
    return {
      grade: 'warning',
      kind: 'not-semver',
      why: 'not both semantic versions, so the size of the change is unknown',
    };
  }
  if (step === 'major') {
    return { grade: 'critical', kind: 'major', why: 'a new major version: breaking by semver' };
  }
  if (isPseudoVersion(to)) {
    return {
      grade: 'warning',
      kind: 'pseudo',
      why: isPseudoVersion(from)
        ? 'another untagged commit (pseudo-version): no semver promise'
        : `an untagged commit (pseudo-version) replaces the tag ${from}`,
    };
  }
  if (step === 'minor') return { grade: 'warning', kind: 'minor', why: 'a minor upgrade' };
  return {
    grade: 'info',
    kind: 'patch',
    why: step === 'patch' ? 'a patch upgrade' : 'a prerelease step',
  };
}

function versionChange(
  path: string,
  from: string,
  to: string,
): Omit<GradedChange, 'site'> | undefined {
  const c = compareVersions(to, from);
  if (c === 0) return undefined;
  if (c < 0) {
    return { grade: 'critical', kind: 'downgrade', path, from, to, why: 'a downgrade' };
  }
  return { path, from, to, ...upgradeGrade(from, to) };
}

const replaceKey = (r: ReplaceRule): string => `${r.from}@${r.fromVersion ?? ''}`;
const replaceTarget = (r: ReplaceRule): string => (r.toVersion ? `${r.to}@${r.toVersion}` : r.to);
const replaceLabel = (r: ReplaceRule): string =>
  `${r.fromVersion ? `${r.from}@${r.fromVersion}` : r.from} => ${replaceTarget(r)}`;

/** Replace directives added, removed or pointed elsewhere; `folded` collects the paths they explain. */
function replaceChanges(b: Baseline, now: Current, folded: Set<string>): GradedChange[] {
  const out: GradedChange[] = [];
  if (b.replaces === undefined) {
    // An entry knows no go.mod; a replace is surely new when the baseline
    // fetched the very module it now swaps out from the proxy.
    for (const r of now.replaces) {
      const held = b.modules.some(
        (m) => m.content && m.path === r.from && (!r.fromVersion || m.version === r.fromVersion),
      );
      if (!held) continue;
      folded.add(r.from).add(r.to);
      out.push({
        grade: 'critical',
        kind: 'replace-added',
        path: r.from,
        to: replaceTarget(r),
        why: `replace ${replaceLabel(r)} is new: the baseline built ${r.from} from the module proxy`,
        site: { file: r.file, ...(r.line ? { line: r.line } : {}) },
      });
    }
    return out;
  }
  const before = new Map(b.replaces.map((r) => [replaceKey(r), r]));
  const after = new Map(now.replaces.map((r) => [replaceKey(r), r]));
  for (const [key, r] of after) {
    const old = before.get(key);
    if (old && replaceTarget(old) === replaceTarget(r)) continue;
    folded.add(r.from).add(r.to);
    if (old) folded.add(old.to);
    out.push({
      grade: 'critical',
      kind: old ? 'replace-changed' : 'replace-added',
      path: r.from,
      ...(old ? { from: replaceTarget(old) } : {}),
      to: replaceTarget(r),
      why: old
        ? `replace ${r.from} now points to ${replaceTarget(r)} instead of ${replaceTarget(old)}`
        : `replace ${replaceLabel(r)} is new`,
      site: { file: r.file, ...(r.line ? { line: r.line } : {}) },
    });
  }
  for (const [key, r] of before) {
    if (after.has(key)) continue;
    folded.add(r.from).add(r.to);
    out.push({
      grade: 'critical',
      kind: 'replace-removed',
      path: r.from,
      from: replaceTarget(r),
      why: `replace ${replaceLabel(r)} was removed: ${r.from} now comes from the module proxy`,
    });
  }
  return out;
}

/** The same version with another checksum on each side: content or go.mod. */
function checksumChanges(b: Baseline, now: Current): GradedChange[] {
  const out: GradedChange[] = [];
  for (const m of b.modules) {
    const id = `${m.path}@${m.version}`;
    const pairs: [string | undefined, string, string][] = [
      [m.h1, id, 'content'],
      [m.modH1, `${id}/go.mod`, 'go.mod'],
    ];
    for (const [was, key, what] of pairs) {
      const is = now.sums.get(key);
      if (was === undefined || is === undefined || is === '' || was === is) continue;
      out.push({
        grade: 'critical',
        kind: 'checksum',
        path: m.path,
        from: m.version,
        to: m.version,
        why:
          `the same version with another ${what} checksum (${was} before, ${is} now): ` +
          'a re-published module or an edited go.sum',
      });
    }
  }
  return out;
}

function contentVersions(modules: BaselineModule[]): ModuleVersion[] {
  return modules.filter((m) => m.content).map((m) => ({ path: m.path, version: m.version }));
}

/**
 * A version with no counterpart of its path in the baseline: another major of
 * a module the baseline has (`m` -> `m/v2`), a further version of a path it
 * has, or a new dependency (direct or indirect by go.mod).
 */
function addedChange(
  v: ModuleVersion,
  base: ModuleVersion[],
  direct: Set<string>,
  moved: Set<string>,
): Omit<GradedChange, 'site'> | undefined {
  const samePath = base.filter((m) => m.path === v.path);
  if (samePath.length > 0) {
    const highest = samePath.reduce((a, m) => (compareVersions(m.version, a.version) > 0 ? m : a));
    return versionChange(v.path, highest.version, v.version);
  }
  const root = splitPathMajor(v.path).root;
  const family = base.filter((m) => splitPathMajor(m.path).root === root);
  const major = effectiveMajor(v.path, v.version);
  if (family.length > 0 && major !== undefined) {
    const top = family.reduce((a, m) =>
      (effectiveMajor(m.path, m.version) ?? -1) > (effectiveMajor(a.path, a.version) ?? -1) ? m : a,
    );
    const topMajor = effectiveMajor(top.path, top.version) ?? -1;
    if (topMajor !== major) {
      for (const m of family) moved.add(m.path);
      const move = {
        path: v.path,
        from: `${top.path}@${top.version}`,
        to: `${v.path}@${v.version}`,
      };
      return major > topMajor
        ? {
            ...move,
            grade: 'critical',
            kind: 'major',
            why: `a new major version (v${topMajor} -> v${major}), another module path`,
          }
        : {
            ...move,
            grade: 'critical',
            kind: 'downgrade',
            why: `back to an older major version (v${topMajor} -> v${major}), another module path`,
          };
    }
  }
  return direct.has(v.path)
    ? {
        grade: 'warning',
        kind: 'new-direct',
        path: v.path,
        to: v.version,
        why: 'a new direct dependency',
      }
    : {
        grade: 'info',
        kind: 'new-indirect',
        path: v.path,
        to: v.version,
        why: 'a new indirect dependency',
      };
}

function siteOf(c: GradedChange, now: Current): Site | undefined {
  if (c.site) return c.site;
  const version = c.to?.includes('@') ? c.to.slice(c.to.lastIndexOf('@') + 1) : c.to;
  const req =
    now.requires.find((r) => r.path === c.path && r.version === version) ??
    now.requires.find((r) => r.path === c.path);
  if (req) return { file: req.file, line: req.line };
  if (version === undefined) return undefined;
  const id = `${c.path}@${version}`;
  return now.sumSites?.get(id) ?? now.sumSites?.get(`${id}/go.mod`);
}

function byGradeThenPath(a: GradedChange, b: GradedChange): number {
  return RANK[b.grade] - RANK[a.grade] || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

/** Every change between the baseline and now, graded, worst first (then by module path). */
export function gradeDrift(b: Baseline, now: Current): GradedChange[] {
  // Paths a replace change explains, and old paths of a major move: no rows of their own.
  const replaced = new Set<string>();
  const moved = new Set<string>();
  const changes: GradedChange[] = replaceChanges(b, now, replaced);
  changes.push(...checksumChanges(b, now));
  const base = contentVersions(b.modules).filter((m) => m.path !== TOOLCHAIN);
  const drift = computeDrift(base, sumContentVersions(now.sums));
  const direct = new Set(now.requires.filter((r) => !r.indirect).map((r) => r.path));
  const found: Omit<GradedChange, 'site'>[] = [];
  for (const u of [...drift.upgraded, ...drift.downgraded]) {
    const c = versionChange(u.path, u.from, u.to);
    if (c) found.push(c);
  }
  for (const v of drift.added) {
    const c = addedChange(v, base, direct, moved);
    if (c) found.push(c);
  }
  for (const c of found) if (!replaced.has(c.path)) changes.push(c);
  for (const v of drift.removed) {
    if (replaced.has(v.path) || moved.has(v.path)) continue;
    changes.push({
      grade: 'info',
      kind: 'removed',
      path: v.path,
      from: v.version,
      why: 'no longer a dependency',
    });
  }
  return changes.map((c) => ({ ...c, site: siteOf(c, now) })).sort(byGradeThenPath);
}

/** The worst grade of the changes; `none` when there are none. */
export function driftLevel(changes: GradedChange[]): DriftLevel {
  let level: DriftLevel = 'none';
  for (const c of changes) if (RANK[c.grade] > RANK[level]) level = c.grade;
  return level;
}

/** Does `level` reach the `fail-on-drift` threshold? */
export function reachesThreshold(level: DriftLevel, failOn: FailOnDrift): boolean {
  return failOn !== 'never' && RANK[level] >= RANK[failOn];
}

/** The changes at or above the threshold: what a failing step names. */
export function changesAtOrAbove(changes: GradedChange[], failOn: FailOnDrift): GradedChange[] {
  if (failOn === 'never') return [];
  return changes.filter((c) => RANK[c.grade] >= RANK[failOn]);
}
