/**
 * Dependency drift monitoring (issue 26): grades what the job builds against
 * a baseline (`drift-baseline`), annotates each critical or warning change on
 * its go.mod line, adds the table to the job summary, writes the JSON report
 * behind `drift-report`, sets `drift-level`, and fails the step when the
 * level reaches `fail-on-drift`. Health mode compares environments with the
 * first one listed.
 *
 * Where the default branch's baseline comes from: an entry's module versions
 * and checksums are in the record the hashing extraction computes, so no
 * entry is ever restored into the job's module cache for it. When the entry
 * the job restored IS one of the default branch's (a pull request's first run
 * restores it as a lineage hit), its record is the baseline at no cost;
 * otherwise the newest entry under the default branch's key prefix is
 * restored into a scratch directory with the same hashing extraction health
 * mode uses, its record read, and the directory removed. A baseline that
 * cannot be had (no entry yet, service down, no default branch in the event
 * payload) is a note and level `none`: it never fails a job.
 *
 * Nothing here throws: a bad `drift-baseline` fails the step with the input's
 * error, after the rest of main has run.
 */
import * as core from '@actions/core';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Context } from '../action/context.js';
import { InputError } from '../errors.js';
import type { MainState } from '../action/state.js';
import { defaultBranchFromEvent } from '../buildcache/policy.js';
import { lineagePrefixes } from '../cache/key.js';
import { cacheModeFromEnv } from '../cache/mode.js';
import { parseGoSum, sumIndex, splitModuleId } from '../go/gosum.js';
import { forceRemove } from '../go/modcache.js';
import type { GoProject } from '../go/project.js';
import { parseModDirectives } from '../go/requires.js';
import {
  driftReportJson,
  driftTableMarkdown,
  failureMessage,
  annotationText,
  countGrades,
  worstLevel,
  type DriftCheck,
} from '../report/drift-alert.js';
import {
  baselineFromEntry,
  baselineFromSums,
  sumSitesOf,
  sumsOf,
  type Baseline,
  type Current,
  type Site,
} from '../report/drift-baseline.js';
import {
  driftLevel,
  gradeDrift,
  reachesThreshold,
  type FailOnDrift,
} from '../report/drift-grade.js';
import { restoreEntry } from '../restore/restore.js';
import type { ModuleFacts } from '../verify/judge.js';
import { factsFromRecord } from '../verify/facts.js';
import { loadSums } from '../verify/verify.js';

export interface DriftPhaseInput {
  ctx: Context;
  project: GoProject;
  /** The entry this job restored, with the facts hashed while extracting it (before any repair). */
  restored: { matchedKey: string; facts: ModuleFacts[] };
  st: MainState;
}

type Found = { baseline: Baseline; source: DriftCheck['source'] } | { note: string };

/** Where a file is named in an annotation: relative to the workspace, with `/`. */
function relativeSite(workspace: string, site: Site): Site {
  const rel = path.relative(workspace, site.file).split(path.sep).join('/');
  return { ...site, file: rel.startsWith('..') || path.isAbsolute(rel) ? site.file : rel };
}

/** What the job builds: go.sum lines, go.mod requirements and replacements, with their places. */
async function currentState(project: GoProject, workspace: string): Promise<Current> {
  const sums = await loadSums(project.sumFiles);
  const requires: Current['requires'] = [];
  for (const m of project.members) {
    const text = await fs.readFile(m.goMod, 'utf8');
    for (const r of parseModDirectives(text).requires) requires.push({ ...r, file: m.goMod });
  }
  const replaces: Current['replaces'] = [];
  for (const r of [...project.members.flatMap((m) => m.replaces), ...project.workReplaces]) {
    const from = r.from.includes('@') ? splitModuleId(r.from) : { path: r.from, version: '' };
    const to = r.kind === 'module' ? splitModuleId(r.to) : { path: r.to, version: '' };
    replaces.push({
      from: from.path,
      ...(from.version ? { fromVersion: from.version } : {}),
      to: to.path,
      ...(to.version ? { toVersion: to.version } : {}),
      file: r.file,
      ...(r.line ? { line: r.line } : {}),
    });
  }
  const sumSites = new Map<string, Site>();
  for (const f of project.sumFiles) {
    for (const [id, site] of sumSitesOf(f, await fs.readFile(f, 'utf8'))) {
      if (!sumSites.has(id)) sumSites.set(id, site);
    }
  }
  const rel = (s: Site): Site => relativeSite(workspace, s);
  return {
    sums,
    requires: requires.map((r) => ({ ...r, file: rel({ file: r.file }).file })),
    replaces: replaces.map((r) => ({ ...r, file: rel({ file: r.file }).file })),
    sumSites: new Map([...sumSites].map(([k, s]) => [k, rel(s)])),
  };
}

