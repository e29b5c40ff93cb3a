/**
 * main: once the project is on disk, pins the exact key, makes sure the entry
 * is there (restoring it into a quarantine itself when pre did not run),
 * judges it against go.sum module by module, and moves only what go.sum proves
 * into the module cache (src/restore/quarantine.ts); then makes the module
 * cache complete. A bad module is repaired on its own; a project problem is
 * reported as one and never "repaired"; a SECURITY ERROR always fails the step.
 *
 * Over 500 lines: these are the phases of one stage, sharing its Setup and
 * MainState; the decisions they make are pure and live in action/decide.ts,
 * verify/judge.ts and restore/quarantine.ts.
 */
import * as core from '@actions/core';
import * as glob from '@actions/glob';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadContext, type Context } from '../action/context.js';
import { InputError } from '../action/inputs.js';
import { samePath } from '../go/paths.js';
import { splitModuleId } from '../go/gosum.js';
import { convergeAction, mainRestoreAction } from '../action/decide.js';
import { readPre, saveMain, type MainState, type PreState } from '../action/state.js';
import { type ExtractRecord } from '../verify/record.js';
import { lookupEntry } from '../cache/entry.js';
import { restoreEntry } from '../restore/restore.js';
import {
  promote,
  promotedFacts,
  promotionPlan,
  quarantineFor,
  removeQuarantine,
} from '../restore/quarantine.js';
import type { Dropped } from '../verify/record.js';
import { classifyMatch, deriveKeys, type HitKind } from '../cache/key.js';
import { cacheModeFromEnv, type CacheMode } from '../cache/mode.js';
import type { BadModule } from '../go/goout.js';
import {
  forceRemove,
  isNonEmptyDir,
  scanModCache,
  zipBytes,
  type CacheScan,
} from '../go/modcache.js';
import { explainGoFailure, readProject, vendorRoots, type GoProject } from '../go/project.js';
import { vendorOnlyReason } from '../go/vendor.js';
import { Go } from '../go/toolchain.js';
import { describeBad, describeDropped, formatBytes, phase } from '../report/report.js';
import { recordFromDisk } from '../verify/scan.js';
import { factsFromRecord, mergeFresh } from '../verify/facts.js';
import {
  isComplete,
  judge,
  repairPlan,
  type Judgement,
  type ModuleFacts,
} from '../verify/judge.js';
import { distrustZiphashes, repairModules } from '../verify/repair.js';
import {
  checkToolchains,
  fetchToolchains,
  neededToolchains,
  type ToolchainCheck,
} from '../verify/toolchains.js';
import { compareGoVersions } from '../go/workspace.js';
import { computeDrift, driftMarkdown, entryContentVersions } from '../report/drift.js';
import { corruptModuleList, loadSums } from '../verify/verify.js';
import { runHealth } from './health.js';
import type { ChecksumMismatch } from '../go/fetchfail.js';
import { restoredEntryNote } from '../verify/republished.js';
import { logModuleSources, registerCredentialSecrets } from '../action/secrets.js';
import { restoreBuildCache, type BuildCacheState } from '../buildcache/buildcache.js';
import { checkDrift } from './drift.js';

/** A checksum mismatch Go reported for a fresh download: never cache corruption. */
export class SecurityError extends Error {
  constructor(
    message: string,
    readonly mismatches: ChecksumMismatch[] = [],
  ) {
    super(message);
    this.name = 'SecurityError';
  }
}

/** A go command failed for a reason that is not the cache's: reported, never repaired. */
class GoCommandError extends Error {}

interface Setup {
  go: Go;
  modCache: string;
  goVersion: string;
  hostOs: string;
  hostArch: string;
  project: GoProject;
  sums: Map<string, string>;
  exactKey: string;
  lineage: string[];
  /** Error-level diagnostics: the project cannot load, so no go command will succeed. */
  projectErrors: string[];
}

interface Obtained {
  /** Of the entry as restored (the quarantine), or of the module cache as found. */
  facts: ModuleFacts[];
  hitKind: HitKind;
  matchedKey: string;
  restoredBytes?: number;
  /** Where the entry waits until it is proven; none for a local cache or a miss. */
  quarantine?: string;
  dropped?: Dropped;
}

