/**
 * Health mode (`mode: health`), for scheduled or manual runs: for each
 * environment, restore the newest entry of its lineage for the checked-out
 * go.sum into a scratch module cache (never the job's), judge it exactly as a
 * job would, repair and save it as a new generation when it is corrupt, stale
 * or incomplete, then list the action's entries through the REST API, delete
 * superseded and corrupt generations when asked, and report it all.
 *
 * `healthy` describes what the run FOUND: an environment it had to repair is
 * unhealthy in this run, and healthy in the next one if the repair held.
 */
import * as core from '@actions/core';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadContext, type Context } from '../action/context.js';
import { recordFromDisk } from '../verify/scan.js';
import { activeStore } from '../cache/active-store.js';
import { saveDirectory } from '../cache/entry.js';
import { restoreEntry } from '../restore/restore.js';
import {
  planDeletions,
  type CacheEntryInfo,
  type DeletionReason,
  type Inventory,
} from '../cache/inventory.js';
import { classifyMatch, deriveKeys, generationKey, sanitizePart, SEPARATOR } from '../cache/key.js';
import { cacheModeFromEnv, type CacheMode } from '../cache/mode.js';
import { removeSnapshot, stageSnapshot } from '../cache/snapshot.js';
import { forceRemove, zipBytes } from '../go/modcache.js';
import { explainGoFailure, readProject, type GoProject } from '../go/project.js';
import { Go } from '../go/toolchain.js';
import { computeDrift, entryContentVersions } from '../report/drift.js';
import {
  healthJson,
  healthMarkdown,
  overallHealthy,
  type EnvironmentReport,
  type HealthReport,
} from '../report/health.js';
import { phase } from '../report/report.js';
import { factsFromRecord } from '../verify/facts.js';
import {
  isComplete,
  judge,
  repairPlan,
  type Judgement,
  type ModuleFacts,
} from '../verify/judge.js';
import { repairModules } from '../verify/repair.js';
import { compareEnvironments } from './drift.js';
import { loadSums } from '../verify/verify.js';

/** What checkEnvironment needs from the cache service: the contract of src/cache/entry.ts. */
export interface EntryIo {
  restoreEntry: typeof restoreEntry;
  saveDirectory: typeof saveDirectory;
}

const realIo: EntryIo = { restoreEntry, saveDirectory };

export interface CheckInput {
  environment: string;
  ctx: Context;
  go: Go;
  project: GoProject;
  sums: Map<string, string>;
  /** A directory of its own under RUNNER_TEMP; removed afterwards. */
  scratch: string;
  mode: CacheMode;
}

/** What the run learnt about one environment, plus what the deletion plan needs. */
export interface CheckOutcome {
  report: EnvironmentReport;
  /** The entry this run proved good (restored and clean, or saved after repair). */
  verifiedKey?: string;
  verifiedSavedAt?: string;
  corruptKeys: string[];
  /** `<prefix>;<os>-<arch>;env=<env>;ref=<branch>;`: the scope deletions stay in. */
  scopePrefix: string;
  /** The checked entry as restored (before any repair): what the drift between environments compares. */
  entryFacts?: ModuleFacts[];
}

const TOOLCHAIN = 'golang.org/toolchain';

function hasContent(f: ModuleFacts): boolean {
  return f.treeH1 !== undefined || f.zipH1 !== undefined || f.ziphash !== undefined;
}

function ids(facts: ModuleFacts[]): Set<string> {
  return new Set(facts.filter(hasContent).map((f) => `${f.path}@${f.version}`));
}

/** The environment Go runs with in the scratch cache: never the job's module cache or toolchain. */
function scratchEnv(modCache: string, extra: Record<string, string> = {}): Record<string, string> {
  const flags = [extra['GOFLAGS'] ?? '', '-modcacherw'].filter((f) => f !== '').join(' ');
  return { ...extra, GOMODCACHE: modCache, GOTOOLCHAIN: 'local', GOFLAGS: flags };
}

/** `go mod download` (and the module graph when go.mod files are missing) in every root. */
async function downloadAll(
  go: Go,
  project: GoProject,
  modCache: string,
  graph: boolean,
): Promise<{ ok: true } | { ok: false; security: boolean; message: string }> {
  for (const run of project.runs) {
    const steps: [string, string[]][] = [['go mod download', ['mod', 'download']]];
    if (graph) steps.push(['go list -m all', ['list', '-m', 'all']]);
    for (const [label, args] of steps) {
      const r = await go.run(args, run.dir, scratchEnv(modCache, run.env));
      if (r.code === 0) continue;
      const failure = explainGoFailure(project, run.dir, label, r.stderr);
      return { ok: false, security: failure.kind === 'security', message: failure.message };
    }
  }
  return { ok: true };
}

