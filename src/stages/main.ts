/**
 * main: once the project is on disk, pins the exact key, makes sure the entry
 * is there (restoring it into a quarantine itself when pre did not run),
 * judges it against go.sum module by module, and moves only what go.sum proves
 * into the module cache (src/restore/quarantine.ts); then makes the module
 * cache complete. A bad module is repaired on its own; a project problem is
 * reported as one and never "repaired"; a SECURITY ERROR always fails the step.
 *
 * This file reads as the stage's phases; each lives in ./main/: setup.ts
 * (project and keys), obtain.ts (restore, converge), prove.ts (promote,
 * verify, repair, download).
 */
import * as core from '@actions/core';
import { loadContext } from '../action/context.js';
import { readPre, saveMain, type MainState, type PreState } from '../action/state.js';
import { removeQuarantine } from '../restore/quarantine.js';
import { cacheModeFromEnv } from '../cache/mode.js';
import { phase } from '../report/report.js';
import { driftMarkdown } from '../report/drift.js';
import { corruptModuleList } from '../verify/verify.js';
import { runHealth } from './health.js';
import { registerCredentialSecrets } from '../action/secrets.js';
import { restoreBuildCache, type BuildCacheState } from '../buildcache/buildcache.js';
import { checkDrift } from './drift.js';
import { GoCommandError, SecurityError, locate, skipForVendor } from './main/setup.js';
import { converge, obtain } from './main/obtain.js';
import { admit, prove, withRestoredHashes } from './main/prove.js';

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
    const { judgement, fingerprint } = await phase(st.timings, 'verify', () =>
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
    st.fingerprint = fingerprint;
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