/** The module cache once the entry's proven versions are in place. */
interface Admitted {
  /** The verdict on what was restored (or found), before any repair. */
  judgement: Judgement;
  /** Of the module cache now. */
  facts: ModuleFacts[];
  toolchains: ToolchainCheck;
}

function newState(pre: PreState | undefined): MainState {
  return {
    completed: false,
    modCache: '',
    exactKey: '',
    matchedKey: '',
    hitKind: 'miss',
    verified: false,
    rebuilt: false,
    repaired: [],
    securityError: false,
    bad: [],
    fingerprint: '',
    moduleCount: 0,
    depHash: '',
    keyFiles: [],
    sumFiles: [],
    workingDirectory: '',
    full: [],
    modOnly: [],
    toolchains: [],
    downloaded: [],
    downloadedBytes: 0,
    timings: pre?.ran ? { pre: pre.ms ?? 0 } : {},
    restoredBytes: pre?.archiveBytes,
    cacheMode: 'unset',
    notes: [],
    sections: [],
  };
}

function annotate(project: GoProject, workspace: string): string[] {
  const errors: string[] = [];
  for (const d of project.diagnostics) {
    const file = path.relative(workspace, d.file) || d.file;
    const props = { file, ...(d.line ? { startLine: d.line } : {}) };
    const text = `${file}${d.line ? `:${d.line}` : ''}: ${d.message}`;
    if (d.level === 'error') {
      core.error(d.message, props);
      errors.push(text);
    } else if (d.level === 'warning') core.warning(d.message, props);
    else core.notice(d.message, props);
  }
  return errors;
}

/** Phase 1: Go, the module cache's location, the project in scope, its go.sum and keys. */
async function locate(ctx: Context, st: MainState): Promise<Setup> {
  const go = await Go.find();
  const goEnv = await go.env(ctx.workingDirectory);
  st.modCache = goEnv.GOMODCACHE;
  core.info(`${goEnv.GOVERSION}, GOMODCACHE=${goEnv.GOMODCACHE}`);
  await logModuleSources(go, ctx.workingDirectory);
  const project = await readProject(go, ctx.workingDirectory, {
    goSumFiles: ctx.inputs.goSumFiles,
    goSumFilesIsDefault: ctx.inputs.goSumFilesIsDefault,
  });
  await checkExplicitGlobs(ctx);
  const projectErrors = annotate(project, ctx.workspace);
  st.projectErrors = projectErrors;
  for (const m of project.members) core.info(`In scope: ${m.modulePath} (${m.dir}; ${m.why})`);
  st.depHash = project.depHash;
  st.keyFiles = project.keyFiles;
  st.sumFiles = project.sumFiles;
  st.replaced = project.replaced;
  st.vendored = project.members
    .filter((m) => m.vendored)
    .map((m) => path.relative(ctx.workspace, m.dir) || '.');
  const all = await loadSums(project.sumFiles);
  const sums = withoutReplaced(all, project);
  // Post judges completeness on the go.sum files again: it must leave these out too.
  st.unneeded = [...all.keys()].filter((id) => !sums.has(id) && !id.endsWith('/go.mod'));
  const plan = deriveKeys(ctx.keyParts, project.depHash);
  st.exactKey = plan.exact!;
  core.info(`Exact key: ${st.exactKey}`);
  return {
    go,
    modCache: goEnv.GOMODCACHE,
    goVersion: goEnv.GOVERSION,
    hostOs: goEnv.GOHOSTOS,
    hostArch: goEnv.GOHOSTARCH,
    project,
    sums,
    exactKey: plan.exact!,
    lineage: plan.lineage,
    projectErrors,
  };
}

/**
 * go.sum lines of modules a replace directive swaps out: Go never needs the
 * original, so they are not part of completeness (the replacement is, when it
 * is a module; a local directory is not a cache matter).
 */
function withoutReplaced(sums: Map<string, string>, project: GoProject): Map<string, string> {
  if (project.replaced.length === 0) return sums;
  const out = new Map(sums);
  for (const r of project.replaced) {
    for (const id of sums.keys()) {
      const bare = id.endsWith('/go.mod') ? id.slice(0, -'/go.mod'.length) : id;
      if (r.from === bare || r.from === splitModuleId(bare).path) out.delete(id);
    }
  }
  return out;
}

