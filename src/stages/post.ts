/**
 * post: saves the verified module cache when that adds something, and writes
 * the job summary. Runs even when the job failed (post-if: always()), and then
 * saves nothing that main did not verify. What is saved is staged from the
 * verified module versions only (src/cache/snapshot.ts): nothing a later step
 * left unverified, and never a cache that is incomplete for its go.sum.
 */
import * as core from '@actions/core';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { loadContext, type Context } from '../action/context.js';
import { saveDecision } from '../action/decide.js';
import { readMain, readPre, type MainState, type PreState } from '../action/state.js';
import { lookupEntry, saveDirectory } from '../cache/entry.js';
import { deriveKeys, firstGenerationKey, generationKey, type HitKind } from '../cache/key.js';
import { cacheModeFromEnv, describeCacheMode, type CacheMode } from '../cache/mode.js';
import { removeSnapshot, stageSnapshot } from '../cache/snapshot.js';
import { entryPaths } from '../go/layout.js';
import { sumId } from '../go/gosum.js';
import { scanModCache } from '../go/modcache.js';
import { hashProjectFiles } from '../go/project.js';
import { Go } from '../go/toolchain.js';
import { describeDropped, phase, summaryMarkdown, type SummaryData } from '../report/report.js';
import { removeQuarantine } from '../restore/quarantine.js';
import { hashDirOnDisk } from '../verify/dirhash.js';
import { namedVersions } from '../verify/judge.js';
import { checkToolchains, TOOLCHAIN_MODULE } from '../verify/toolchains.js';
import { buildCacheSummaryMarkdown, saveBuildCache } from '../buildcache/buildcache.js';
import { corruptModuleList, loadSums } from '../verify/verify.js';
import { registerCredentialSecrets } from '../action/secrets.js';

function verificationText(m: MainState): string {
  if (m.vendorOnly) return `not needed: ${m.vendorOnly}`;
  if (m.securityError) return 'FAILED: go.sum checksum mismatch on download (SECURITY ERROR)';
  if (m.verified && m.repaired.length > 0) {
    return `corrupt (${m.bad.length} problems); ${m.repaired.length} module versions repaired, then verified`;
  }
  if (m.rebuilt) return `corrupt (${m.bad.length} problems), rebuilt and verified`;
  if (m.verified) return 'passed: complete for go.sum, every module hashed and matching go.sum';
  if (m.bad.length > 0) return `FAILED: ${corruptModuleList(m.bad)}`;
  return 'not completed';
}

interface Current {
  full: Set<string>;
  modOnly: Set<string>;
  toolchains: Set<string>;
  added: number;
  missing: number;
  keyChanged: boolean;
  depHash: string;
  /** Versions in the module cache that no saved entry carries (not named by go.sum, or unverified). */
  leftOut: string[];
}

/**
 * What the module cache holds now that is verified, given main's verdict and
 * whatever later steps added: a version go.sum names is verified by hashing
 * its tree from disk; a toolchain by its own checks; anything else stays out.
 */
