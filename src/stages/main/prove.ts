/**
 * main's proving phases: judge the entry against go.sum, prove its toolchains
 * in the quarantine, move only what go.sum proves into the module cache; then
 * repair what is bad and download what is missing, so that the module cache
 * is complete. A SECURITY ERROR is never repaired.
 */
import * as core from '@actions/core';
import * as os from 'node:os';
import { type Context } from '../../action/context.js';
import { type MainState } from '../../action/state.js';
import { promote, promotedFacts, promotionPlan } from '../../restore/quarantine.js';
import type { BadModule } from '../../go/goout.js';
import { forceRemove, scanModCache, zipBytes } from '../../go/modcache.js';
import { explainGoFailure } from '../../go/project.js';
import { describeBad, describeDropped, formatBytes, phase } from '../../report/report.js';
import { recordFromDisk } from '../../verify/scan.js';
import { factsFromRecord, mergeFresh } from '../../verify/facts.js';
import {
  isComplete,
  judge,
  repairPlan,
  type Judgement,
  type ModuleFacts,
} from '../../verify/judge.js';
import { distrustZiphashes, repairModules } from '../../verify/repair.js';
import {
  checkToolchains,
  fetchToolchains,
  neededToolchains,
  type ToolchainCheck,
} from '../../verify/toolchains.js';
import { compareGoVersions } from '../../go/workspace.js';
import { computeDrift, entryContentVersions } from '../../report/drift.js';
import { corruptModuleList } from '../../verify/verify.js';
import { restoredEntryNote } from '../../verify/republished.js';
import { Admitted, GoCommandError, Obtained, SecurityError, Setup } from './setup.js';

export function reportBad(bad: BadModule[]): void {
  for (const line of describeBad(bad)) core.warning(`Corrupt module cache entry: ${line}`);
}
/** Runs `go mod download` (and `go list -m all` for the module graph) in every root. */
export async function download(s: Setup, graph: boolean): Promise<void> {
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
export function userToolchain(): string {
  return process.env['GOTOOLCHAIN'] || 'auto';
}
/**
 * Cached toolchains are checked before any go command may switch to them; one
 * the project asks for is part of completeness, fetched here (never run) so
 * it is saved once and exact hits have it offline.
 */
export async function proveToolchains(
  s: Setup,
  toolchains: ToolchainCheck,
  st: MainState,
): Promise<void> {
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
export async function admit(
  ctx: Context,
  s: Setup,
  got: Obtained,
  st: MainState,
): Promise<Admitted> {
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
/** What post compares to see whether a later step changed the module cache: its files' names. */
async function namesFingerprint(modCache: string): Promise<string> {
  return (await scanModCache(modCache, { contents: false })).fingerprint;
}

/** Phase 4: repair what is bad, download what is missing, in the module cache. */
export async function prove(
  ctx: Context,
  s: Setup,
  got: Obtained,
  admitted: Admitted,
  st: MainState,
): Promise<{ judgement: Judgement; fingerprint: string }> {
  let facts = admitted.facts;
  if (admitted.judgement.bad.length > 0) {
    // A bad version's proven zip (if any) was promoted: Go rebuilds its tree from it offline.
    const repaired = await phase(st.timings, 'repair', () => repair(s, admitted.judgement, st));
    facts = await factsAfterRepair(s.modCache, facts, repaired);
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
    return { judgement: j, fingerprint: await namesFingerprint(s.modCache) };
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
    return { judgement: j, fingerprint: scan.fingerprint };
  }
  return { judgement: j, fingerprint: await namesFingerprint(s.modCache) };
}
/**
 * Does the cache hold every module the go.mod files require (what `go mod
 * download` fetches for go >= 1.17 modules), and every module replacement?
 * Only then may go.sum lines beyond them be left aside. Workspaces and older
 * go directives download more (`all`), so they never take this shortcut.
 */
export function coversRequirements(s: Setup, j: Judgement): boolean {
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
export function reportIncomplete(
  got: Obtained,
  st: MainState,
  modCache: string,
  had: number,
): void {
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
/**
 * The facts once a repair is done. A targeted repair changed only the
 * versions it repaired: those are hashed again from disk, the others keep
 * what was measured (on a warm hit, by the extraction itself). After a full
 * rebuild everything is new, and all of it is hashed.
 */
export async function factsAfterRepair(
  modCache: string,
  before: ModuleFacts[],
  repaired: RepairOutcome,
): Promise<ModuleFacts[]> {
  if (repaired.kind === 'full') return factsFromRecord(await recordFromDisk(modCache));
  const only = new Set(repaired.ids);
  const fresh = factsFromRecord(await recordFromDisk(modCache, { only }));
  return [...before.filter((f) => !only.has(`${f.path}@${f.version}`)), ...fresh];
}
/** What a repair touched: the versions repaired on their own, or the whole module cache. */
export type RepairOutcome = { kind: 'targeted'; ids: string[] } | { kind: 'full' };

export async function repair(s: Setup, j: Judgement, st: MainState): Promise<RepairOutcome> {
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
  if (r.failed.length === 0)
    return { kind: 'targeted', ids: plan.map((i) => `${i.path}@${i.version}`) };
  throwIfSecurity(s, root?.dir ?? s.project.workingDirectory, [...r.failed, r.stderr]);
  core.warning(
    `Targeted repair failed for ${r.failed.join('; ')}. Cleaning the whole module cache and ` +
      'downloading everything again.',
  );
  await s.go.run(['clean', '-modcache'], s.project.workingDirectory);
  await forceRemove(s.modCache);
  await download(s, true);
  st.rebuilt = true;
  return { kind: 'full' };
}
/**
 * A repair that Go refused with a checksum mismatch is a SECURITY ERROR like
 * any other: the fresh download disagrees with go.sum, so cleaning the cache
 * and downloading everything again could not heal it.
 */
export function throwIfSecurity(s: Setup, dir: string, failed: string[]): void {
  const failure = explainGoFailure(s.project, dir, 'go mod download (repair)', failed.join('\n'));
  if (failure.kind === 'security') throw new SecurityError(failure.message, failure.mismatches);
}
/**
 * A SECURITY ERROR gains what the restored entry held for the versions Go
 * named (which side changed); anything else passes through as it is.
 */
export function withRestoredHashes(e: unknown, got: Obtained): unknown {
  if (!(e instanceof SecurityError)) return e;
  const note = restoredEntryNote(e.mismatches, got.matchedKey, got.facts);
  if (!note) return e;
  const at = e.message.indexOf('\nGo said:');
  const message =
    at >= 0 ? `${e.message.slice(0, at)} ${note}${e.message.slice(at)}` : `${e.message} ${note}`;
  return new SecurityError(message, e.mismatches);
}