/** Explicit go-sum-files globs must each match something: a glob that does not is a typo. */
async function checkExplicitGlobs(ctx: Context): Promise<void> {
  if (ctx.inputs.goSumFilesIsDefault) return;
  for (const pattern of ctx.inputs.goSumFiles) {
    if (pattern.startsWith('!')) continue;
    const globber = await glob.create(path.join(ctx.workingDirectory, pattern), {
      followSymbolicLinks: false,
      matchDirectories: false,
    });
    if ((await globber.glob()).length > 0) continue;
    throw new InputError(
      'go-sum-files',
      `no file under ${ctx.workingDirectory} matches ${pattern}. Fix the globs (they are ` +
        'relative to working-directory), or remove the input: the module at working-directory ' +
        'and its go.work members are always in scope.',
    );
  }
}

async function readRecordFile(file: string | undefined): Promise<ExtractRecord | undefined> {
  if (!file) return undefined;
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as ExtractRecord;
  } catch {
    return undefined;
  }
}

async function restoreHere(
  ctx: Context,
  s: Setup,
  mode: CacheMode,
  primary: string,
  restoreKeys: string[],
  st: MainState,
): Promise<Obtained> {
  const none: Obtained = { facts: [], hitKind: 'miss', matchedKey: '' };
  if (!mode.canRead) {
    core.info(`Cache mode '${mode.name}': no restore.`);
    return none;
  }
  const quarantine = quarantineFor(s.modCache);
  st.quarantine = quarantine;
  const r = await restoreEntry({
    dest: quarantine,
    primaryKey: primary,
    restoreKeys,
    lookupTimeoutMs: ctx.inputs.lookupTimeoutMs,
    hash: true,
  });
  if (r.kind !== 'restored') await removeQuarantine(quarantine);
  switch (r.kind) {
    case 'restored':
      core.info(
        `Restored ${r.matchedKey} (${r.archiveBytes} bytes) in ${r.ms} ms into the quarantine ` +
          `${quarantine}.`,
      );
      return {
        facts: factsFromRecord(r.record!),
        hitKind: classifyMatch(s.exactKey, r.matchedKey),
        matchedKey: r.matchedKey,
        restoredBytes: r.archiveBytes,
        quarantine,
        dropped: r.record!.dropped,
      };
    case 'rejected':
      core.warning(
        `Rejected cache entry ${r.matchedKey}: ${r.reason}. Nothing of it was kept; going on ` +
          'as a miss. An entry like this can only come from a workflow that wrote to this ' +
          "repository's cache outside verified-go-cache.",
      );
      return none;
    case 'miss':
      core.info('No entry for this environment yet.');
      return none;
    case 'denied':
      core.info(`Not restoring: ${r.reason}.`);
      return none;
    case 'failed':
      core.warning(
        `Restoring ${r.matchedKey} failed (${r.reason}); removed what was extracted and going ` +
          'on without a cache.',
      );
      return none;
    case 'unavailable':
      core.warning(`Cache service unavailable (${r.reason}); going on without a cache.`);
      return none;
  }
}