function describeJudgement(j: Judgement, hit: 'exact' | 'lineage'): string {
  if (j.bad.length > 0) return `FAILED: ${j.bad.length} problem${j.bad.length === 1 ? '' : 's'}`;
  const passed = `passed (${j.verified.length} versions match go.sum)`;
  return hit === 'lineage' ? `${passed}, built from another go.sum` : passed;
}

/**
 * Checks one environment: restore into `scratch`, judge against go.sum,
 * repair (bad versions only, else a full rebuild) and complete it, save the
 * result as a new generation when it needed work, and measure all of it.
 * Never throws: a failure becomes status `error` with the reason.
 */
export async function checkEnvironment(o: CheckInput, io: EntryIo = realIo): Promise<CheckOutcome> {
  const started = Date.now();
  const plan = deriveKeys({ ...o.ctx.keyParts, environment: o.environment }, o.project.depHash);
  const exactKey = plan.exact!;
  const report: EnvironmentReport = {
    environment: o.environment,
    status: 'error',
    exactKey,
    hit: 'none',
    unneeded: [],
    missing: [],
    bad: [],
    verification: 'not checked',
    deleted: [],
    ms: 0,
  };
  const out: CheckOutcome = { report, corruptKeys: [], scopePrefix: plan.lineage[0]! };
  const dest = path.join(o.scratch, 'mod');
  try {
    await work(o, io, plan, dest, out);
  } catch (e) {
    report.status = 'error';
    report.verification = `check failed: ${(e as Error).message}`;
    core.warning(`Health check of environment '${o.environment}' failed: ${(e as Error).message}`);
  } finally {
    await forceRemove(o.scratch).catch(() => undefined);
    report.ms = Date.now() - started;
  }
  return out;
}

async function work(
  o: CheckInput,
  io: EntryIo,
  plan: { exact?: string; lineage: string[] },
  dest: string,
  out: CheckOutcome,
): Promise<void> {
  const restored = await restoreForCheck(o, io, plan, dest, out);
  if (!restored) return;
  if (restored.rejected === undefined) out.entryFacts = restored.facts;
  const j = assess(o, restored.facts, restored.rejected, out);
  if (out.report.status === 'healthy') {
    out.verifiedKey = out.report.matchedKey;
    return;
  }
  await repairAndSave(o, io, plan.exact!, dest, restored, j, out);
}

/** Restores the newest entry of the lineage into `dest`; undefined when there is nothing to check. */
async function restoreForCheck(
  o: CheckInput,
  io: EntryIo,
  plan: { exact?: string; lineage: string[] },
  dest: string,
  out: CheckOutcome,
): Promise<{ facts: ModuleFacts[]; rejected?: string } | undefined> {
  const report = out.report;
  const exactKey = plan.exact!;
  if (!o.mode.canRead) {
    report.status = 'unavailable';
    report.verification = `not checked: the cache mode '${o.mode.name}' allows no restore`;
    return undefined;
  }
  await forceRemove(dest);
  await fs.mkdir(o.scratch, { recursive: true });
  const r = await io.restoreEntry({
    dest,
    primaryKey: exactKey,
    restoreKeys: plan.lineage,
    lookupTimeoutMs: o.ctx.inputs.lookupTimeoutMs,
    hash: true,
  });
  const hitOf = (key: string): 'exact' | 'lineage' =>
    classifyMatch(exactKey, key) === 'exact' ? 'exact' : 'lineage';
  switch (r.kind) {
    case 'miss':
      report.status = 'missing';
      report.hit = 'miss';
      report.verification = 'no entry for this environment';
      return undefined;
    case 'unavailable':
    case 'denied':
    case 'failed':
      report.status = 'unavailable';
      report.verification = `not checked: ${r.reason}`;
      return undefined;
    case 'rejected':
      // Nothing of it was kept: judged as an empty cache, rebuilt from scratch.
      report.matchedKey = r.matchedKey;
      report.hit = hitOf(r.matchedKey);
      report.bad.push({ module: '(archive)', reason: `rejected: ${r.reason}` });
      return { facts: [], rejected: r.reason };
    case 'restored':
      report.matchedKey = r.matchedKey;
      report.archiveBytes = r.archiveBytes;
      report.hit = hitOf(r.matchedKey);
      return {
        facts: factsFromRecord(r.record ?? (await recordFromDisk(dest))),
      };
  }
}

