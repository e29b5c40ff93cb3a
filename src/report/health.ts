/**
 * The health report: what a scheduled health job found, repaired, saved and
 * deleted per environment, and the cache inventory. One data structure is
 * rendered twice: as the job summary a person reads at a glance, and as the
 * JSON file the `report` output names for scripts. Pure.
 */
import type { CacheEntryInfo, CacheUsage, DeletionReason } from '../cache/inventory.js';
import { byCreation, DEFAULT_LIMIT_BYTES } from '../cache/inventory.js';
import { driftMarkdown, driftSummaryLine, isEmptyDrift, type Drift } from './drift.js';
import { formatBytes, formatMs } from './report.js';

/**
 * - healthy: the newest entry is for the current go.sum, complete and verified;
 * - repaired: it was corrupt or incomplete, and a repaired generation was saved;
 * - corrupt: it failed verification and could not be repaired or saved;
 * - stale: the newest entry was built from another go.sum (a lineage hit) and
 *   could not be brought up to date;
 * - incomplete: it lacks modules go.sum names and could not be completed;
 * - missing: no entry at all for this environment;
 * - unavailable: the cache service did not answer or refused the archive;
 * - error: the check itself failed (go missing, go.sum unreadable...).
 */
export type EnvStatus =
  'healthy' | 'repaired' | 'corrupt' | 'stale' | 'incomplete' | 'missing' | 'unavailable' | 'error';

export interface BadEntryModule {
  module: string;
  reason: string;
}

export interface EnvironmentReport {
  environment: string;
  status: EnvStatus;
  /** The exact key for the checked-out go.sum in this environment. */
  exactKey: string;
  /** The entry restored and checked, when there was one. */
  matchedKey?: string;
  hit: 'exact' | 'lineage' | 'miss' | 'none';
  archiveBytes?: number;
  /** Module versions whose content the entry holds. */
  moduleCount?: number;
  /** `path@version` the entry holds that go.sum no longer needs. */
  unneeded: string[];
  /** `path@version` go.sum needs that the entry lacks. */
  missing: string[];
  bad: BadEntryModule[];
  /** One line: how it was verified and the outcome. */
  verification: string;
  drift?: Drift;
  /** Bytes the repair downloaded (zips new in the scratch cache). */
  downloadedBytes?: number;
  /** What the repair did, or why none was done. */
  repair?: string;
  savedKey?: string;
  savedBytes?: number;
  /** Why nothing was saved, when a save was wanted. */
  saveNote?: string;
  deleted: { id: number; key: string; why: DeletionReason }[];
  deleteNote?: string;
  ms: number;
  /** Creation and last use of the checked entry, from the inventory. */
  createdAt?: string;
  lastAccessedAt?: string;
}

export interface InventoryReport {
  keyPrefix: string;
  entries: (CacheEntryInfo & { deleted?: DeletionReason; savedByThisRun?: boolean })[];
  usage?: CacheUsage;
}

export interface HealthReport {
  generatedAt: string;
  healthy: boolean;
  branch: string;
  environments: EnvironmentReport[];
  inventory?: InventoryReport;
  /** Why the inventory is missing or partial (shown as a note). */
  inventoryNote?: string;
  /** Further markdown sections (the drift between environments), before the inventory. */
  sections?: string[];
}

/** Rows per table: the job summary is limited to 1 MiB; the JSON report has everything. */
const MAX_ROWS = 200;

export function isHealthy(status: EnvStatus): boolean {
  return status === 'healthy';
}

/** Overall health: every checked environment healthy (none checked is not healthy). */
export function overallHealthy(envs: EnvironmentReport[]): boolean {
  return envs.length > 0 && envs.every((e) => isHealthy(e.status));
}

const MARKS: Record<EnvStatus, string> = {
  healthy: '✅',
  repaired: '🛠️',
  corrupt: '❌',
  stale: '⚠️',
  incomplete: '⚠️',
  missing: '⚪',
  unavailable: '❔',
  error: '❌',
};

export function statusMark(s: EnvStatus): string {
  return `${MARKS[s]} ${s}`;
}

/** A duration in the largest unit that keeps it readable: `45 s`, `12 min`, `5 h`, `3 d`. */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