async function currentVerified(main: MainState): Promise<Current> {
  const depHash = await hashProjectFiles(main.workingDirectory, main.keyFiles).catch(
    () => main.depHash,
  );
  const keyChanged = depHash !== main.depHash;
  const cur: Current = {
    full: new Set(main.full),
    modOnly: new Set(main.modOnly),
    toolchains: new Set(main.toolchains),
    added: 0,
    missing: 0,
    keyChanged,
    depHash,
    leftOut: [],
  };
  // The names alone tell whether anything changed after main; the files are
  // read only then (an exact hit's post reads none of them).
  let scan = await scanModCache(main.modCache, { contents: false });
  const sums = await loadSums(main.sumFiles);
  const named = namedVersions(sums);
  if (scan.fingerprint !== main.fingerprint || keyChanged) {
    scan = await scanModCache(main.modCache);
    core.info(
      `The module cache ${scan.fingerprint !== main.fingerprint ? 'changed after main' : 'is unchanged'}` +
        `${keyChanged ? ' and go.sum changed' : ''}; verifying what is new before saving.`,
    );
    const zipNamed = new Set(named.zip);
    const newToolchains = [];
    for (const v of scan.versions) {
      const id = `${v.path}@${v.version}`;
      if (cur.full.has(id) || cur.toolchains.has(id)) continue;
      // A version main kept as its go.mod alone (its zip named by go.sum but not
      // needed) is checked again only if a later step fetched its zip.
      if (cur.modOnly.has(id) && !v.hasZip) continue;
      if (v.path === TOOLCHAIN_MODULE) {
        newToolchains.push(v);
        continue;
      }
      if (zipNamed.has(id)) {
        const want = sums.get(id)!;
        const { tree } = entryPaths(id, { tree: true, zip: false });
        const h = await hashDirOnDisk(path.join(main.modCache, tree!), id).catch(() => undefined);
        if (v.ziphash === want && h === want && !v.partial) {
          cur.full.add(id);
          cur.added++;
        } else {
          core.warning(`Not saving ${id}: it does not match go.sum.`);
        }
      } else if (
        v.modHash !== undefined &&
        v.modHash === sums.get(sumId(v.path, v.version, true))
      ) {
        if (!cur.modOnly.has(id)) cur.modOnly.add(id);
      }
    }
    if (newToolchains.length > 0) {
      const go = await Go.tryFind();
      const facts = await Promise.all(
        newToolchains.map(async (v) => {
          const id = `${v.path}@${v.version}`;
          const { tree } = entryPaths(id, { tree: true, zip: false });
          return {
            path: v.path,
            version: v.version,
            ziphash: v.ziphash,
            partial: v.partial,
            treeH1: await hashDirOnDisk(path.join(main.modCache, tree!), id).catch(() => undefined),
          };
        }),
      );
      if (go) {
        const checked = await checkToolchains(
          go,
          main.modCache,
          facts,
          path.dirname(main.modCache),
        );
        for (const t of checked.verified) cur.toolchains.add(t);
        for (const t of checked.removed) core.warning(`Not saving ${t.module}: ${t.reason}`);
      }
    }
  }
  const kept = new Set([...cur.full, ...cur.modOnly, ...cur.toolchains]);
  cur.leftOut = scan.versions.map((v) => `${v.path}@${v.version}`).filter((id) => !kept.has(id));
  const allowedMissing = new Set(main.unneeded ?? []);
  cur.missing = named.zip.filter((id) => !cur.full.has(id) && !allowedMissing.has(id)).length;
  return cur;
}