/** Judges the restored cache against go.sum, fills the report and sets the status it was found in. */
function assess(
  o: CheckInput,
  facts: ModuleFacts[],
  rejected: string | undefined,
  out: CheckOutcome,
): Judgement {
  const report = out.report;
  const hit = report.hit as 'exact' | 'lineage';
  const j = judge(facts, o.sums, { zipsExpected: false });
  report.moduleCount = facts.filter((f) => hasContent(f) && f.path !== TOOLCHAIN).length;
  report.unneeded = j.unnamed
    .filter((f) => hasContent(f) && f.path !== TOOLCHAIN)
    .map((f) => `${f.path}@${f.version}`);
  report.missing = [...j.missing, ...j.missingMods.map((m) => `${m}/go.mod`)];
  report.bad.push(...j.bad.map(({ module, reason }) => ({ module, reason })));
  report.verification =
    rejected === undefined ? describeJudgement(j, hit) : 'FAILED: the archive was rejected';
  if (hit === 'lineage' && rejected === undefined) {
    report.drift = computeDrift(entryContentVersions(facts), o.sums);
  }
  const corrupt = report.bad.length > 0;
  if (corrupt && report.matchedKey) out.corruptKeys.push(report.matchedKey);
  report.status = corrupt
    ? 'corrupt'
    : hit === 'lineage'
      ? 'stale'
      : isComplete(j)
        ? 'healthy'
        : 'incomplete';
  return j;
}

/**
 * Repairs the bad versions alone when the archive was usable (a failed
 * targeted repair falls back to a rebuild), completes the cache for go.sum,
 * judges it again from disk, and saves it as a new generation.
 */
async function repairAndSave(
  o: CheckInput,
  io: EntryIo,
  exactKey: string,
  dest: string,
  restored: { facts: ModuleFacts[]; rejected?: string },
  found: Judgement,
  out: CheckOutcome,
): Promise<void> {
  const report = out.report;
  const root = o.project.runs[0];
  const steps: string[] = [];
  const before = ids(restored.facts);
  if (found.bad.length > 0 && restored.rejected === undefined) {
    const fixed = await repairModules(
      o.go,
      dest,
      root?.dir ?? o.project.workingDirectory,
      repairPlan(found),
      o.sums,
      scratchEnv(dest, root?.env),
    );
    if (fixed.failed.length === 0) {
      const n = fixed.repaired.length;
      steps.push(`repaired ${n} module version${n === 1 ? '' : 's'}`);
    } else {
      core.warning(
        `Environment '${o.environment}': targeted repair failed (${fixed.failed.join('; ')}); ` +
          'rebuilding it.',
      );
      await forceRemove(dest);
      before.clear();
      steps.push('rebuilt from scratch');
    }
  } else if (restored.rejected !== undefined) {
    steps.push('rebuilt from scratch');
  }
  await fs.mkdir(dest, { recursive: true });
  const got = await downloadAll(o.go, o.project, dest, true);
  if (!got.ok) {
    report.repair = `${got.security ? 'SECURITY ERROR' : 'go mod download failed'}: not repaired`;
    core.warning(`Environment '${o.environment}': ${got.message}`);
    if (got.security)
      report.bad.push({ module: '(download)', reason: got.message.split('\n')[0]! });
    return;
  }
  const j = judge(factsFromRecord(await recordFromDisk(dest)), o.sums, { zipsExpected: false });
  if (j.bad.length > 0) {
    report.repair = `still bad after repair: ${j.bad.map((b) => b.module).join(', ')}`;
    return;
  }
  const downloaded = j.verified.filter((id) => !before.has(id));
  report.downloadedBytes = await zipBytes(dest, downloaded);
  if (downloaded.length > 0) steps.push(`downloaded ${downloaded.length}`);
  if (report.status === 'incomplete' && downloaded.length === 0) {
    // Go needed nothing more: go.sum names versions no build uses (not tidy).
    report.status = 'healthy';
    report.verification += `; go.sum names ${report.missing.length} versions Go does not need`;
    out.verifiedKey = report.matchedKey;
    return;
  }
  report.repair = steps.join(', ') || 'completed';
  await saveRepaired(o, io, exactKey, dest, j, out);
}