/** Phase 2: the module cache as restored by pre, restored here, or found on the runner. */
async function obtain(
  ctx: Context,
  s: Setup,
  pre: PreState | undefined,
  mode: CacheMode,
  st: MainState,
): Promise<Obtained> {
  const preRestored = pre?.outcome === 'restored' && pre.quarantine !== undefined;
  const action = mainRestoreAction({
    preRan: pre?.ran === true,
    preRestored,
    preModCache: pre?.modCache ?? '',
    goModCache: s.modCache,
    cacheNonEmpty: await isNonEmptyDir(s.modCache),
    samePath,
  });
  if (action === 'use-local') {
    if (preRestored) {
      core.info(
        `${s.modCache} holds files already: what pre restored stays out of it and is removed.`,
      );
      await removeQuarantine(pre!.quarantine);
    }
    core.info(`${s.modCache} already holds modules; hashing them instead of restoring.`);
    return {
      facts: factsFromRecord(await recordFromDisk(s.modCache)),
      hitKind: 'local',
      matchedKey: '',
    };
  }
  if (action === 'use-pre') {
    const record = await readRecordFile(pre!.recordFile);
    if (record) {
      core.info(
        `pre restored ${pre!.matchedKey} into the quarantine ${pre!.quarantine}; its hashes were ` +
          'computed while extracting.',
      );
      return {
        facts: factsFromRecord(record),
        hitKind: classifyMatch(s.exactKey, pre!.matchedKey),
        matchedKey: pre!.matchedKey,
        restoredBytes: pre!.archiveBytes,
        quarantine: pre!.quarantine,
        dropped: record.dropped,
      };
    }
    await removeQuarantine(pre!.quarantine);
  }
  if (action === 'none') return { facts: [], hitKind: 'miss', matchedKey: '' };
  core.info(
    pre?.outcome === 'skipped-vendor'
      ? 'pre did not restore (GOFLAGS=-mod=vendor), but not every module in scope vendors; restoring here.'
      : pre?.ran
        ? `pre restored nothing for ${s.modCache}, where Go looks. Restoring here.`
        : 'pre did not run (a local action, uses: ./); restoring here.',
  );
  return restoreHere(ctx, s, mode, s.exactKey, s.lineage, st);
}

/** Is there an entry built from exactly this go.sum? Asked after a lineage or local hit. */
async function exactEntryExists(ctx: Context, s: Setup, mode: CacheMode): Promise<boolean> {
  if (!mode.canRead) return false;
  const r = await lookupEntry(s.exactKey, [], ctx.inputs.lookupTimeoutMs);
  return r.kind === 'hit';
}

function reportBad(bad: BadModule[]): void {
  for (const line of describeBad(bad)) core.warning(`Corrupt module cache entry: ${line}`);
}

/** Runs `go mod download` (and `go list -m all` for the module graph) in every root. */
async function download(s: Setup, graph: boolean): Promise<void> {
  for (const run of s.project.runs) {
    const steps: [string, string[]][] = [['go mod download', ['mod', 'download']]];
    if (graph) steps.push(['go list -m all', ['list', '-m', 'all']]);
    for (const [label, args] of steps) {
      core.info(`${label} (in ${run.dir})`);
      const r = await s.go.run(args, run.dir, { GOTOOLCHAIN: userToolchain(), ...(run.env ?? {}) });
      if (r.code === 0) continue;
      const failure = explainGoFailure(s.project, run.dir, label, r.stderr);
      if (failure.kind === 'security') throw new SecurityError(failure.message, failure.mismatches);
      throw new GoCommandError(failure.message);
    }
  }
}

/** The GOTOOLCHAIN the user's steps run with; used once cached toolchains are verified. */
function userToolchain(): string {
  return process.env['GOTOOLCHAIN'] || 'auto';
}

/**
 * Cached toolchains are checked before any go command may switch to them; one
 * the project asks for is part of completeness, fetched here (never run) so
 * it is saved once and exact hits have it offline.
 */
async function proveToolchains(s: Setup, toolchains: ToolchainCheck, st: MainState): Promise<void> {
  for (const t of toolchains.removed)
    core.warning(`Removed cached toolchain ${t.module}: ${t.reason}`);
  for (const [id, ms] of Object.entries(toolchains.ms)) core.info(`Verified ${id} in ${ms} ms.`);
  st.toolchains = toolchains.verified;
  st.neededToolchains = neededToolchains(
    s.project.members,
    s.goVersion,
    s.hostOs,
    s.hostArch,
    compareGoVersions,
  );
  const absent = st.neededToolchains.filter((t) => !st.toolchains.includes(t));
  const fetched = await fetchToolchains(s.go, s.modCache, absent, os.tmpdir());
  for (const t of fetched.failed)
    core.warning(`Could not download toolchain ${t.module} the project asks for: ${t.reason}`);
  st.toolchains.push(...fetched.fetched);
  st.toolchainZips = [...toolchains.zipChecked, ...fetched.fetched];
  st.downloaded = [...fetched.fetched];
  // A removed toolchain is a corrupt entry like any module; fetched again, it is repaired.
  for (const t of toolchains.removed) {
    st.bad.push({ module: t.module, reason: t.reason });
    if (!fetched.fetched.includes(t.module)) continue;
    const fetchedBytes = await zipBytes(s.modCache, [t.module]);
    st.repaired.push({ module: t.module, how: 'download', fetchedBytes });
  }
}

