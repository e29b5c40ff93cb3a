/**
 * post: saves the module cache when it is verified and worth saving, and
 * writes the job summary. Runs even when the job failed (post-if: always()),
 * and then saves nothing that main did not verify.
 */
import * as core from '@actions/core';
import { actionsCacheBackend, describeUnavailable, type Backend } from '../cache/backend.js';
import { loadContext } from '../action/context.js';
import { saveDecision } from '../action/decide.js';
import { deriveKeys, generationKey } from '../cache/key.js';
import {
  applyPrune,
  cachePathSpec,
  countModules,
  planPrune,
  scanModCache,
  type CacheScan,
} from '../go/modcache.js';
import { findDependencyFiles } from '../go/project.js';
import { phase, summaryMarkdown, type SummaryData } from '../report/report.js';
import { readMain, readPre } from '../action/state.js';
import { Go } from '../go/toolchain.js';
import { corruptModuleList, loadSums, verifyAll } from '../verify/verify.js';

function verificationText(m: NonNullable<ReturnType<typeof readMain>>): string {
  if (m.securityError) return 'FAILED: go.sum checksum mismatch on download (SECURITY ERROR)';
  if (m.rebuilt) return `corrupt (${m.bad.length} problems), rebuilt and verified`;
  if (m.verified && m.freshOnly) {
    return 'passed (fresh downloads checked against go.sum by Go + go.sum comparison)';
  }
  if (m.verified) return 'passed (go.sum comparison + go mod verify)';
  if (m.bad.length > 0) return `FAILED: ${corruptModuleList(m.bad)}`;
  return 'not completed';
}

export async function runPost(backend: Backend = actionsCacheBackend): Promise<void> {
  const pre = readPre();
  const main = readMain();
  const timings: Record<string, number> = { ...(main?.timings ?? {}) };
  let saved = 'nothing';
  let savedBytes: number | undefined;
  let pruned: number | undefined;
  try {
    if (!main) {
      saved = 'nothing (main did not run)';
      return;
    }
    const ctx = loadContext();
    await phase(timings, 'save (post)', async () => {
      let changedAfterMain = false;
      let keyChanged = false;
      let reverified: boolean | undefined;
      let exactKey = main.exactKey;
      // What post looks at once: the module cache, the dependency files and,
      // only when re-verifying or pruning needs them, their hashes.
      let current: { scan: CacheScan; sums: () => Promise<Map<string, string>> } | undefined;
      if (main.completed && main.verified) {
        const scan = await scanModCache(main.modCache);
        const deps = await findDependencyFiles(main.workingDirectory, ctx.inputs.goSumFiles);
        let sums: Map<string, string> | undefined;
        current = { scan, sums: async () => (sums ??= await loadSums(deps.files)) };
        changedAfterMain = scan.fingerprint !== main.fingerprint;
        keyChanged = deps.hash !== main.depHash;
        if (changedAfterMain || keyChanged) {
          core.info(
            `The module cache ${changedAfterMain ? `changed after main (${countModules(scan)} modules now)` : 'is unchanged'}` +
              `${keyChanged ? ' and go.sum changed' : ''}; verifying again before saving.`,
          );
          const go = await Go.tryFind();
          if (go) {
            const outcome = await verifyAll(go, main.modCache, main.roots, await current.sums());
            reverified = outcome.ok;
            for (const b of outcome.bad) core.warning(`Not saving: ${b.module}: ${b.reason}`);
          } else {
            core.info('Go is no longer on PATH; cannot verify the new modules.');
          }
          if (keyChanged) exactKey = deriveKeys(ctx.keyParts, deps.hash).exact!;
        }
      }
      const decision = saveDecision({
        save: ctx.inputs.save,
        mainCompleted: main.completed,
        verified: main.verified,
        securityError: main.securityError,
        hitKind: main.hitKind as 'exact' | 'lineage' | 'local' | 'miss',
        rebuilt: main.rebuilt,
        changedAfterMain,
        reverified,
        exactEntryExists: main.exactEntryExists,
        keyChanged,
      });
      if (!decision.save) {
        saved = `nothing: ${decision.why}`;
        core.info(`Not saving: ${decision.why}.`);
        return;
      }
      if (!backend.available()) {
        saved = 'nothing: cache service unavailable';
        core.warning(describeUnavailable('no cache service URL in this job'));
        return;
      }
      // A save needs main's verification, so `current` is there; nothing touched
      // the cache since it was scanned.
      if (ctx.inputs.prune && current) {
        const items = planPrune(current.scan, await current.sums());
        if (items.length > 0) {
          await applyPrune(main.modCache, items);
          core.info(
            `Pruned ${items.length} module versions that go.sum no longer needs ` +
              `(${items.filter((i) => i.drop === 'zip').length} kept as go.mod only).`,
          );
        }
        pruned = items.length;
      }
      const key = generationKey(exactKey, ctx.runId, ctx.runAttempt);
      core.info(`Saving ${main.modCache} as ${key} (${decision.why}).`);
      const result = await backend.save(
        [cachePathSpec(main.modCache)],
        key,
        ctx.inputs.saveTimeoutMs,
      );
      if (result.kind === 'saved') {
        saved = `\`${key}\``;
        savedBytes = result.archiveBytes;
        core.info(`Saved ${key}.`);
      } else if (result.kind === 'conflict') {
        saved = `nothing: ${key} is being saved by another job`;
        core.notice(
          `Another job is saving ${key} already (a matrix sibling); this one skips its save.`,
        );
      } else {
        saved = `nothing: save failed (${result.reason})`;
        core.warning(`Could not save the module cache: ${result.reason}. The job is not affected.`);
      }
    });
  } catch (e) {
    core.warning(`post could not save the module cache: ${(e as Error).message}`);
    saved = `nothing: ${(e as Error).message}`;
  } finally {
    const data: SummaryData = {
      exactKey: main?.exactKey ?? '',
      matchedKey: main?.matchedKey || pre?.matchedKey || '',
      hitKind: main?.hitKind ?? '',
      restoredBytes: main?.restoredBytes ?? pre?.archiveBytes,
      savedBytes,
      moduleCount: main?.moduleCount,
      verification: main ? verificationText(main) : 'not run',
      bad: main?.bad ?? [],
      saved: pruned ? `${saved} (pruned ${pruned} stale module versions first)` : saved,
      timings,
    };
    try {
      await core.summary.addRaw(summaryMarkdown(data)).write();
    } catch (e) {
      core.info(`No job summary written: ${(e as Error).message}`);
    }
  }
}