async function saveRepaired(
  o: CheckInput,
  io: EntryIo,
  exactKey: string,
  dest: string,
  j: Judgement,
  out: CheckOutcome,
): Promise<void> {
  const report = out.report;
  if (!o.mode.canWrite) {
    report.saveNote = `the cache mode '${o.mode.name}' forbids saving`;
    return;
  }
  if (o.ctx.inputs.save === 'never') {
    report.saveNote = "save is 'never'";
    return;
  }
  const { stage, unstaged } = await stageSnapshot(dest, {
    full: j.verified,
    modOnly: j.verifiedModOnly,
    zips: o.ctx.inputs.saveZips,
    verifiedZips: new Set(j.verifiedZips),
  });
  try {
    if (unstaged.length > 0) {
      // The check just verified this cache; a version missing now is a bug or a race, never saved.
      report.saveNote = `${unstaged.length} verified versions were missing when staging the save`;
      return;
    }
    const key = generationKey(exactKey, o.ctx.runId, o.ctx.runAttempt);
    const savedAt = new Date().toISOString();
    const r = await io.saveDirectory({ src: stage, key, timeoutMs: o.ctx.inputs.saveTimeoutMs });
    if (r.kind === 'saved') {
      report.savedKey = key;
      report.savedBytes = r.archiveBytes;
      report.status = 'repaired';
      out.verifiedKey = key;
      out.verifiedSavedAt = savedAt;
      core.info(`Environment '${o.environment}': saved the repaired cache as ${key}.`);
    } else if (r.kind === 'conflict') {
      report.saveNote = `${key} is being saved by another run`;
    } else {
      // 'failed', or 'forbidden' (a read-only cache token) once the backend tells them apart.
      report.saveNote = (r as { reason?: string }).reason ?? 'the cache service refused it';
    }
  } finally {
    await removeSnapshot(stage);
  }
}

/** The key prefix every entry of this action shares, whatever the platform or environment. */
export function inventoryPrefix(keyPrefix: string): string {
  return `${sanitizePart(keyPrefix, 'vgc-v1')}${SEPARATOR}`;
}

/**
 * Deletes what `planDeletions` chose for each environment. Stops at the first
 * 403: the token lacks `actions: write`, and every further call would fail too.
 */
async function deleteSuperseded(
  inventory: Inventory,
  entries: CacheEntryInfo[],
  outcomes: CheckOutcome[],
): Promise<Map<number, DeletionReason>> {
  const deleted = new Map<number, DeletionReason>();
  let forbidden: string | undefined;
  for (const o of outcomes) {
    const plan = planDeletions({
      entries,
      scopePrefix: o.scopePrefix,
      verifiedKey: o.verifiedKey,
      verifiedSavedAt: o.verifiedSavedAt,
      corruptKeys: o.corruptKeys,
    });
    for (const d of plan) {
      if (forbidden) break;
      const r = await inventory.deleteById(d.id);
      if (r.kind === 'deleted' || r.kind === 'gone') {
        deleted.set(d.id, d.why);
        o.report.deleted.push(d);
        core.info(`Deleted ${d.key} (${d.why}).`);
      } else if (r.kind === 'forbidden') {
        forbidden = r.message;
        core.warning(r.message);
      } else {
        o.report.deleteNote = r.reason;
        core.warning(r.reason);
      }
    }
    if (forbidden && plan.length > o.report.deleted.length) {
      o.report.deleteNote = 'not deleted: the token lacks `actions: write`';
    }
  }
  return deleted;
}

function reportPath(env: NodeJS.ProcessEnv): string {
  return path.join(env['RUNNER_TEMP'] || os.tmpdir(), 'verified-go-cache-health.json');
}