/**
 * Phase 3: judge the entry (or the cache found) against go.sum; for an entry,
 * prove its toolchains where they lie, then move what go.sum proves from the
 * quarantine into the module cache. Nothing unproven is ever where Go looks.
 */
async function admit(ctx: Context, s: Setup, got: Obtained, st: MainState): Promise<Admitted> {
  const j = judge(got.facts, s.sums, { zipsExpected: false });
  core.info(
    `${got.facts.length} module versions ${got.quarantine ? 'in the entry' : 'in the cache'}: ` +
      `${j.verified.length} match go.sum, ${j.bad.length} problems, ` +
      `${j.missing.length + j.missingMods.length} of go.sum's ${s.sums.size} lines not covered` +
      (j.missing.length + j.missingMods.length > 0
        ? ` (${[...j.missing, ...j.missingMods.map((m) => `${m}/go.mod`)].slice(0, 5).join(', ')}` +
          `${j.missing.length + j.missingMods.length > 5 ? ', ...' : ''})`
        : '') +
      '.',
  );
  if (got.dropped) core.info(`The entry's restore ${describeDropped(got.dropped)}.`);
  if (j.bad.length > 0) {
    st.bad = j.bad.map(({ module, reason }) => ({ module, reason }));
    reportBad(st.bad);
    if (ctx.inputs.onCorruption === 'fail') {
      throw new Error(
        `The module cache failed verification (${corruptModuleList(st.bad)}) and on-corruption ` +
          "is 'fail'. Nothing will be saved. Use 'on-corruption: rebuild' to heal it.",
      );
    }
  }
  // Cached toolchains are proven before any go command may switch to one, in
  // the quarantine for an entry: an unproven one is never where Go looks.
  const toolchains = await checkToolchains(
    s.go,
    got.quarantine ?? s.modCache,
    j.unnamed,
    os.tmpdir(),
  );
  if (!got.quarantine) return { judgement: j, facts: got.facts, toolchains };
  const plan = promotionPlan(got.facts, j, s.sums, new Set(toolchains.verified));
  const moved = await promote(got.quarantine, s.modCache, plan);
  st.promoted = moved.versions;
  core.info(
    `Moved ${moved.versions} module versions (${moved.files} files) from the quarantine into ` +
      `${s.modCache}${moved.copied ? ' (copied: the quarantine is on another file system)' : ''}; ` +
      `${got.facts.length - moved.versions} stayed out (not named by go.sum, or not proven).`,
  );
  return { judgement: j, facts: promotedFacts(got.facts, plan), toolchains };
}

