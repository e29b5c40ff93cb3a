/**
 * main: once go.sum is on disk, pins the exact key, makes sure the module
 * cache is there (restoring itself when pre did not run), completes it, and
 * verifies it against go.sum and with `go mod verify`. Corruption is rebuilt
 * or fails the job; a SECURITY ERROR always fails it.
 */
import * as core from '@actions/core';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { actionsCacheBackend, type Backend } from '../cache/backend.js';
import { loadContext, samePath } from '../action/context.js';
import { mainRestoreAction, needsDownload } from '../action/decide.js';
import { classifyDownloadFailure, type BadModule } from '../go/goout.js';
import { InputError } from '../action/inputs.js';
import { classifyMatch, deriveKeys, type HitKind } from '../cache/key.js';
import {
  cachePathSpec,
  countModules,
  forceRemove,
  isNonEmptyDir,
  type CacheScan,
} from '../go/modcache.js';
import { restoreNewest } from '../cache/restore.js';
import { findDependencyFiles, moduleRoots } from '../go/project.js';
import { describeBad, phase } from '../report/report.js';
import { readPre, saveMain, type MainState } from '../action/state.js';
import { Go } from '../go/toolchain.js';
import { checkAgainstGoSum, corruptModuleList, loadSums, verifyAll } from '../verify/verify.js';

export class SecurityError extends Error {
  constructor(goMessage: string, modules: string[]) {
    super(
      `go mod download: checksum mismatch against go.sum (Go's SECURITY ERROR)` +
        `${modules.length ? ` for ${modules.join(', ')}` : ''}.\n` +
        'The module content the proxy served now is not what go.sum recorded. This is NOT cache ' +
        'corruption: the module cache was verified against go.sum before this download, so ' +
        'verified-go-cache does not "heal" it and saves nothing. Either a published version was ' +
        'changed upstream or go.sum was edited; find out which before trusting that module.\n' +
        `Go said:\n${goMessage}`,
    );
    this.name = 'SecurityError';
  }
}

class DownloadError extends Error {
  constructor(kind: 'network' | 'other', goMessage: string) {
    super(
      (kind === 'network'
        ? 'go mod download could not fetch modules (network or GOPROXY problem). Check GOPROXY, ' +
          "GOPRIVATE/GONOSUMDB and the runner's network access; the module cache is incomplete and " +
          'will not be saved.'
        : 'go mod download failed; the module cache is incomplete and will not be saved.') +
        `\nGo said:\n${goMessage}`,
    );
    this.name = 'DownloadError';
  }
}

async function download(go: Go, roots: string[]): Promise<void> {
  for (const root of roots) {
    core.info(`go mod download (in ${root})`);
    const r = await go.run(['mod', 'download'], root);
    if (r.code === 0) continue;
    const failure = classifyDownloadFailure(r.stderr);
    if (failure.kind === 'security') throw new SecurityError(failure.message, failure.modules);
    throw new DownloadError(failure.kind, failure.message);
  }
}

function reportBad(bad: BadModule[]): void {
  for (const line of describeBad(bad)) core.warning(`Corrupt module cache entry: ${line}`);
}