/** The health stage: every environment, the inventory, deletions, summary and outputs. */
export async function runHealth(
  io: EntryIo = realIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const ctx = loadContext(env);
  const mode = cacheModeFromEnv(env);
  const timings: Record<string, number> = {};
  const outcomes: CheckOutcome[] = [];
  const report: HealthReport = {
    generatedAt: new Date().toISOString(),
    healthy: false,
    branch: ctx.keyParts.branch,
    environments: [],
  };
  try {
    const { go, project, sums } = await phase(timings, 'project', async () => {
      const go = await Go.find();
      const project = await readProject(go, ctx.workingDirectory, {
        goSumFiles: ctx.inputs.goSumFiles,
        goSumFilesIsDefault: ctx.inputs.goSumFilesIsDefault,
      });
      return { go, project, sums: await loadSums(project.sumFiles) };
    });
    const scratchRoot = path.join(env['RUNNER_TEMP'] || os.tmpdir(), `vgc-health-${process.pid}`);
    const envs = [...new Set(ctx.inputs.environments)];
    for (const [i, environment] of envs.entries()) {
      const outcome = await phase(timings, `environment ${environment || '(default)'}`, () =>
        checkEnvironment(
          { environment, ctx, go, project, sums, mode, scratch: path.join(scratchRoot, String(i)) },
          io,
        ),
      );
      outcomes.push(outcome);
      report.environments.push(outcome.report);
    }
    await forceRemove(scratchRoot).catch(() => undefined);
    const envDrift = await phase(timings, 'drift between environments', () =>
      compareEnvironments(
        outcomes.map((o) => ({ ...o.report, facts: o.entryFacts })),
        project,
        ctx.inputs.failOnDrift,
        env,
      ),
    );
    if (envDrift) report.sections = [envDrift];
    await phase(timings, 'inventory', () => takeInventory(ctx, report, outcomes, env));
  } catch (e) {
    core.setFailed((e as Error).message);
  } finally {
    report.healthy = overallHealthy(report.environments);
    await publish(ctx, report);
  }
}

async function takeInventory(
  ctx: Context,
  report: HealthReport,
  outcomes: CheckOutcome[],
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const prefix = inventoryPrefix(ctx.inputs.keyPrefix);
  const inventory = activeStore().inventory(ctx.inputs.githubToken, env);
  if ('unavailable' in inventory) {
    report.inventoryNote = `No inventory: ${inventory.unavailable}.`;
    core.warning(report.inventoryNote);
    if (ctx.inputs.deleteSuperseded) {
      for (const o of outcomes) o.report.deleteNote = 'not deleted: no inventory';
    }
    return;
  }
  const listed = await inventory.list(prefix);
  if (listed.kind === 'unavailable') {
    report.inventoryNote = `No inventory: ${listed.reason}`;
    core.warning(report.inventoryNote);
    if (ctx.inputs.deleteSuperseded) {
      for (const o of outcomes)
        o.report.deleteNote = 'not deleted: the entries could not be listed';
    }
    return;
  }
  for (const o of outcomes) {
    const e = listed.entries.find((x) => x.key === o.report.matchedKey);
    if (e) {
      o.report.createdAt = e.createdAt;
      o.report.lastAccessedAt = e.lastAccessedAt;
    }
  }
  const deleted = ctx.inputs.deleteSuperseded
    ? await deleteSuperseded(inventory, listed.entries, outcomes)
    : new Map<number, DeletionReason>();
  const saved = new Set(outcomes.map((o) => o.report.savedKey).filter((k) => k !== undefined));
  report.inventory = {
    keyPrefix: prefix,
    entries: listed.entries.map((e) => ({
      ...e,
      ...(deleted.has(e.id) ? { deleted: deleted.get(e.id) } : {}),
      ...(saved.has(e.key) ? { savedByThisRun: true } : {}),
    })),
    usage: await inventory.usage(),
  };
}

async function publish(ctx: Context, report: HealthReport): Promise<void> {
  const file = reportPath(process.env);
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, healthJson(report));
    core.setOutput('report', file);
  } catch (e) {
    core.warning(`Could not write the health report ${file}: ${(e as Error).message}`);
  }
  core.setOutput('healthy', String(report.healthy));
  try {
    await core.summary.addRaw(healthMarkdown(report)).write();
  } catch (e) {
    core.info(`No job summary written: ${(e as Error).message}`);
  }
  if (report.healthy) {
    core.info(`All ${report.environments.length} environments are healthy.`);
    return;
  }
  const bad = report.environments.filter((e) => e.status !== 'healthy');
  const message =
    `Cache health: ${bad.map((e) => `'${e.environment}' ${e.status}`).join(', ') || 'no environment checked'}. ` +
    'See the job summary for every module and what was repaired.';
  if (ctx.inputs.failOnUnhealthy) core.setFailed(message);
  else core.warning(message);
}