/** Phase 4: repair what is bad, download what is missing, in the module cache. */
async function prove(
  ctx: Context,
  s: Setup,
  got: Obtained,
  admitted: Admitted,
  st: MainState,
): Promise<{ judgement: Judgement; scan: CacheScan }> {
  let facts = admitted.facts;
  if (admitted.judgement.bad.length > 0) {
    // A bad version's proven zip (if any) was promoted: Go rebuilds its tree from it offline.
    await phase(st.timings, 'repair', () => repair(s, admitted.judgement, st));
    facts = factsFromRecord(await recordFromDisk(s.modCache));
  }
  let j = judge(facts, s.sums, { zipsExpected: false });

  await proveToolchains(s, admitted.toolchains, st);
  if (got.hitKind === 'lineage') {
    st.drift = computeDrift(entryContentVersions(got.facts), s.sums);
  }

  if (!isComplete(j) && got.hitKind === 'exact' && coversRequirements(s, j)) {
    // The entry was saved for this very go.mod/go.sum by a job that established
    // what the build needs; what go.sum names beyond the requirements (an
    // untidy go.sum, graph-only lines) is not fetched again, so an exact hit
    // stays offline.
    const extra = j.missing.length + j.missingMods.length;
    st.unneeded = [...(st.unneeded ?? []), ...j.missing, ...j.missingMods];
    st.notes.push(
      `go.sum names ${extra} module versions beyond what the go.mod requirements need ` +
        '(go.sum is not tidy); they are not part of the cache.',
    );
    return { judgement: j, scan: await scanModCache(s.modCache) };
  }
  if (!isComplete(j)) {
    if (s.projectErrors.length > 0) {
      throw new GoCommandError(
        `The project cannot be loaded, so the missing modules cannot be downloaded: ` +
          s.projectErrors.join('; '),
      );
    }
    const before = new Set(
      facts.filter((f) => f.treeH1 !== undefined || f.fresh).map((f) => `${f.path}@${f.version}`),
    );
    await distrustZiphashes(s.modCache, j.missing);
    await phase(st.timings, 'download', () => download(s, j.missingMods.length > 0));
    const scan = await scanModCache(s.modCache);
    facts = mergeFresh(facts, scan);
    st.downloaded = facts
      .filter((f) => f.fresh && !before.has(`${f.path}@${f.version}`))
      .map((f) => `${f.path}@${f.version}`);
    st.downloadedBytes = await zipBytes(s.modCache, st.downloaded);
    if (st.downloaded.length > 0 && (got.hitKind === 'exact' || got.hitKind === 'local')) {
      reportIncomplete(got, st, s.modCache, facts.length - st.downloaded.length);
      if (got.hitKind === 'exact') st.hitKind = 'incomplete';
    }
    j = judge(facts, s.sums, { zipsExpected: false });
    if (j.bad.length > 0) {
      st.bad = j.bad.map(({ module, reason }) => ({ module, reason }));
      reportBad(st.bad);
      throw new Error(
        `Modules Go just downloaded do not match go.sum: ${describeBad(st.bad).join('; ')}`,
      );
    }
    st.unneeded = [...(st.unneeded ?? []), ...j.missing, ...j.missingMods];
    const unneeded = j.missing.length + j.missingMods.length;
    if (unneeded > 0) {
      const modsKept = new Set(j.verifiedModOnly);
      const kept = j.missing.filter((id) => modsKept.has(id)).length;
      st.notes.push(
        `go.sum names ${unneeded} module versions that the build does not need (go.sum is not ` +
          'tidy); their zips are not part of the cache' +
          (kept > 0
            ? ` (the go.mod files of ${kept} of them are: the module graph reads them).`
            : '.'),
      );
    }
    return { judgement: j, scan };
  }
  return { judgement: j, scan: await scanModCache(s.modCache) };
}

/**
 * Does the cache hold every module the go.mod files require (what `go mod
 * download` fetches for go >= 1.17 modules), and every module replacement?
 * Only then may go.sum lines beyond them be left aside. Workspaces and older
 * go directives download more (`all`), so they never take this shortcut.
 */
function coversRequirements(s: Setup, j: Judgement): boolean {
  if (s.project.mode !== 'module') return false;
  const modern = s.project.members.every(
    (m) => m.goVersion !== undefined && (compareGoVersions(m.goVersion, '1.17') ?? -1) >= 0,
  );
  if (!modern) return false;
  const needed = new Set(s.project.members.flatMap((m) => m.requires));
  for (const r of s.project.replaced) if (r.kind === 'module') needed.add(r.to);
  return !j.missing.some((id) => needed.has(id));
}

/** An exact or local cache lacked modules go.sum names: say which entry, how many, and why. */
function reportIncomplete(got: Obtained, st: MainState, modCache: string, had: number): void {
  const what =
    got.hitKind === 'exact'
      ? `The restored entry ${got.matchedKey}`
      : 'The module cache on this runner';
  const missing = st.downloaded.length;
  core.warning(
    `${what} was incomplete: ${missing} of the module versions go.sum names were not where Go ` +
      `looks (${modCache}); they were downloaded (${formatBytes(st.downloadedBytes)}) and checked ` +
      'against go.sum.' +
      (had <= 0
        ? ' It put no module there at all: most likely it was saved with paths of another layout ' +
          '(an older verified-go-cache, or a restore into another directory).'
        : ' Most likely a step of the saving job deleted them, or the entry was written by ' +
          'something other than verified-go-cache.'),
  );
}