async function save(
  ctx: Context,
  main: MainState,
  mode: CacheMode,
  out: { saved: string; savedBytes?: number },
): Promise<void> {
  const base = {
    save: ctx.inputs.save,
    canWrite: mode.canWrite,
    cacheModeName: mode.name,
    mainCompleted: main.completed,
    verified: main.verified,
    securityError: main.securityError,
    rebuilt: main.rebuilt,
    repaired: main.repaired.length,
    exactEntryExists: main.exactEntryExists,
  };
  if (main.vendorOnly) {
    out.saved = 'nothing: the build reads vendor/ (GOFLAGS=-mod=vendor), not the module cache';
    core.info(`Not saving: ${out.saved.slice('nothing: '.length)}.`);
    return;
  }
  // The gates that need no look at the disk first (a job that may not save
  // does not pay for a scan): with nothing observed, only a gate says no.
  const gate = saveDecision({ ...base, hitKind: 'miss', missing: 0, added: 0, keyChanged: false });
  if (!gate.save) {
    out.saved = `nothing: ${gate.why}`;
    core.info(`Not saving: ${gate.why}.`);
    return;
  }
  const cur = await currentVerified(main);
  const added = cur.added + main.downloaded.length;
  const decision = saveDecision({
    ...base,
    hitKind: main.hitKind as HitKind,
    missing: cur.missing,
    added,
    keyChanged: cur.keyChanged,
  });
  if (!decision.save) {
    out.saved = `nothing: ${decision.why}`;
    core.info(`Not saving: ${decision.why}.`);
    return;
  }
  const exact = cur.keyChanged ? deriveKeys(ctx.keyParts, cur.depHash).exact! : main.exactKey;
  // An entry that replaces one (a repair, a completed or grown exact entry) is
  // always saved; a first entry for a go.sum is not, if a sibling saved one.
  const replaces =
    main.repaired.length > 0 ||
    main.rebuilt ||
    main.hitKind === 'incomplete' ||
    main.hitKind === 'exact';
  if (!replaces && (await savedMeanwhile(ctx, mode, exact))) {
    out.saved = 'nothing: an entry for this go.sum was saved while this job ran';
    core.notice(
      `An entry for this go.sum was saved while this job ran (a matrix sibling building the same ` +
        `go.sum); this job saves nothing, so the branch keeps one entry per go.sum.`,
    );
    return;
  }
  const key = replaces
    ? generationKey(exact, ctx.runId, ctx.runAttempt)
    : firstGenerationKey(exact, ctx.runId, ctx.runAttempt);
  const needed = new Set(main.neededToolchains ?? []);
  const toolchains = [...cur.toolchains].filter((t) => needed.has(t));
  if (cur.leftOut.length > 0) {
    const shown = cur.leftOut.slice(0, 10).join(', ');
    core.info(
      `Left out of the entry: ${shown}${cur.leftOut.length > 10 ? `, and ${cur.leftOut.length - 10} more` : ''} ` +
        '(not named by go.sum, not verified, or a toolchain the project no longer asks for).',
    );
  }
  const { stage, unstaged } = await stageSnapshot(main.modCache, {
    full: [...cur.full, ...toolchains],
    modOnly: [...cur.modOnly],
    zips: ctx.inputs.saveZips,
    // A toolchain goes in as its zip only when main hashed that zip (or Go
    // fetched it in this job); one first seen here had its tree checked, not its zip.
    verifiedZips: new Set([...(main.verifiedZips ?? []), ...(main.toolchainZips ?? [])]),
  });
  try {
    if (unstaged.length > 0) {
      out.saved = `nothing: ${unstaged.length} verified module versions were removed after main`;
      core.warning(
        `Not saving: ${unstaged.length} module versions main verified are no longer whole in the ` +
          `module cache (${unstaged.slice(0, 5).join(', ')}${unstaged.length > 5 ? ', ...' : ''}); ` +
          'a later step removed them, and an entry without them would be incomplete.',
      );
      return;
    }
    core.info(
      `Saving ${cur.full.size} module versions (${cur.modOnly.size} more as go.mod only` +
        `${toolchains.length ? `, toolchains ${toolchains.join(', ')}` : ''}` +
        `${ctx.inputs.saveZips ? '' : ', without zips'}) as ${key} (${decision.why}).`,
    );
    const result = await saveDirectory({ src: stage, key, timeoutMs: ctx.inputs.saveTimeoutMs });
    if (result.kind === 'saved') {
      out.saved = `\`${key}\``;
      out.savedBytes = result.archiveBytes;
      core.info(`Saved ${key}.`);
    } else if (result.kind === 'conflict') {
      out.saved = `nothing: ${key} is being saved by another job`;
      core.notice(
        `Another job is saving ${key} already (a matrix sibling); this one skips its save.`,
      );
    } else {
      out.saved = `nothing: save failed (${result.reason})`;
      core.warning(`Could not save the module cache: ${result.reason}. The job is not affected.`);
    }
  } finally {
    await removeSnapshot(stage);
  }
}

/** Did another job save an entry for this exact key after main looked? */
async function savedMeanwhile(ctx: Context, mode: CacheMode, exact: string): Promise<boolean> {
  if (!mode.canRead) return false;
  const r = await lookupEntry(exact, [], ctx.inputs.lookupTimeoutMs);
  return r.kind === 'hit';
}