export async function runMain(backend: Backend = actionsCacheBackend): Promise<void> {
  const pre = readPre();
  const st: MainState = {
    completed: false,
    modCache: '',
    exactKey: '',
    matchedKey: '',
    hitKind: 'miss',
    verified: false,
    rebuilt: false,
    securityError: false,
    bad: [],
    fingerprint: '',
    moduleCount: 0,
    depHash: '',
    roots: [],
    workingDirectory: '',
    timings: {},
  };
  if (pre?.ran) {
    st.timings['pre'] = pre.ms ?? 0;
    st.restoredBytes = pre.archiveBytes;
  }
  try {
    const ctx = loadContext();
    st.workingDirectory = ctx.workingDirectory;
    if (!existsSync(ctx.workingDirectory)) {
      throw new InputError(
        'working-directory',
        `${ctx.workingDirectory} does not exist. Check out the repository before this step, or set ` +
          'working-directory to the folder that holds go.mod.',
      );
    }
    const setup = await phase(st.timings, 'key', async () => {
      const go = await Go.find();
      const goEnv = await go.env(ctx.workingDirectory);
      const modCache = goEnv.GOMODCACHE;
      st.modCache = modCache;
      core.info(`${goEnv.GOVERSION}, GOMODCACHE=${modCache}`);

      const deps = await findDependencyFiles(ctx.workingDirectory, ctx.inputs.goSumFiles);
      if (deps.files.length === 0) {
        if (!ctx.inputs.goSumFilesIsDefault) {
          throw new InputError(
            'go-sum-files',
            `no file under ${ctx.workingDirectory} matches ${ctx.inputs.goSumFiles.join(', ')}. ` +
              'Fix the globs (they are relative to working-directory), or remove the input to use ' +
              'the defaults **/go.sum and **/go.work.sum.',
          );
        }
        if (!existsSync(path.join(ctx.workingDirectory, 'go.mod'))) {
          throw new InputError(
            'working-directory',
            `no go.mod, go.sum or go.work.sum in ${ctx.workingDirectory}. Run this step after ` +
              'actions/checkout, and set working-directory to the folder of your Go module.',
          );
        }
        core.info('No go.sum: the module has no dependencies; the key uses the empty set.');
      }
      st.depHash = deps.hash;
      const plan = deriveKeys(ctx.keyParts, st.depHash);
      const exactKey = plan.exact!;
      st.exactKey = exactKey;
      st.roots = moduleRoots(ctx.workingDirectory, deps.files, goEnv.GOWORK);
      const sums = await loadSums(deps.files);
      core.info(`Exact key: ${exactKey}`);
      return { go, modCache, exactKey, plan, sums };
    });
    const { go, modCache, exactKey, plan, sums } = setup;

    let kind: HitKind = 'miss';
    await phase(st.timings, 'restore (main)', async () => {
      const action = mainRestoreAction({
        preRan: pre?.ran === true,
        preModCache: pre?.modCache ?? '',
        goModCache: modCache,
        cacheNonEmpty: await isNonEmptyDir(modCache),
        samePath,
      });
      if (action === 'use-pre') {
        if (pre!.outcome === 'restored') {
          st.matchedKey = pre!.matchedKey;
          kind = classifyMatch(exactKey, pre!.matchedKey);
        } else if (pre!.outcome === 'skipped-nonempty') {
          kind = 'local';
        }
        core.info(`pre: ${pre!.outcome}${pre!.matchedKey ? ` (${pre!.matchedKey})` : ''}`);
      } else if (action === 'use-local') {
        kind = 'local';
        core.info(`${modCache} already holds modules; verifying them instead of restoring.`);
      } else {
        core.info(
          pre?.ran
            ? `pre restored into ${pre.modCache}; Go uses ${modCache}.`
            : 'pre did not run (a local action, uses: ./); restoring here.',
        );
        const outcome = await restoreNewest(
          backend,
          modCache,
          exactKey,
          plan.lineage,
          ctx.inputs.lookupTimeoutMs,
        );
        if (outcome.kind === 'restored') {
          st.matchedKey = outcome.matchedKey;
          st.restoredBytes = outcome.archiveBytes;
          kind = classifyMatch(exactKey, outcome.matchedKey);
        }
      }
      if (kind === 'local' && backend.available()) {
        const exact = await backend.lookup(
          [cachePathSpec(modCache)],
          exactKey,
          [],
          ctx.inputs.lookupTimeoutMs,
        );
        st.exactEntryExists = exact.kind === 'hit';
      }
      st.hitKind = kind;
      core.info(`Hit kind: ${kind}${st.matchedKey ? ` (matched ${st.matchedKey})` : ''}`);
    });

    let bad: BadModule[] = [];
    // The cache as verified last: its scan gives post the fingerprint, so the
    // module cache is walked once per verification, not once more at the end.
    let verified: CacheScan | undefined;
    await phase(st.timings, 'verify', async () => {
      if (!needsDownload(kind)) {
        // Nothing will be downloaded: both halves read the cache as restored.
        const outcome = await verifyAll(go, modCache, st.roots, sums);
        ({ bad } = outcome);
        verified = outcome.scan;
        core.info(
          `${outcome.scan.versions.length} cached versions: ` +
            (bad.length === 0 ? 'go.sum comparison and go mod verify passed' : `${bad.length} bad`),
        );
        return;
      }
      // The go.sum comparison comes before any download: afterwards, a mismatch
      // Go reports can only be about fresh content (a real SECURITY ERROR).
      const first = await checkAgainstGoSum(modCache, sums);
      bad = first.bad;
      core.info(
        `go.sum comparison: ${first.scan.versions.length} cached versions, ${bad.length} bad`,
      );
      if (bad.length > 0) return;
      const startedEmpty = first.scan.versions.length === 0;
      await download(go, st.roots);
      if (startedEmpty) {
        // Every module was just downloaded, and Go checked each zip against
        // go.sum before writing it and extracted the tree from that zip. Running
        // go mod verify now would hash the same bytes again; the go.sum
        // comparison confirms what landed on disk.
        const after = await checkAgainstGoSum(modCache, sums);
        ({ bad } = after);
        verified = after.scan;
        st.freshOnly = true;
        core.info(
          `All ${after.scan.versions.length} module versions were downloaded fresh and checked ` +
            `against go.sum by Go; go.sum comparison after download: ${bad.length} bad.`,
        );
        return;
      }
      const outcome = await verifyAll(go, modCache, st.roots, sums);
      ({ bad } = outcome);
      verified = outcome.scan;
      core.info(bad.length === 0 ? 'go mod verify: all modules verified' : `${bad.length} bad`);
    });

    if (bad.length > 0) {
      st.bad = bad;
      reportBad(bad);
      if (ctx.inputs.onCorruption === 'fail') {
        throw new Error(
          `The module cache failed verification (${corruptModuleList(bad)}) and on-corruption is ` +
            "'fail'. Nothing will be saved. Use 'on-corruption: rebuild' to heal it automatically.",
        );
      }
      await phase(st.timings, 'rebuild', async () => {
        core.info('go clean -modcache');
        const clean = await go.run(['clean', '-modcache'], ctx.workingDirectory);
        if (clean.code !== 0) {
          core.warning(`go clean -modcache failed (${clean.stderr.trim()}); removing it directly.`);
        }
        await forceRemove(modCache);
        await download(go, st.roots);
        const again = await verifyAll(go, modCache, st.roots, sums);
        if (!again.ok) {
          reportBad(again.bad);
          throw new Error(
            `The module cache is still corrupt after a rebuild: ${describeBad(again.bad).join('; ')}`,
          );
        }
        verified = again.scan;
        st.rebuilt = true;
        core.info(`Rebuilt and verified; post saves it as a new generation of ${exactKey}.`);
      });
    }

    st.fingerprint = verified!.fingerprint;
    st.moduleCount = countModules(verified!);
    st.verified = true;
    st.completed = true;
  } catch (e) {
    const err = e as Error;
    if (err instanceof SecurityError) st.securityError = true;
    core.setFailed(err.message);
  } finally {
    core.setOutput('cache-hit', String(st.hitKind === 'exact'));
    core.setOutput('cache-key', st.exactKey);
    core.setOutput('cache-matched-key', st.matchedKey);
    core.setOutput('hit-kind', st.hitKind);
    core.setOutput('verified', String(st.verified));
    core.setOutput('rebuilt', String(st.rebuilt));
    core.setOutput('corrupt-modules', corruptModuleList(st.bad));
    core.setOutput('module-count', String(st.moduleCount));
    saveMain(st);
  }
}