async function repair(s: Setup, j: Judgement, st: MainState): Promise<void> {
  const plan = repairPlan(j);
  const root = s.project.runs[0];
  const r = await repairModules(
    s.go,
    s.modCache,
    root?.dir ?? s.project.workingDirectory,
    plan,
    s.sums,
    { GOTOOLCHAIN: 'local', ...(root?.env ?? {}) },
  );
  st.repaired = r.repaired;
  st.rebuilt = r.repaired.length > 0;
  for (const x of r.repaired) {
    core.info(
      `Repaired ${x.module}: ${x.how === 're-extract' ? 'tree rebuilt offline from its zip' : `downloaded again (${x.fetchedBytes} bytes)`}.`,
    );
  }
  if (r.failed.length === 0) return;
  throwIfSecurity(s, root?.dir ?? s.project.workingDirectory, [...r.failed, r.stderr]);
  core.warning(
    `Targeted repair failed for ${r.failed.join('; ')}. Cleaning the whole module cache and ` +
      'downloading everything again.',
  );
  await s.go.run(['clean', '-modcache'], s.project.workingDirectory);
  await forceRemove(s.modCache);
  await download(s, true);
  st.rebuilt = true;
}

/**
 * A repair that Go refused with a checksum mismatch is a SECURITY ERROR like
 * any other: the fresh download disagrees with go.sum, so cleaning the cache
 * and downloading everything again could not heal it.
 */
function throwIfSecurity(s: Setup, dir: string, failed: string[]): void {
  const failure = explainGoFailure(s.project, dir, 'go mod download (repair)', failed.join('\n'));
  if (failure.kind === 'security') throw new SecurityError(failure.message, failure.mismatches);
}

/**
 * A SECURITY ERROR gains what the restored entry held for the versions Go
 * named (which side changed); anything else passes through as it is.
 */
function withRestoredHashes(e: unknown, got: Obtained): unknown {
  if (!(e instanceof SecurityError)) return e;
  const note = restoredEntryNote(e.mismatches, got.matchedKey, got.facts);
  if (!note) return e;
  const at = e.message.indexOf('\nGo said:');
  const message =
    at >= 0 ? `${e.message.slice(0, at)} ${note}${e.message.slice(at)}` : `${e.message} ${note}`;
  return new SecurityError(message, e.mismatches);
}

/**
 * GOFLAGS=-mod=vendor with every module in scope vendored: the build never
 * reads the module cache, so it is not restored, proven or saved (the build
 * cache, when asked for, still is). Says so; true when main stops here.
 */
function skipForVendor(s: Setup, st: MainState): boolean {
  const why = vendorOnlyReason(process.env['GOFLAGS'] ?? '', vendorRoots(s.project));
  if (!why) return false;
  st.vendorOnly = why;
  st.completed = true;
  core.notice(`Module cache not used: ${why}`);
  return true;
}

/** Phase 4 (only after a lineage or local hit): converge on the exact entry when it exists. */
async function converge(
  ctx: Context,
  s: Setup,
  got: Obtained,
  mode: CacheMode,
  st: MainState,
): Promise<Obtained> {
  if (got.hitKind !== 'lineage' && got.hitKind !== 'local') return got;
  st.exactEntryExists = await exactEntryExists(ctx, s, mode);
  if (!st.exactEntryExists) return got;
  const j = judge(got.facts, s.sums, { zipsExpected: false });
  const action = convergeAction({
    hitKind: got.hitKind,
    missing: j.missing.length,
    named: j.missing.length + j.verified.length,
  });
  if (action === 'complete') {
    core.info(
      `An entry for this go.sum exists already; completing the restored cache ` +
        `(${j.missing.length} versions to download) without saving a duplicate.`,
    );
    return got;
  }
  core.info(
    `An entry for this go.sum exists and the restored one lacks ${j.missing.length} of ` +
      `${j.missing.length + j.verified.length} versions: restoring the exact entry instead.`,
  );
  // Nothing of the lineage entry was promoted yet: its quarantine simply goes.
  await removeQuarantine(got.quarantine);
  return restoreHere(ctx, s, mode, s.exactKey, [], st);
}

