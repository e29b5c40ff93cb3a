/**
 * Reporting: one log group per phase with its duration, the outputs, and the
 * job summary table.
 */
import * as core from '@actions/core';
import type { BadModule } from '../go/goout.js';
import type { Dropped } from '../verify/record.js';

export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || Number.isNaN(bytes)) return '-';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** Runs `fn` inside a log group named `name` and records its duration. */
export async function phase<T>(
  timings: Record<string, number>,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  core.startGroup(`verified-go-cache: ${name}`);
  try {
    return await fn();
  } finally {
    const ms = Date.now() - started;
    timings[name] = ms;
    core.info(`${name}: ${formatMs(ms)}`);
    core.endGroup();
  }
}

export function describeBad(bad: BadModule[]): string[] {
  return bad.map((b) => `${b.module}: ${b.reason}`);
}

/**
 * "dropped N files the module cache layout does not define: a, b, ..." for the
 * files of an entry a closed-layout restore did not write (src/go/layout.ts).
 */
export function describeDropped(d: Dropped): string {
  const more = d.count > d.names.length ? ', ...' : '';
  return (
    `dropped ${d.count} file${d.count === 1 ? '' : 's'} the module cache layout does not ` +
    `define: ${d.names.join(', ')}${more}`
  );
}

export interface SummaryData {
  exactKey: string;
  matchedKey: string;
  hitKind: string;
  restoredBytes?: number;
  savedBytes?: number;
  moduleCount?: number;
  verification: string;
  bad: BadModule[];
  saved: string;
  timings: Record<string, number>;
  /** More rows for the table (cache mode, repairs, replace directives, notes). */
  extra?: [string, string][];
  /** Markdown blocks after the table (dependency drift, build cache). */
  sections?: string[];
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

/** The job summary as markdown: one table, then the bad modules if any. */
export function summaryMarkdown(d: SummaryData): string {
  const rows: [string, string][] = [
    ['Key', d.exactKey ? `\`${d.exactKey}\`` : '-'],
    ['Matched key', d.matchedKey ? `\`${d.matchedKey}\`` : '-'],
    ['Hit kind', d.hitKind || '-'],
    ['Restored archive', formatBytes(d.restoredBytes)],
    ['Modules', d.moduleCount === undefined ? '-' : String(d.moduleCount)],
    ['Verification', d.verification],
    ['Saved', d.saved],
    ['Saved archive', formatBytes(d.savedBytes)],
    ...(d.extra ?? []),
    ...Object.entries(d.timings).map(([k, v]): [string, string] => [`Time: ${k}`, formatMs(v)]),
  ];
  let md = '### verified-go-cache\n\n| | |\n|---|---|\n';
  md += rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`).join('\n') + '\n';
  if (d.bad.length > 0) {
    md += '\n**Bad modules**\n\n| module | reason |\n|---|---|\n';
    md += d.bad.map((b) => `| \`${cell(b.module)}\` | ${cell(b.reason)} |`).join('\n') + '\n';
  }
  for (const section of d.sections ?? []) md += `\n${section.trim()}\n`;
  return md;
}