/** A go.sum baseline, and the replace directives of a go.mod beside it. */
async function goSumBaseline(ctx: Context, rel: string): Promise<Found> {
  const file = path.resolve(ctx.workingDirectory, rel);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new InputError(
      'drift-baseline',
      `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). The path ` +
        'is relative to working-directory; check out the baseline (for example the release ' +
        'branch) in an earlier step, or use "drift-baseline: default-branch".',
    );
  }
  const parsed = parseGoSum(text);
  if (parsed.malformed.length > 0) {
    const first = parsed.malformed[0]!;
    throw new InputError(
      'drift-baseline',
      `${file}:${first.line} is not a go.sum line (${JSON.stringify(first.text)}). Point it at a go.sum file.`,
    );
  }
  const goMod = path.join(path.dirname(file), 'go.mod');
  const replaces = existsSync(goMod)
    ? parseModDirectives(await fs.readFile(goMod, 'utf8')).replaces
    : undefined;
  const label = path.relative(ctx.workspace, file).split(path.sep).join('/') || file;
  return {
    baseline: baselineFromSums(label, sumIndex([parsed]), replaces),
    source: 'go.sum',
  };
}

/** The newest verified entry of this environment on the default branch, as a baseline. */
async function defaultBranchBaseline(o: DriftPhaseInput, env: NodeJS.ProcessEnv): Promise<Found> {
  const branch = defaultBranchFromEvent(env['GITHUB_EVENT_PATH']);
  if (!branch) {
    return {
      note:
        'No drift baseline: the default branch is unknown (no repository.default_branch in the ' +
        'event payload).',
    };
  }
  const prefix = lineagePrefixes({ ...o.ctx.keyParts, branch })[0]!;
  const env_ = o.ctx.inputs.environment || 'default';
  if (o.restored.matchedKey.toLowerCase().startsWith(prefix.toLowerCase())) {
    core.info(
      `Drift baseline: the restored entry ${o.restored.matchedKey} (default branch ${branch}).`,
    );
    return {
      baseline: baselineFromEntry(o.restored.matchedKey, o.restored.facts),
      source: 'default-branch',
    };
  }
  if (!cacheModeFromEnv(env).canRead) {
    return { note: 'No drift baseline: the cache mode allows no restore.' };
  }
  const scratch = path.join(env['RUNNER_TEMP'] || os.tmpdir(), `vgc-drift-${process.pid}`);
  try {
    await forceRemove(scratch);
    const r = await restoreEntry({
      dest: path.join(scratch, 'mod'),
      primaryKey: prefix,
      restoreKeys: [],
      lookupTimeoutMs: o.ctx.inputs.lookupTimeoutMs,
      hash: true,
    });
    switch (r.kind) {
      case 'restored':
        core.info(
          `Drift baseline: ${r.matchedKey} (default branch ${branch}), read in a scratch ` +
            `directory (${r.archiveBytes} bytes).`,
        );
        return {
          baseline: baselineFromEntry(r.matchedKey, factsFromRecord(r.record!)),
          source: 'default-branch',
        };
      case 'miss':
        return {
          note:
            `No drift baseline: the default branch (${branch}) has no entry of environment ` +
            `'${env_}' yet; its first verified save becomes the baseline.`,
        };
      case 'rejected':
      case 'failed':
        return {
          note: `No drift baseline: the entry ${r.matchedKey} could not be read (${r.reason}).`,
        };
      default:
        return { note: `No drift baseline: ${r.reason}.` };
    }
  } finally {
    await forceRemove(scratch).catch(() => undefined);
  }
}

/** Where the report goes: beside the health report, in the runner's temporary directory. */
function reportFile(env: NodeJS.ProcessEnv): string {
  return path.join(env['RUNNER_TEMP'] || os.tmpdir(), 'verified-go-cache-drift.json');
}