function summaryRows(
  main: MainState | undefined,
  pre: PreState | undefined,
  mode: CacheMode,
): [string, string][] {
  const rows: [string, string][] = [];
  const modeLine = describeCacheMode(mode);
  if (modeLine) rows.push(['Cache mode', modeLine]);
  const dropped = main?.dropped ?? pre?.dropped;
  if (dropped) rows.push(['Dropped from the entry', describeDropped(dropped)]);
  if (!main) return rows;
  if (main.downloaded.length > 0) {
    rows.push(['Downloaded', `${main.downloaded.length} module versions`]);
  }
  for (const r of main.repaired) {
    rows.push([
      `Repaired ${r.module}`,
      r.how === 're-extract'
        ? 'tree rebuilt offline from its zip'
        : `fetched again (${r.fetchedBytes} bytes)`,
    ]);
  }
  for (const e of main.projectErrors ?? []) rows.push(['Project problem', e]);
  for (const r of main.replaced ?? []) rows.push([`replace ${r.from}`, r.note]);
  for (const d of main.vendored ?? []) {
    rows.push([
      'Vendored',
      `${d} vendors its dependencies (vendor/modules.txt): its build reads vendor/, not the module cache`,
    ]);
  }
  for (const n of main.notes) rows.push(['Note', n]);
  return rows;
}

export async function runPost(): Promise<void> {
  registerCredentialSecrets(process.env);
  const pre = readPre();
  const main = readMain();
  if (main?.mode === 'health') return;
  const timings: Record<string, number> = { ...(main?.timings ?? {}) };
  const out: { saved: string; savedBytes?: number; sections: string[] } = {
    saved: 'nothing',
    sections: [],
  };
  const mode = cacheModeFromEnv();
  try {
    if (!main) {
      out.saved = 'nothing (main did not run)';
      return;
    }
    const ctx = loadContext();
    try {
      await phase(timings, 'save (post)', () => save(ctx, main, mode, out));
    } catch (e) {
      core.warning(`post could not save the module cache: ${(e as Error).message}`);
      out.saved = `nothing: ${(e as Error).message}`;
    }
    // The build cache has its own entry: a module-cache save problem does not stop it.
    if (ctx.inputs.buildCache) {
      const report = await phase(timings, 'build cache (post)', () =>
        saveBuildCache(main.buildCache, {
          ctx,
          moduleCacheVerified: main.verified && !main.securityError,
          timeoutMs: ctx.inputs.saveTimeoutMs,
        }),
      );
      out.sections.push(buildCacheSummaryMarkdown(report));
    }
  } catch (e) {
    core.warning(`post could not save the module cache: ${(e as Error).message}`);
    out.saved = `nothing: ${(e as Error).message}`;
  } finally {
    const data: SummaryData = {
      exactKey: main?.exactKey ?? '',
      matchedKey: main?.matchedKey || pre?.matchedKey || '',
      hitKind: main?.hitKind ?? '',
      restoredBytes: main?.restoredBytes ?? pre?.archiveBytes,
      savedBytes: out.savedBytes,
      moduleCount: main?.moduleCount,
      verification: main ? verificationText(main) : 'not run',
      bad: main?.bad ?? [],
      saved: out.saved,
      timings,
      extra: summaryRows(main, pre, mode),
      sections: [...(main?.sections ?? []), ...out.sections],
    };
    try {
      await core.summary.addRaw(summaryMarkdown(data)).write();
    } catch (e) {
      core.info(`No job summary written: ${(e as Error).message}`);
    }
    await fs.rm(pre?.recordFile ?? '', { force: true }).catch(() => undefined);
    // main removes its quarantine; when it failed or never ran, nothing of it is left here.
    for (const q of [pre?.quarantine, main?.quarantine]) {
      await removeQuarantine(q).catch((e: Error) =>
        core.warning(`Could not remove the quarantine ${q}: ${e.message}`),
      );
    }
  }
}