function ageOf(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '-' : formatAge(now - t);
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

function code(s: string | undefined): string {
  return s ? `\`${cell(s)}\`` : '-';
}

export interface KeyParts {
  platform?: string;
  env?: string;
  ref?: string;
  sum?: string;
  gen?: string;
}

/** The parts of a key this action saved: `env=`, `ref=`, `sum=`, `gen=` (opaque). */
export function parseKeyParts(key: string): KeyParts {
  const out: KeyParts = {};
  const gen = key.indexOf(';gen=');
  const head = gen < 0 ? key : key.slice(0, gen);
  if (gen >= 0) out.gen = key.slice(gen + ';gen='.length);
  const segments = head.split(';');
  if (segments.length > 1 && !segments[1]!.includes('=')) out.platform = segments[1];
  for (const part of segments) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (name === 'env' || name === 'ref' || name === 'sum') out[name] = value;
  }
  return out;
}

/** What was done for an environment: repair, save, deletions, in a few words. */
function actionsText(e: EnvironmentReport): string {
  const parts: string[] = [];
  if (e.repair) parts.push(e.repair);
  if (e.savedKey) {
    parts.push(`saved ${code(e.savedKey)}${e.savedBytes ? ` (${formatBytes(e.savedBytes)})` : ''}`);
  } else if (e.saveNote) {
    parts.push(`not saved: ${e.saveNote}`);
  }
  if (e.deleted.length > 0) {
    parts.push(
      `deleted ${e.deleted.length} (${[...new Set(e.deleted.map((d) => d.why))].join(', ')})`,
    );
  }
  if (e.deleteNote) parts.push(e.deleteNote);
  return parts.length > 0 ? parts.join('; ') : '-';
}

function verificationText(e: EnvironmentReport): string {
  let text = e.verification;
  if (e.bad.length > 0) {
    const modules = [...new Set(e.bad.map((b) => b.module))];
    text += `: ${modules.map((m) => code(m)).join(', ')}`;
  }
  if (e.missing.length > 0) text += `; ${e.missing.length} missing`;
  return text;
}

/** The job summary: verdict, one row per environment, bad modules, drift, then the inventory. */
export function healthMarkdown(r: HealthReport, now: number = Date.parse(r.generatedAt)): string {
  const unhealthy = r.environments.filter((e) => !isHealthy(e.status));
  let md = `### verified-go-cache health: ${
    r.healthy
      ? `✅ healthy (${r.environments.length} environment${r.environments.length === 1 ? '' : 's'})`
      : `❌ unhealthy (${unhealthy.length} of ${r.environments.length} environment${
          r.environments.length === 1 ? '' : 's'
        })`
  }\n\n`;
  md +=
    '| | Environment | Entry | Age | Archive | Modules | Not needed | Verification | Actions | Time |\n' +
    '|---|---|---|---|---|---|---|---|---|---|\n';
  for (const e of r.environments) {
    const entry =
      e.matchedKey === undefined
        ? 'none'
        : `${code(e.matchedKey)}${e.hit === 'lineage' ? ' (other go.sum)' : ''}`;
    md +=
      `| ${statusMark(e.status)} | ${cell(e.environment || '(default)')} | ${entry} | ` +
      `${ageOf(e.createdAt, now)} | ${formatBytes(e.archiveBytes)} | ${e.moduleCount ?? '-'} | ` +
      `${e.matchedKey === undefined ? '-' : e.unneeded.length} | ${cell(verificationText(e))} | ` +
      `${cell(actionsText(e))} | ${formatMs(e.ms)} |\n`;
  }
  const bad = r.environments.flatMap((e) => e.bad.map((b) => ({ env: e.environment, ...b })));
  if (bad.length > 0) {
    md += '\n#### Bad modules\n\n| Environment | Module | Why |\n|---|---|---|\n';
    md +=
      bad
        .slice(0, MAX_ROWS)
        .map((b) => `| ${cell(b.env || '(default)')} | ${code(b.module)} | ${cell(b.reason)} |`)
        .join('\n') + '\n';
    if (bad.length > MAX_ROWS)
      md += `\n… and ${bad.length - MAX_ROWS} more (all in the JSON report).\n`;
  }
  for (const e of r.environments) {
    if (!e.drift || isEmptyDrift(e.drift)) continue;
    md +=
      '\n' +
      driftMarkdown(e.drift, {
        heading: `#### Dependency drift: ${cell(e.environment || '(default)')}`,
        fromKey: e.matchedKey,
        downloadedBytes: e.downloadedBytes,
      });
  }
  for (const section of r.sections ?? []) md += '\n' + section;
  md += '\n' + inventoryMarkdown(r, now);
  return md;
}