/** Annotations, the JSON report, outputs and, when the level reaches fail-on-drift, the failure. */
async function publishDrift(
  checks: DriftCheck[],
  failOn: FailOnDrift,
  env: NodeJS.ProcessEnv,
  note?: string,
): Promise<{ markdown: string; failure?: string }> {
  for (const check of checks) {
    for (const c of check.changes) {
      if (c.grade === 'info') continue;
      const props = {
        title: 'Dependency drift',
        ...(c.site ? { file: c.site.file } : {}),
        ...(c.site?.line ? { startLine: c.site.line } : {}),
      };
      if (c.grade === 'critical') core.error(annotationText(c, check), props);
      else core.warning(annotationText(c, check), props);
    }
  }
  const level = worstLevel(checks.map((c) => c.level));
  const failure = reachesThreshold(level, failOn) ? failureMessage(checks, failOn) : undefined;
  const file = reportFile(env);
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(
      file,
      driftReportJson({
        level,
        failOnDrift: failOn,
        failed: failure !== undefined,
        ...(note ? { note } : {}),
        checks: checks.map((c) => ({ ...c, counts: countGrades(c.changes) })),
      }),
    );
    core.setOutput('drift-report', file);
  } catch (e) {
    core.warning(`Could not write the drift report ${file}: ${(e as Error).message}`);
  }
  core.setOutput('drift-level', level);
  core.info(`Drift level: ${level}${note ? ` (${note})` : ''}.`);
  return { markdown: driftTableMarkdown(checks, failOn, note), ...(failure ? { failure } : {}) };
}

/**
 * main's drift phase: grades the job's go.sum and go.mod files against
 * `drift-baseline` and reports it. Called once the cache is verified.
 */
export async function checkDrift(o: DriftPhaseInput, env = process.env): Promise<void> {
  const wanted = o.ctx.inputs.driftBaseline;
  if (wanted.kind === 'none') {
    core.setOutput('drift-level', 'none');
    return;
  }
  try {
    const found =
      wanted.kind === 'go.sum'
        ? await goSumBaseline(o.ctx, wanted.path)
        : await defaultBranchBaseline(o, env);
    const checks: DriftCheck[] = [];
    if ('baseline' in found) {
      const changes = gradeDrift(found.baseline, await currentState(o.project, o.ctx.workspace));
      checks.push({
        source: found.source,
        baseline: found.baseline.label,
        changes,
        level: driftLevel(changes),
      });
    }
    const note = 'note' in found ? found.note : undefined;
    const r = await publishDrift(checks, o.ctx.inputs.failOnDrift, env, note);
    o.st.sections = [...(o.st.sections ?? []), r.markdown];
    if (r.failure) core.setFailed(r.failure);
  } catch (e) {
    if (e instanceof InputError) core.setFailed(e.message);
    else core.warning(`Dependency drift was not checked: ${(e as Error).message}`);
  }
}

/** One environment's checked entry, for the comparison between environments. */
export interface EnvironmentEntry {
  environment: string;
  matchedKey?: string;
  facts?: ModuleFacts[];
}

/**
 * Health mode: every environment's entry against the first listed one's
 * (list the reference, say `prod`, first). Only entries that were restored
 * and read are compared. Returns the summary section; '' when fewer than two
 * environments have an entry to compare.
 */
export async function compareEnvironments(
  entries: EnvironmentEntry[],
  requiresFrom: GoProject,
  failOn: FailOnDrift,
  env = process.env,
): Promise<string> {
  const usable = entries.filter((e) => e.facts !== undefined && e.matchedKey !== undefined);
  if (entries.length < 2) return '';
  if (usable.length < 2) {
    core.info('Drift between environments: fewer than two environments have an entry to compare.');
    return '';
  }
  const [ref, ...rest] = usable as Required<EnvironmentEntry>[];
  const name = (e: EnvironmentEntry): string => e.environment || '(default)';
  const requires: Current['requires'] = [];
  for (const m of requiresFrom.members) {
    const text = await fs.readFile(m.goMod, 'utf8').catch(() => '');
    for (const r of parseModDirectives(text).requires) requires.push({ ...r, file: m.goMod });
  }
  const baseline = baselineFromEntry(`${name(ref!)} (${ref!.matchedKey})`, ref!.facts);
  const checks: DriftCheck[] = rest.map((e) => {
    const other = baselineFromEntry(e.matchedKey, e.facts);
    const changes = gradeDrift(baseline, { sums: sumsOf(other.modules), requires, replaces: [] })
      // The project's go.mod lines are not where another environment's entry came from.
      .map(({ site: _site, ...c }) => c);
    return {
      source: 'environment',
      baseline: `environment ${name(ref!)}`,
      subject: `environment ${name(e)}`,
      changes,
      level: driftLevel(changes),
    };
  });
  const r = await publishDrift(checks, failOn, env);
  if (r.failure) core.setFailed(r.failure);
  return r.markdown;
}
