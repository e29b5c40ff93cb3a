/**
 * pre: runs at job start, before checkout and before setup-go. Restores the
 * newest entry of this environment's lineage into a quarantine beside the
 * module cache (src/restore/quarantine.ts), never into the module cache
 * itself, without Go and usually without go.sum, hashing every module as it is
 * extracted so that main only has to compare those hashes with go.sum before
 * it moves what they prove into place. Steps between pre and main see the
 * module cache as it was. Never fails the job for cache trouble.
 */
import * as core from '@actions/core';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadContext, type Context } from '../action/context.js';
import { preAction } from '../action/decide.js';
import { savePre, type PreState } from '../action/state.js';
import { describeDropped } from '../report/report.js';
import { quarantineFor, removeQuarantine } from '../restore/quarantine.js';
import { restoreEntry } from '../restore/restore.js';
import { deriveKeys } from '../cache/key.js';
import { cacheModeFromEnv } from '../cache/mode.js';
import { isNonEmptyDir } from '../go/modcache.js';
import { locateModCacheWithoutGo } from '../go/paths.js';
import { phase } from '../report/report.js';
import { registerCredentialSecrets } from '../action/secrets.js';
import { goflagsMod } from '../go/vendor.js';

async function writeRecord(record: unknown): Promise<string> {
  const dir = path.join(process.env['RUNNER_TEMP'] || os.tmpdir(), 'verified-go-cache');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `record-${process.pid}-${Date.now()}.json`);
  await fs.writeFile(file, JSON.stringify(record));
  return file;
}

async function restore(ctx: Context, state: PreState): Promise<void> {
  const mode = cacheModeFromEnv();
  if (!mode.canRead) {
    state.outcome = 'mode';
    core.info(`Cache mode '${mode.name}': no restore.`);
    return;
  }
  if (preAction({ cacheNonEmpty: await isNonEmptyDir(state.modCache) }) === 'skip-nonempty') {
    state.outcome = 'skipped-nonempty';
    core.info(
      `The module cache ${state.modCache} is not empty: not extracting over it. main verifies ` +
        'what is there.',
    );
    return;
  }
  // go.sum is not on disk yet (pre runs before checkout): the newest entry of
  // the lineage is restored, and main pins the exact key once it can.
  const plan = deriveKeys(ctx.keyParts);
  core.info(`Module cache: ${state.modCache}`);
  core.info(`Looking up ${plan.lineage.join(', then ')}`);
  const quarantine = quarantineFor(state.modCache);
  const r = await restoreEntry({
    dest: quarantine,
    primaryKey: plan.lineage[0]!,
    restoreKeys: plan.lineage.slice(1),
    lookupTimeoutMs: ctx.inputs.lookupTimeoutMs,
    hash: true,
  });
  state.outcome = r.kind;
  if (r.kind !== 'restored') await removeQuarantine(quarantine);
  switch (r.kind) {
    case 'restored':
      state.matchedKey = r.matchedKey;
      state.archiveBytes = r.archiveBytes;
      state.recordFile = await writeRecord(r.record);
      state.quarantine = quarantine;
      if (r.record?.dropped) state.dropped = r.record.dropped;
      core.info(
        `Restored ${r.matchedKey} (${r.archiveBytes} bytes, ${r.record?.modules.length ?? 0} ` +
          `module versions hashed while extracting) in ${r.ms} ms into the quarantine ` +
          `${quarantine}; main compares them with go.sum and moves what it proves into place.`,
      );
      if (r.record?.dropped) core.info(`The entry ${describeDropped(r.record.dropped)}.`);
      return;
    case 'rejected':
      core.warning(
        `Rejected cache entry ${r.matchedKey}: ${r.reason}. Nothing of it was kept; the job goes ` +
          "on as a miss. Only a workflow writing to this repository's cache outside " +
          'verified-go-cache can create such an entry.',
      );
      return;
    case 'miss':
      core.info('No entry for this environment yet.');
      return;
    case 'denied':
      core.info(`Not restoring: ${r.reason}.`);
      return;
    case 'failed':
      core.warning(
        `Restoring ${r.matchedKey} failed (${r.reason}); removed what was extracted and going ` +
          'on without a cache.',
      );
      return;
    case 'unavailable':
      core.warning(`Cache service unavailable (${r.reason}); going on without a cache.`);
      return;
  }
}

export async function runPre(): Promise<void> {
  registerCredentialSecrets(process.env);
  const started = Date.now();
  const modCache = locateModCacheWithoutGo(process.env);
  const state: PreState = { ran: true, modCache, outcome: 'miss', matchedKey: '' };
  const timings: Record<string, number> = {};
  try {
    const ctx = loadContext();
    if (ctx.inputs.mode === 'health') {
      state.outcome = 'health';
      return;
    }
    if (goflagsMod(process.env['GOFLAGS'] ?? '') === 'vendor') {
      // The build reads vendor/; main checks that every module in scope vendors.
      // ran=false: if not every module vendors after all, main restores as if pre had not run.
      state.ran = false;
      state.outcome = 'skipped-vendor';
      core.info('GOFLAGS=-mod=vendor: not restoring the module cache before checkout.');
      return;
    }
    await phase(timings, 'restore (pre)', () => restore(ctx, state));
  } catch (e) {
    const err = e as Error;
    if (err.name === 'InputError') core.setFailed(err.message);
    else
      core.warning(
        `pre could not restore the module cache: ${err.message}. main goes on without it.`,
      );
  } finally {
    state.ms = Date.now() - started;
    savePre(state);
  }
}
