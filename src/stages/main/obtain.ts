/**
 * main's restore phases: the entry pre left in its quarantine, or one main
 * restores itself (pre does not run for `uses: ./`), or the module cache found
 * on the runner; then, after a lineage or local hit, converging on the exact
 * entry when one exists.
 */
import * as core from '@actions/core';
import { promises as fs } from 'node:fs';
import { type Context } from '../../action/context.js';
import { samePath } from '../../go/paths.js';
import { convergeAction, mainRestoreAction } from '../../action/decide.js';
import { type MainState, type PreState } from '../../action/state.js';
import { type ExtractRecord } from '../../verify/record.js';
import { lookupEntry } from '../../cache/entry.js';
import { restoreEntry } from '../../restore/restore.js';
import { quarantineFor, removeQuarantine } from '../../restore/quarantine.js';
import { classifyMatch } from '../../cache/key.js';
import { type CacheMode } from '../../cache/mode.js';
import { isNonEmptyDir } from '../../go/modcache.js';
import { recordFromDisk } from '../../verify/scan.js';
import { factsFromRecord } from '../../verify/facts.js';
import { judge } from '../../verify/judge.js';
import { Obtained, Setup } from './setup.js';

export async function readRecordFile(file: string | undefined): Promise<ExtractRecord | undefined> {
  if (!file) return undefined;
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as ExtractRecord;
  } catch {
    return undefined;
  }
}
export async function restoreHere(
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
export async function obtain(
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
export async function exactEntryExists(ctx: Context, s: Setup, mode: CacheMode): Promise<boolean> {
  if (!mode.canRead) return false;
  const r = await lookupEntry(s.exactKey, [], ctx.inputs.lookupTimeoutMs);
  return r.kind === 'hit';
}
/** Phase 4 (only after a lineage or local hit): converge on the exact entry when it exists. */
export async function converge(
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
