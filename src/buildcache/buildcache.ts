/**
 * The build cache (GOCACHE), opt-in with `build-cache: true`: its own entry,
 * keyed apart from the module cache, restored in main (only main knows the Go
 * version) while the module cache is being verified, trimmed to what the job
 * used and saved in post, from trusted jobs only.
 *
 * Two stage hooks:
 *  - restoreBuildCache (main): returns the state post needs; sets the
 *    `build-cache-hit` output itself (empty when the feature is off);
 *  - saveBuildCache (post): returns a report for the job summary.
 */
import * as core from '@actions/core';
import { mkdir, mkdtemp } from 'node:fs/promises';
import * as path from 'node:path';
import type { Context } from '../action/context.js';
import { saveDirectory } from '../cache/entry.js';
import { restoreEntry } from '../restore/restore.js';
import { classifyMatch, generationKey } from '../cache/key.js';
import { cacheModeFromEnv } from '../cache/mode.js';
import { forceRemove } from '../go/modcache.js';
import type { Go } from '../go/toolchain.js';
import { formatBytes, formatMs } from '../report/report.js';
import { deriveBuildKeys, type BuildSettings } from './key.js';
import { buildCacheSavePolicy, saveFactsFromEnv } from './policy.js';
import {
  applyTrim,
  hasEntries,
  listEntryNames,
  mergeInto,
  planTrim,
  scanEntries,
  stampRestored,
} from './trim.js';

export type BuildCacheOutcome =
  /** build-cache is false. */
  | 'disabled'
  /** GOCACHE=off or GOCACHEPROG: Go's cache is not a directory this action can own. */
  | 'unsupported'
  /** GOCACHE already held entries (a persistent runner, another cache step): left alone. */
  | 'local'
  | 'restored'
  | 'miss'
  /** Cache service down, refused (cache mode) or the archive was rejected. */
  | 'unavailable'
  /** Something else failed; the job goes on with an empty build cache. */
  | 'error';

/** What main hands to post (JSON in the runner's state file). */
export interface BuildCacheState {
  enabled: boolean;
  outcome: BuildCacheOutcome;
  gocache: string;
  exactKey: string;
  matchedKey: string;
  hitKind: 'exact' | 'lineage' | 'miss' | 'none';
  /** When the restored entries were stamped (ms since the epoch); see trim.ts. */
  restoredAtMs?: number;
  restoredEntries?: number;
  restoredBytes?: number;
  ms: number;
  note?: string;
}

export interface BuildCacheReport {
  state: BuildCacheState;
  /** What was saved, or why nothing was, in words. */
  saved: string;
  savedKey?: string;
  savedBytes?: number;
  keptEntries?: number;
  trimmedEntries?: number;
  trimmedBytes?: number;
  /** Action entries this job wrote (compiled, vetted, tested). */
  createdEntries?: number;
  ms: number;
}

interface GoBuildEnv extends BuildSettings {
  gocache: string;
  gocacheprog: string;
}

async function goBuildEnv(go: Go, cwd: string): Promise<GoBuildEnv> {
  const vars = ['GOCACHE', 'GOVERSION', 'GOFLAGS', 'GOOS', 'GOARCH', 'CGO_ENABLED', 'GOCACHEPROG'];
  const r = await go.run(['env', '-json', ...vars], cwd);
  if (r.code !== 0) throw new Error(`'go env' failed (exit ${r.code}): ${r.stderr.trim()}`);
  const v = JSON.parse(r.stdout) as Record<string, string | undefined>;
  return {
    gocache: v['GOCACHE'] ?? '',
    gocacheprog: v['GOCACHEPROG'] ?? '',
    goVersion: v['GOVERSION'] ?? '',
    goflags: v['GOFLAGS'] ?? '',
    goos: v['GOOS'] ?? '',
    goarch: v['GOARCH'] ?? '',
    cgoEnabled: v['CGO_ENABLED'] ?? '',
  };
}

function initialState(enabled: boolean): BuildCacheState {
  return {
    enabled,
    outcome: enabled ? 'error' : 'disabled',
    gocache: '',
    exactKey: '',
    matchedKey: '',
    hitKind: 'none',
    ms: 0,
  };
}

const say = (msg: string): void => core.info(`build cache: ${msg}`);

/**
 * main's hook. Never throws: a build cache problem costs compile time, never
 * the job. Runs alongside the module cache's verification, so it logs with a
 * prefix instead of a log group.
 */