function inventoryMarkdown(r: HealthReport, now: number): string {
  const inv = r.inventory;
  let md = `#### Cache inventory${inv ? ` (${code(inv.keyPrefix)})` : ''}\n\n`;
  if (r.inventoryNote) md += `> ${cell(r.inventoryNote)}\n\n`;
  if (!inv) return md;
  if (inv.usage?.location !== undefined) {
    md +=
      `Store total under ${code(inv.usage.location)}: ${formatBytes(inv.usage.activeBytes)} in ` +
      `${inv.usage.activeCount} objects (no quota: the bucket's lifecycle rule expires unused entries).\n\n`;
  } else if (inv.usage) {
    const limit = inv.usage.limitBytes ?? DEFAULT_LIMIT_BYTES;
    const pct = ((inv.usage.activeBytes / limit) * 100).toFixed(1);
    md +=
      `Repository total: ${formatBytes(inv.usage.activeBytes)} in ${inv.usage.activeCount} entries, ` +
      `${pct}% of ${formatBytes(limit)}` +
      `${inv.usage.limitBytes === undefined ? " (GitHub's default limit)" : ''}.\n\n`;
  }
  const kept = inv.entries.filter((e) => !e.deleted);
  const mine = kept.reduce((n, e) => n + e.sizeBytes, 0);
  const gone = inv.entries.length - kept.length;
  md +=
    `This action's entries: ${kept.length}, ${formatBytes(mine)}` +
    `${gone > 0 ? ` (after deleting ${gone})` : ''}.\n\n`;
  if (inv.entries.length === 0) return md;
  // The platform gets a column only when entries of several platforms are listed.
  const platforms = new Set(inv.entries.map((e) => parseKeyParts(e.key).platform ?? '?'));
  const showPlatform = platforms.size > 1;
  md +=
    `| Environment |${showPlatform ? ' Platform |' : ''} Branch | go.sum | Generation | Size | Age | Last used | |\n` +
    `|---|${showPlatform ? '---|' : ''}---|---|---|---|---|---|---|\n`;
  const sorted = [...inv.entries].sort((a, b) => {
    const ea = parseKeyParts(a.key).env ?? '';
    const eb = parseKeyParts(b.key).env ?? '';
    return ea < eb ? -1 : ea > eb ? 1 : -byCreation(a, b);
  });
  for (const e of sorted.slice(0, MAX_ROWS)) {
    const k = parseKeyParts(e.key);
    const note = e.deleted ? `deleted (${e.deleted})` : e.savedByThisRun ? 'saved by this run' : '';
    md +=
      `| ${cell(k.env ?? '?')} |${showPlatform ? ` ${cell(k.platform ?? '?')} |` : ''} ` +
      `${cell(k.ref ?? e.ref)} | ${code(k.sum?.slice(0, 12))} | ${code(k.gen)} | ` +
      `${formatBytes(e.sizeBytes)} | ${ageOf(e.createdAt, now)} | ${ageOf(e.lastAccessedAt, now)} | ${note} |\n`;
  }
  if (sorted.length > MAX_ROWS) {
    md += `\n… and ${sorted.length - MAX_ROWS} more entries (all in the JSON report).\n`;
  }
  return md;
}

/** The JSON report: the same data, plus the drift summary line per environment. */
export function healthJson(r: HealthReport): string {
  return (
    JSON.stringify(
      {
        ...r,
        // Markdown for the summary only; the drift between environments has its own JSON (drift-report).
        sections: undefined,
        environments: r.environments.map((e) => ({
          ...e,
          healthy: isHealthy(e.status),
          driftSummary: e.drift ? driftSummaryLine(e.drift) : undefined,
        })),
      },
      null,
      2,
    ) + '\n'
  );
}