export async function runMain(): Promise<void> {
  registerCredentialSecrets(process.env);
  const pre = readPre();
  const st = newState(pre);
  // The build cache restores in parallel with the module cache's restore and
  // verification, once Go is known (its key needs GOVERSION).
  let buildCache: Promise<BuildCacheState> | undefined;
  try {
    const ctx = loadContext();
    if (ctx.inputs.mode === 'health') {
      st.mode = 'health';
      await runHealth();
      return;
    }
    const mode = cacheModeFromEnv();
    st.cacheMode = mode.name;
    st.workingDirectory = ctx.workingDirectory;
    const s = await phase(st.timings, 'project and keys', () => locate(ctx, st));
    if (ctx.inputs.buildCache) {
      buildCache = restoreBuildCache({
        go: s.go,
        ctx,
        depHash: s.project.depHash,
        timeoutMs: ctx.inputs.lookupTimeoutMs,
      });
    }
    if (skipForVendor(s, st)) return;
    let got = await phase(st.timings, 'restore (main)', () => obtain(ctx, s, pre, mode, st));
    got = await phase(st.timings, 'converge', () => converge(ctx, s, got, mode, st));
    st.hitKind = got.hitKind;
    st.matchedKey = got.matchedKey;
    st.restoredBytes = got.restoredBytes ?? st.restoredBytes;
    if (got.dropped) st.dropped = got.dropped;
    core.info(`Hit kind: ${got.hitKind}${got.matchedKey ? ` (matched ${got.matchedKey})` : ''}`);
    const admitted = await phase(st.timings, got.quarantine ? 'promote' : 'admit', () =>
      admit(ctx, s, got, st),
    );
    const { judgement, scan } = await phase(st.timings, 'verify', () =>
      prove(ctx, s, got, admitted, st).catch((e: unknown) => {
        throw withRestoredHashes(e, got);
      }),
    );
    if (st.drift) {
      st.sections!.push(
        driftMarkdown(st.drift, { downloadedBytes: st.downloadedBytes, fromKey: st.matchedKey }),
      );
      delete st.drift;
    }
    st.full = judgement.verified;
    st.verifiedZips = judgement.verifiedZips;
    st.modOnly = judgement.verifiedModOnly;
    st.fingerprint = scan.fingerprint;
    st.moduleCount = judgement.verified.length;
    st.verified = true;
    st.completed = true;
    core.info(
      `Verified: ${st.moduleCount} module versions with their trees` +
        ` (${st.downloaded.length} downloaded in this job, ${st.repaired.length} repaired), ` +
        `${st.modOnly.length} more as go.mod only.`,
    );
    await phase(st.timings, 'drift', () =>
      checkDrift({ ctx, project: s.project, restored: got, st }),
    );
    if (s.projectErrors.length > 0) {
      throw new GoCommandError(
        `The project has problems that are not the module cache's (it was left as it is): ` +
          s.projectErrors.join('; '),
      );
    }
  } catch (e) {
    const err = e as Error;
    if (err instanceof SecurityError) st.securityError = true;
    core.setFailed(err.message);
  } finally {
    // Whatever was not promoted never reaches the module cache (post removes it too).
    await removeQuarantine(st.quarantine).catch(() => undefined);
    await removeQuarantine(pre?.quarantine).catch(() => undefined);
    if (buildCache) st.buildCache = await buildCache.catch(() => undefined);
    if (st.mode !== 'health') {
      core.setOutput('cache-hit', String(st.hitKind === 'exact'));
      core.setOutput('cache-key', st.exactKey);
      core.setOutput('cache-matched-key', st.matchedKey);
      core.setOutput('hit-kind', st.hitKind);
      core.setOutput('verified', String(st.verified));
      core.setOutput('rebuilt', String(st.rebuilt));
      core.setOutput('corrupt-modules', corruptModuleList(st.bad));
      core.setOutput('module-count', String(st.moduleCount));
    }
    saveMain(st);
  }
}