export async function restoreBuildCache(o: {
  go: Go;
  ctx: Context;
  depHash: string;
  timeoutMs: number;
}): Promise<BuildCacheState> {
  const st = initialState(o.ctx.inputs.buildCache);
  const started = Date.now();
  try {
    if (!st.enabled) return st;
    const env = await goBuildEnv(o.go, o.ctx.workingDirectory);
    if (env.gocache === '' || env.gocache === 'off' || env.gocacheprog !== '') {
      st.outcome = 'unsupported';
      st.note =
        env.gocacheprog !== ''
          ? 'GOCACHEPROG is set: that program owns the build cache'
          : 'GOCACHE is off';
      say(`${st.note}; not restoring or saving it.`);
      return st;
    }
    st.gocache = env.gocache;
    const plan = deriveBuildKeys(o.ctx.keyParts, env, o.depHash);
    st.exactKey = plan.exact;
    if (await hasEntries(env.gocache)) {
      st.outcome = 'local';
      st.note = `${env.gocache} already holds build outputs; using them, not restoring or saving`;
      say(`${st.note}.`);
      return st;
    }
    if (!cacheModeFromEnv().canRead) {
      st.outcome = 'unavailable';
      st.hitKind = 'miss';
      st.note = 'the cache mode of this run does not allow restoring';
      say(`${st.note}.`);
      return st;
    }
    say(`looking up ${plan.exact} then ${plan.lineage.join(', ')}`);
    // A sibling of GOCACHE: the same file system, so the merge is renames.
    const parent = path.dirname(env.gocache);
    await mkdir(parent, { recursive: true });
    const temp = await mkdtemp(path.join(parent, '.vgc-build-restore-'));
    await forceRemove(temp);
    try {
      const outcome = await restoreEntry({
        dest: temp,
        primaryKey: plan.exact,
        restoreKeys: plan.lineage,
        lookupTimeoutMs: o.timeoutMs,
        hash: false,
        // GOCACHE's layout is Go's own: every confined member is written.
        layout: 'open',
      });
      if (outcome.kind === 'miss') {
        st.outcome = 'miss';
        st.hitKind = 'miss';
        say('no entry yet; Go starts from an empty build cache.');
        return st;
      }
      if (outcome.kind !== 'restored') {
        st.outcome = 'unavailable';
        st.hitKind = 'miss';
        st.note = `${outcome.kind}: ${'reason' in outcome ? outcome.reason : ''}`;
        core.warning(`Build cache not restored (${st.note}); Go compiles from scratch.`);
        return st;
      }
      const restoredAt = Date.now();
      st.restoredEntries = await stampRestored(temp, restoredAt);
      await mergeInto(temp, env.gocache);
      st.restoredAtMs = restoredAt;
      st.outcome = 'restored';
      st.matchedKey = outcome.matchedKey;
      st.restoredBytes = outcome.archiveBytes;
      st.hitKind = classifyMatch(plan.exact, outcome.matchedKey) === 'exact' ? 'exact' : 'lineage';
      say(
        `restored ${outcome.matchedKey} (${st.hitKind}, ${st.restoredEntries} entries, ` +
          `${formatBytes(outcome.archiveBytes)}); not verifiable: Go cannot check compiled ` +
          'outputs against go.sum.',
      );
      return st;
    } finally {
      await forceRemove(temp);
    }
  } catch (e) {
    st.outcome = 'error';
    st.note = (e as Error).message;
    core.warning(`Build cache not restored: ${st.note}. The job goes on without it.`);
    return st;
  } finally {
    st.ms = Date.now() - started;
    // As action.yml declares it: any restored entry is a hit; empty when the feature is off.
    core.setOutput('build-cache-hit', st.enabled ? String(st.outcome === 'restored') : '');
  }
}

/**
 * post's hook. Trims GOCACHE to what this job used and saves it, when the
 * policy allows. Never throws.
 */
