/**
 * Dependency drift: what changed between the module versions a restored entry
 * holds and what the current go.sum needs. Shown when an entry built from
 * another go.sum was restored (a lineage hit), so a reader sees why the job
 * downloaded what it did. Pure.
 */
import { compareVersions } from '../go/semver.js';
import { formatBytes } from './report.js';

export { compareVersions, parseSemver } from '../go/semver.js';

export interface ModuleVersion {
  path: string;
  version: string;
}

export interface VersionChange {
  path: string;
  from: string;
  to: string;
}

export interface Drift {
  /** In go.sum, not in the entry (a new dependency). */
  added: ModuleVersion[];
  /** In the entry, and go.sum names no version of that module any more. */
  removed: ModuleVersion[];
  upgraded: VersionChange[];
  downgraded: VersionChange[];
  /** Versions both sides hold. */
  unchanged: number;
}

/** What a caller knows of one module version in the entry (a record row or a cache scan row). */
export interface EntryModule {
  path: string;
  version: string;
  /** Hashes of its content; a row with none of them holds a go.mod only. */
  treeH1?: string;
  zipH1?: string;
  ziphash?: string;
  hasZip?: boolean;
}

/** Modules Go keeps for itself (toolchain downloads): never a dependency change. */
const NOT_DEPENDENCIES = new Set(['golang.org/toolchain']);

/**
 * The versions whose content the entry holds. A version with only its go.mod
 * is part of the module graph, not a dependency the build uses, so it is not
 * drift.
 */
export function entryContentVersions(rows: EntryModule[]): ModuleVersion[] {
  return rows
    .filter(
      (r) =>
        r.treeH1 !== undefined ||
        r.zipH1 !== undefined ||
        r.ziphash !== undefined ||
        r.hasZip === true,
    )
    .map((r) => ({ path: r.path, version: r.version }));
}

/**
 * The versions whose content go.sum needs: the lines without `/go.mod`, from
 * the `path@version[/go.mod]` keys of `loadSums`.
 */
export function sumContentVersions(sums: Map<string, string>): ModuleVersion[] {
  const out: ModuleVersion[] = [];
  for (const key of sums.keys()) {
    if (key.endsWith('/go.mod')) continue;
    const at = key.lastIndexOf('@');
    if (at <= 0) continue;
    out.push({ path: key.slice(0, at), version: key.slice(at + 1) });
  }
  return out;
}

function groupByPath(versions: ModuleVersion[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const v of versions) {
    if (NOT_DEPENDENCIES.has(v.path)) continue;
    if (!out.has(v.path)) out.set(v.path, new Set());
    out.get(v.path)!.add(v.version);
  }
  return out;
}

function byPathThenVersion(a: ModuleVersion, b: ModuleVersion): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : compareVersions(a.version, b.version);
}

/**
 * Compares the entry's module versions with what go.sum needs now. For each
 * module path, versions on both sides are unchanged; the remaining old and new
 * versions are paired highest with highest (the usual case is one of each: an
 * upgrade or a downgrade), and what is left unpaired was added or removed.
 *
 * `entryVersions` are the versions whose content the entry holds (see
 * `entryContentVersions`); `currentSums` is `loadSums`' map of the current go.sum.
 */
export function computeDrift(
  entryVersions: ModuleVersion[],
  currentSums: Map<string, string> | ModuleVersion[],
): Drift {
  const current = Array.isArray(currentSums) ? currentSums : sumContentVersions(currentSums);
  const before = groupByPath(entryVersions);
  const after = groupByPath(current);
  const drift: Drift = { added: [], removed: [], upgraded: [], downgraded: [], unchanged: 0 };
  const paths = new Set([...before.keys(), ...after.keys()]);
  for (const path of paths) {
    const old = before.get(path) ?? new Set<string>();
    const now = after.get(path) ?? new Set<string>();
    const descending = (xs: string[]): string[] => xs.sort((a, b) => compareVersions(b, a));
    const gone = descending([...old].filter((v) => !now.has(v)));
    const fresh = descending([...now].filter((v) => !old.has(v)));
    drift.unchanged += [...old].filter((v) => now.has(v)).length;
    const pairs = Math.min(gone.length, fresh.length);
    for (let i = 0; i < pairs; i++) {
      const change = { path, from: gone[i]!, to: fresh[i]! };
      if (compareVersions(change.to, change.from) >= 0) drift.upgraded.push(change);
      else drift.downgraded.push(change);
    }
    for (const v of gone.slice(pairs)) drift.removed.push({ path, version: v });
    for (const v of fresh.slice(pairs)) drift.added.push({ path, version: v });
  }
  drift.added.sort(byPathThenVersion);
  drift.removed.sort(byPathThenVersion);
  const byChange = (a: VersionChange, b: VersionChange): number =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : compareVersions(a.from, b.from);
  drift.upgraded.sort(byChange);
  drift.downgraded.sort(byChange);
  return drift;
}

/** True when nothing changed between the entry and go.sum. */
export function isEmptyDrift(d: Drift): boolean {
  return d.added.length + d.removed.length + d.upgraded.length + d.downgraded.length === 0;
}

/** One line such as `+2 added, -1 removed, 3 upgraded, 0 downgraded`. */
export function driftSummaryLine(d: Drift): string {
  return (
    `${d.added.length} added, ${d.removed.length} removed, ` +
    `${d.upgraded.length} upgraded, ${d.downgraded.length} downgraded`
  );
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export interface DriftMarkdownOptions {
  /** Bytes the job (or the repair) downloaded to close the drift; the caller measures it. */
  downloadedBytes?: number;
  /** The key of the entry the drift is measured from. */
  fromKey?: string;
  /** Heading level and text; default `#### Dependency drift`. */
  heading?: string;
  /** At most this many rows per table (the rest are counted); default 50. */
  maxRows?: number;
}

/**
 * The drift as markdown: a one-line summary, then one table of every change
 * (`added`, `removed`, `upgraded old -> new`, `downgraded old -> new`).
 * Returns '' when there is no drift, so callers can append it unconditionally.
 */
export function driftMarkdown(drift: Drift, o: DriftMarkdownOptions = {}): string {
  if (isEmptyDrift(drift)) return '';
  const maxRows = o.maxRows ?? 50;
  let md = `${o.heading ?? '#### Dependency drift'}\n\n`;
  md += o.fromKey
    ? `The restored entry \`${cell(o.fromKey)}\` was built from another go.sum: `
    : 'The restored entry was built from another go.sum: ';
  md += `${driftSummaryLine(drift)}, ${drift.unchanged} unchanged`;
  md +=
    o.downloadedBytes === undefined
      ? '.\n\n'
      : `; ${formatBytes(o.downloadedBytes)} downloaded for them.\n\n`;
  const rows: string[] = [
    ...drift.upgraded.map(
      (c) => `| upgraded | \`${cell(c.path)}\` | ${cell(c.from)} -> ${cell(c.to)} |`,
    ),
    ...drift.downgraded.map(
      (c) => `| downgraded | \`${cell(c.path)}\` | ${cell(c.from)} -> ${cell(c.to)} |`,
    ),
    ...drift.added.map((v) => `| added | \`${cell(v.path)}\` | ${cell(v.version)} |`),
    ...drift.removed.map((v) => `| removed | \`${cell(v.path)}\` | ${cell(v.version)} |`),
  ];
  md += '| change | module | version |\n|---|---|---|\n';
  md += rows.slice(0, maxRows).join('\n') + '\n';
  if (rows.length > maxRows) md += `\n… and ${rows.length - maxRows} more changes.\n`;
  return md;
}
