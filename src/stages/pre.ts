/**
 * pre: runs at job start, before checkout and before setup-go. Restores the
 * newest entry of this environment's lineage into the module cache, without
 * Go and usually without go.sum. Never fails the job for cache trouble.
 */
import * as core from '@actions/core';
import { actionsCacheBackend, type Backend } from '../cache/backend.js';
import { loadContext } from '../action/context.js';
import { preAction } from '../action/decide.js';
import { deriveKeys } from '../cache/key.js';
import { isNonEmptyDir, locateModCacheWithoutGo } from '../go/modcache.js';
import { findDependencyFiles } from '../go/project.js';
import { phase } from '../report/report.js';
import { restoreNewest } from '../cache/restore.js';
import { savePre, type PreState } from '../action/state.js';

export async function runPre(backend: Backend = actionsCacheBackend): Promise<void> {
  const started = Date.now();
  const modCache = locateModCacheWithoutGo(process.env);
  const state: PreState = { ran: true, modCache, outcome: 'miss', matchedKey: '' };
  const timings: Record<string, number> = {};
  try {
    const ctx = loadContext();
    await phase(timings, 'restore (pre)', async () => {
      if (preAction({ cacheNonEmpty: await isNonEmptyDir(modCache) }) === 'skip-nonempty') {
        state.outcome = 'skipped-nonempty';
        core.info(
          `The module cache ${modCache} is not empty: not extracting over it ` +
            '(that is what makes tar fail with "File exists"). main will verify what is there.',
        );
        return;
      }
      // go.sum is usually not on disk yet (pre runs before checkout); on a
      // self-hosted runner with a kept workspace it may be, and may be stale.
      // main re-derives the exact key either way.
      const deps = await findDependencyFiles(ctx.workingDirectory, ctx.inputs.goSumFiles);
      const plan = deriveKeys(ctx.keyParts, deps.files.length > 0 ? deps.hash : undefined);
      const primary = plan.exact ?? plan.lineage[0]!;
      const restoreKeys = plan.exact ? plan.lineage : plan.lineage.slice(1);
      core.info(`Module cache: ${modCache}`);
      const outcome = await restoreNewest(
        backend,
        modCache,
        primary,
        restoreKeys,
        ctx.inputs.lookupTimeoutMs,
      );
      state.outcome = outcome.kind;
      if (outcome.kind !== 'restored') return;
      state.matchedKey = outcome.matchedKey;
      state.archiveBytes = outcome.archiveBytes;
      core.info(`Restored ${outcome.matchedKey}; main verifies it once go.sum is on disk.`);
    });
  } catch (e) {
    const err = e as Error;
    if (err.name === 'InputError') {
      core.setFailed(err.message);
    } else {
      core.warning(
        `pre could not restore the module cache: ${err.message}. main will go on without it.`,
      );
    }
  } finally {
    state.ms = Date.now() - started;
    savePre(state);
  }
}
