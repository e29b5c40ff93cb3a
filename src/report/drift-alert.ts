/**
 * Graded drift as a person and a script see it: the job summary table (worst
 * first), the JSON file the `drift-report` output names, the text of an
 * annotation and the message of a step that `fail-on-drift` fails. Pure.
 */
import {
  changesAtOrAbove,
  type DriftLevel,
  type FailOnDrift,
  type Grade,
  type GradedChange,
} from './drift-grade.js';

/** Where the baseline came from: decides how a change is accepted. */
export type BaselineSource = 'default-branch' | 'go.sum' | 'environment';

export interface DriftCheck {
  source: BaselineSource;
  /** The baseline, for people: an entry key, a go.sum path, an environment. */
  baseline: string;
  /** What was compared with it, when it is not "this job" (health mode: an environment). */
  subject?: string;
  changes: GradedChange[];
  level: DriftLevel;
}

export interface DriftReportFile {
  level: DriftLevel;
  failOnDrift: FailOnDrift;
  failed: boolean;
  /** Why there is no comparison (no baseline entry yet...), when there is none. */
  note?: string;
  checks: (DriftCheck & { counts: Record<Grade, number> })[];
}

const MARK: Record<DriftLevel, string> = {
  none: '✅',
  info: '🔵',
  warning: '🟠',
  critical: '🔴',
};

/** Rows per table: the job summary is limited to 1 MiB; the JSON report has every change. */
const MAX_ROWS = 100;

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function countGrades(changes: GradedChange[]): Record<Grade, number> {
  const n: Record<Grade, number> = { critical: 0, warning: 0, info: 0 };
  for (const c of changes) n[c.grade]++;
  return n;
}

function countsLine(changes: GradedChange[]): string {
  const n = countGrades(changes);
  return `${n.critical} critical, ${n.warning} warning, ${n.info} info`;
}

/** `path from -> to`, in a few words. */
export function changeLabel(c: GradedChange): string {
  if (c.from && c.to) {
    if (c.to.includes('@')) return `${c.from} -> ${c.to}`;
    return c.from === c.to ? `${c.path} ${c.to}` : `${c.path} ${c.from} -> ${c.to}`;
  }
  if (c.to) return `${c.path} ${c.to} (added)`;
  return `${c.path} ${c.from ?? ''} (removed)`.replace('  ', ' ');
}

/** The annotation of one change: what it is, its grade and why. */
export function annotationText(c: GradedChange, check: DriftCheck): string {
  return `Dependency drift (${c.grade}) against ${check.baseline}: ${changeLabel(c)}: ${c.why}.`;
}

/** How a team accepts drift it intends, per baseline. */
export function acceptHint(source: BaselineSource): string {
  switch (source) {
    case 'default-branch':
      return (
        'If they are intended, accept them by merging: the next verified entry the default ' +
        'branch saves becomes the baseline. Until then, let this pull request pass with a higher ' +
        "threshold, for example 'fail-on-drift: never' while it carries a label such as " +
        'accept-drift (see the README).'
      );
    case 'go.sum':
      return (
        'If they are intended, accept them by updating the baseline go.sum to these versions, ' +
        "or run this job with a higher threshold ('fail-on-drift: never')."
      );
    case 'environment':
      return (
        'If they are intended, rebuild the lagging environment from the same go.sum, or run ' +
        "this check with a higher threshold ('fail-on-drift: never')."
      );
  }
}

/** The job summary section: one table per check, worst change first. */
export function driftTableMarkdown(
  checks: DriftCheck[],
  failOn: FailOnDrift,
  note?: string,
): string {
  let md = '#### Dependency drift check\n\n';
  if (note) md += `> ${cell(note)}\n\n`;
  for (const check of checks) {
    const against = check.subject
      ? `\`${cell(check.subject)}\` against \`${cell(check.baseline)}\``
      : `Against \`${cell(check.baseline)}\``;
    md +=
      `${MARK[check.level]} **${check.level}**. ${against}: ${countsLine(check.changes)}` +
      `${failOn === 'never' ? '' : ` (fail-on-drift: ${failOn})`}.\n\n`;
    if (check.changes.length === 0) continue;
    md += '| Grade | Module | Baseline | Now | Why |\n|---|---|---|---|---|\n';
    for (const c of check.changes.slice(0, MAX_ROWS)) {
      md +=
        `| ${MARK[c.grade]} ${c.grade} | \`${cell(c.path)}\` | ${cell(c.from ?? '-')} | ` +
        `${cell(c.to ?? '-')} | ${cell(c.why)} |\n`;
    }
    if (check.changes.length > MAX_ROWS) {
      md += `\n… and ${check.changes.length - MAX_ROWS} more changes (all in the drift report).\n`;
    }
    md += '\n';
  }
  return md;
}

/** The message of a step failed by `fail-on-drift`, or undefined when no check reaches it. */
export function failureMessage(checks: DriftCheck[], failOn: FailOnDrift): string | undefined {
  const parts: string[] = [];
  for (const check of checks) {
    const hit = changesAtOrAbove(check.changes, failOn);
    if (hit.length === 0) continue;
    const shown = hit
      .slice(0, 10)
      .map((c) => `${changeLabel(c)} (${c.grade}: ${c.why})`)
      .join('; ');
    parts.push(
      `${check.subject ? `${check.subject} against ` : ''}${check.baseline}: ${hit.length} ` +
        `change${hit.length === 1 ? '' : 's'}: ${shown}${hit.length > 10 ? '; ...' : ''}. ` +
        acceptHint(check.source),
    );
  }
  if (parts.length === 0) return undefined;
  return `Dependency drift reaches fail-on-drift '${failOn}'. ${parts.join(' ')}`;
}

/** The JSON file behind the `drift-report` output. */
export function driftReportJson(r: DriftReportFile): string {
  return JSON.stringify(r, null, 2) + '\n';
}

/** The worst level over several checks. */
export function worstLevel(levels: DriftLevel[]): DriftLevel {
  const order: DriftLevel[] = ['none', 'info', 'warning', 'critical'];
  return levels.reduce<DriftLevel>((a, l) => (order.indexOf(l) > order.indexOf(a) ? l : a), 'none');
}