export async function saveBuildCache(
  /** main's BuildCacheState as read back from the runner's state file (validated here). */
  saved: unknown,
  o: {
    ctx: Context;
    /** main verified the module cache (no corruption left, no SECURITY ERROR). */
    moduleCacheVerified: boolean;
    timeoutMs: number;
    env?: NodeJS.ProcessEnv;
  },
): Promise<BuildCacheReport> {
  const state = asBuildCacheState(saved);
  const st = state ?? initialState(o.ctx.inputs.buildCache);
  const started = Date.now();
  const report: BuildCacheReport = { state: st, saved: 'nothing', ms: 0 };
  const skip = (why: string): BuildCacheReport => {
    report.saved = `nothing: ${why}`;
    say(`not saving: ${why}.`);
    return report;
  };
  try {
    if (!st.enabled) return { ...report, saved: 'nothing: build-cache is false' };
    if (!state) return skip('main did not run');
    if (st.outcome === 'unsupported' || st.outcome === 'local' || st.outcome === 'error') {
      return skip(st.note ?? st.outcome);
    }
    const policy = buildCacheSavePolicy(
      saveFactsFromEnv(o.ctx.inputs.buildCacheSave, o.env ?? process.env),
    );
    if (!policy.save) return skip(policy.why);
    if (!cacheModeFromEnv(o.env ?? process.env).canWrite) {
      return skip('the cache mode of this run does not allow saving');
    }
    if (!o.moduleCacheVerified) {
      return skip('the module cache was not verified, so what was compiled from it is not saved');
    }
    if (!(await hasEntries(st.gocache))) return skip('GOCACHE is empty (nothing was built)');
    // Go deletes nothing younger than five days during a job, so on an exact
    // hit the same number of entries means nothing new: no need to stat them all.
    if (
      st.hitKind === 'exact' &&
      (await listEntryNames(st.gocache)).length <= (st.restoredEntries ?? 0)
    ) {
      return skip('exact hit and nothing new was built');
    }
    const files = await scanEntries(st.gocache, st.restoredAtMs);
    const plan = planTrim(files, st.restoredAtMs);
    report.keptEntries = plan.keep.length;
    report.trimmedEntries = plan.drop.length;
    report.trimmedBytes = plan.droppedBytes;
    report.createdEntries = plan.created;
    if (st.hitKind === 'exact' && plan.created === 0) {
      return skip('exact hit and nothing new was built');
    }
    await applyTrim(st.gocache, plan);
    say(
      `trimmed ${plan.drop.length} entries this job did not use (${formatBytes(plan.droppedBytes)}); ` +
        `keeping ${plan.keep.length} (${formatBytes(plan.keptBytes)}, ${plan.created} new).`,
    );
    const key = generationKey(st.exactKey, o.ctx.runId, o.ctx.runAttempt);
    say(`saving ${st.gocache} as ${key} (${policy.why}).`);
    const result = await saveDirectory({ src: st.gocache, key, timeoutMs: o.timeoutMs });
    if (result.kind === 'saved') {
      report.saved = `\`${key}\``;
      report.savedKey = key;
      report.savedBytes = result.archiveBytes;
      return report;
    }
    if (result.kind === 'conflict') return skip(`${key} is being saved by another job`);
    const reason = (result as { reason?: string }).reason ?? 'the cache service refused it';
    core.warning(`Could not save the build cache: ${reason}. The job is not affected.`);
    report.saved = `nothing: save failed (${reason})`;
    return report;
  } catch (e) {
    core.warning(`post could not save the build cache: ${(e as Error).message}`);
    report.saved = `nothing: ${(e as Error).message}`;
    return report;
  } finally {
    report.ms = Date.now() - started;
  }
}

/**
 * main's state as post reads it back: JSON from the runner's state file, so
 * checked before use (an action upgraded between stages, a hand-edited file).
 */
export function asBuildCacheState(raw: unknown): BuildCacheState | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Partial<BuildCacheState>;
  if (typeof r.enabled !== 'boolean' || typeof r.outcome !== 'string') return undefined;
  if (typeof r.gocache !== 'string' || typeof r.exactKey !== 'string') return undefined;
  if (r.restoredAtMs !== undefined && typeof r.restoredAtMs !== 'number') return undefined;
  return r as BuildCacheState;
}

/** The restore in words, for the summary. */
export function describeRestore(st: BuildCacheState): string {
  switch (st.outcome) {
    case 'restored':
      return `restored, not verifiable (${st.hitKind} hit: \`${st.matchedKey}\`)`;
    case 'miss':
      return 'miss (empty build cache)';
    case 'local':
      return `not restored: ${st.note ?? 'GOCACHE already held build outputs'}`;
    case 'disabled':
      return 'off';
    default:
      return `not restored: ${st.note ?? st.outcome}`;
  }
}

/** Summary rows for the build cache; empty when the feature is off. */
export function buildCacheSummaryRows(r: BuildCacheReport): [string, string][] {
  const st = r.state;
  if (!st.enabled) return [];
  const rows: [string, string][] = [
    ['Build cache', describeRestore(st)],
    ['Build cache key', st.exactKey ? `\`${st.exactKey}\`` : '-'],
    ['Build cache restored', formatBytes(st.restoredBytes)],
    ['Build cache saved', r.saved],
    ['Build cache saved archive', formatBytes(r.savedBytes)],
  ];
  if (r.trimmedEntries !== undefined) {
    rows.push([
      'Build cache entries trimmed',
      `${r.trimmedEntries} (${formatBytes(r.trimmedBytes)}); kept ${r.keptEntries ?? 0}, ` +
        `${r.createdEntries ?? 0} new`,
    ]);
  }
  rows.push(
    ['Time: build cache restore', formatMs(st.ms)],
    ['Time: build cache save', formatMs(r.ms)],
  );
  return rows;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

/**
 * The build cache's part of the job summary: a trust line (Go cannot verify a
 * build cache, and the summary says so in those words) and a table.
 */
export function buildCacheSummaryMarkdown(r: BuildCacheReport): string {
  const rows = buildCacheSummaryRows(r);
  if (rows.length === 0) return '';
  const trust =
    r.state.outcome === 'restored'
      ? 'build cache: restored, not verifiable (Go cannot check compiled outputs against go.sum; ' +
        'only trusted jobs write it)'
      : `build cache: ${describeRestore(r.state)}`;
  return (
    `\n#### Build cache (GOCACHE)\n\n${cell(trust)}\n\n| | |\n|---|---|\n` +
    rows.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`).join('\n') +
    '\n'
  );
}
