/**
 * The action under nektos/act (issue 9, point 1): real workflow files, run in
 * host mode, with act's own cache service, the action referenced as a
 * published one so act runs pre, and a Go module served from a local file://
 * proxy. Each "run" is a fresh runner: its own HOME (empty module cache) and
 * its own workspace, laid out like a hosted runner (/home/runner with the
 * workspace under /home/runner/work).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateModules, goEnv, publish, writeProject } from '../e2e/harness/goproxy.js';
import { REPO_ROOT } from '../e2e/harness/runner.js';
import {
  archiveMembers,
  corruptArchiveMember,
  listEntries,
  readMember,
  readMemberBytes,
  withZipFile,
  zipFileText,
  type ActCacheEntry,
} from './harness/actcache.js';
import {
  ensureAct,
  makeRepo,
  publishAction,
  runAct,
  skipReason,
  type ActRun,
} from './harness/act.js';

const FIXTURES = path.join(REPO_ROOT, 'test', 'act', 'fixtures');
const REMOTE_STEP = 'example/verified-go-cache@v1';
/** 4 generated modules plus the three special ones (upper case, +incompatible, pseudo-version). */
const PLAIN = 4;
const MODULES = PLAIN + 3;

const reason = skipReason('act scenarios');
if (reason) console.log(reason);

let act = '';
let root = '';
let proxyDir = '';
let project = '';
let actionDir = '';
let runIds = 100;

beforeAll(() => {
  if (reason) return;
  act = ensureAct();
  root = mkdtempSync(path.join(os.tmpdir(), 'vgc-act-'));
  proxyDir = path.join(root, 'proxy');
  const set = generateModules(PLAIN);
  for (const v of set.versions) publish(proxyDir, v);
  const requires: Record<string, string> = { ...set.special };
  for (const p of set.plain) requires[p] = 'v1.0.0';
  project = path.join(root, 'project');
  writeProject(project, 'example.com/app', requires, goEnv(proxyDir, path.join(root, 'tool')));
  actionDir = publishAction(path.join(root, 'published-action'));
}, 600_000);

afterAll(() => {
  if (!root || process.env['VGC_KEEP_ACT'] === '1') return;
  execFileSync('chmod', ['-R', 'u+w', root]);
  rmSync(root, { recursive: true, force: true });
});

interface RunOptions {
  workflow?: 'remote.yml' | 'local.yml';
  /** Build with GOPROXY=off after the action: any download fails the job. */
  offline?: boolean;
  /** Put this run's workspace this many directories deeper than the usual one. */
  deeper?: number;
  noCacheServer?: boolean;
  /** Run the step between pre and main, which records what it sees in `<outputs>.between`. */
  between?: boolean;
}

type Run = ActRun & { home: string; modCache: string; between: string };

/** One repository and one act cache service, run again and again on fresh runners. */
class Scenario {
  readonly dir: string;
  readonly repo: string;
  readonly cacheDir: string;
  private runs = 0;

  constructor(name: string, branch: string, withLocalAction = false) {
    this.dir = path.join(root, name);
    this.repo = path.join(this.dir, 'repo');
    this.cacheDir = path.join(this.dir, 'actcache');
    cpSync(project, this.repo, { recursive: true });
    if (withLocalAction) {
      cpSync(path.join(actionDir, 'action.yml'), path.join(this.repo, 'action.yml'));
      cpSync(path.join(actionDir, 'dist'), path.join(this.repo, 'dist'), { recursive: true });
    }
    makeRepo(this.repo, branch, {
      'remote.yml': readFileSync(path.join(FIXTURES, 'remote.yml'), 'utf8'),
      'local.yml': readFileSync(path.join(FIXTURES, 'local.yml'), 'utf8'),
    });
  }

  /** Runs the workflow on a fresh runner: `runner-N/home`, workspace under `home/work`. */
  async run(o: RunOptions = {}): Promise<Run> {
    const n = ++this.runs;
    const home = path.join(this.dir, `runner-${n}`, 'home');
    const work = path.join(
      home,
      'work',
      ...Array.from({ length: o.deeper ?? 0 }, (_, i) => `deeper${i}`),
    );
    mkdirSync(work, { recursive: true });
    const r = await runAct({
      act,
      repo: this.repo,
      workflow: `.github/workflows/${o.workflow ?? 'remote.yml'}`,
      home,
      actionCachePath: work,
      cacheServerPath: this.cacheDir,
      noCacheServer: o.noCacheServer,
      actionDir,
      runId: ++runIds,
      outputsFile: path.join(this.dir, `runner-${n}`, 'outputs.json'),
      env: {
        GOPROXY: pathToFileURL(proxyDir).href,
        GOSUMDB: 'off',
        GOTOOLCHAIN: 'local',
        GOFLAGS: '',
        // Go's build cache is not under test (build-cache is off): sharing it spares
        // every offline build from compiling the standard library again.
        GOCACHE: path.join(root, 'go-build'),
        VGC_BUILD_OFFLINE: o.offline ? 'true' : 'false',
        VGC_BETWEEN: o.between ? 'true' : 'false',
      },
    });
    const between = path.join(this.dir, `runner-${n}`, 'outputs.json.between');
    return { ...r, home, modCache: path.join(home, 'go', 'pkg', 'mod'), between };
  }

  entries(): ActCacheEntry[] {
    return listEntries(this.cacheDir);
  }
}

/** Result of each stage of the action's step, e.g. { Pre: 'success', Main: 'success', Post: 'success' }. */
function stages(r: ActRun, step: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of r.steps) if (s.step === step) out[s.stage] = s.result;
  return out;
}

function resultOf(r: ActRun, step: string): string | undefined {
  return r.steps.find((s) => s.step === step && s.stage === 'Main')?.result;
}

/** The log of a run, for assertion messages. */
function why(r: ActRun): string {
  const notes = r.annotations.map((a) => `${a.stage} ${a.level}: ${a.message}`).join('\n');
  return `act exit ${r.code}\n${notes}\n${r.output.slice(-6000)}`;
}

/** Keys compared as act stores them (lower-cased). */
const lower = (s: string | undefined): string => (s ?? '').toLowerCase();

/**
 * Files of module m000@v1.0.0 in an archive: the entry really holds the module
 * cache (a module travels as its zip, from which the restore writes its tree).
 */
function holdsModules(e: ActCacheEntry): boolean {
  const zip = 'cache/download/example.com/m000/@v/v1.0.0.zip';
  if (!archiveMembers(e.file).some((m) => m === zip || m.endsWith(`/${zip}`))) return false;
  const text = zipFileText(readMemberBytes(e.file, zip)!, 'example.com/m000@v1.0.0/m000.go');
  return text?.startsWith('package m000') ?? false;
}

describe.skipIf(reason !== undefined)('verified-go-cache under nektos/act (host mode)', () => {
  it('a step between pre and main sees an empty module cache; main then proves and promotes the entry', async () => {
    const s = new Scenario('between', 'main');
    const cold = await s.run();
    expect(cold.code, why(cold)).toBe(0);
    const warm = await s.run({ between: true, offline: true });
    expect(warm.code, why(warm)).toBe(0);
    expect(stages(warm, REMOTE_STEP)).toEqual({ Pre: 'success', Main: 'success', Post: 'success' });
    const seen = readFileSync(warm.between, 'utf8');
    expect(seen).toContain('files=0');
    expect(seen).toContain('module lookup disabled by GOPROXY=off');
    expect(seen).toContain('go list exit 1');
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.outputs['verified']).toBe('true');
    expect(existsSync(path.join(warm.modCache, 'example.com', 'm000@v1.0.0', 'm000.go'))).toBe(
      true,
    );
    expect(existsSync(path.join(warm.home, 'go', 'pkg', '.verified-go-cache-quarantine'))).toBe(
      false,
    );
  });

  it('cold job saves one verified entry; a warm job is an exact hit that builds with GOPROXY=off', async () => {
    const s = new Scenario('cold-warm', 'main');
    const cold = await s.run();
    expect(cold.code, why(cold)).toBe(0);
    expect(stages(cold, REMOTE_STEP)).toEqual({
      Pre: 'success',
      Main: 'success',
      Post: 'success',
    });
    expect(cold.outputs['hit-kind']).toBe('miss');
    expect(cold.outputs['cache-hit']).toBe('false');
    expect(cold.outputs['verified']).toBe('true');
    expect(cold.outputs['module-count']).toBe(String(MODULES));
    const saved = s.entries();
    expect(saved).toHaveLength(1);
    expect(lower(saved[0]!.key).startsWith(lower(cold.outputs['cache-key']))).toBe(true);
    expect(holdsModules(saved[0]!)).toBe(true);

    const warm = await s.run({ offline: true });
    expect(warm.code, why(warm)).toBe(0);
    expect(stages(warm, REMOTE_STEP)).toEqual({
      Pre: 'success',
      Main: 'success',
      Post: 'success',
    });
    expect(resultOf(warm, 'build without the network'), why(warm)).toBe('success');
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.outputs['cache-hit']).toBe('true');
    expect(lower(warm.outputs['cache-matched-key'])).toBe(lower(saved[0]!.key));
    expect(warm.outputs['verified']).toBe('true');
    expect(warm.outputs['module-count']).toBe(String(MODULES));
    // pre put the modules where Go looks for them, before checkout.
    expect(existsSync(path.join(warm.modCache, 'example.com', 'm000@v1.0.0', 'm000.go'))).toBe(
      true,
    );
    expect(s.entries().map((e) => e.id)).toEqual(saved.map((e) => e.id));
  });

  it('a stored entry with one changed file is caught and repaired; the next job restores the clean entry', async () => {
    const s = new Scenario('corrupt', 'main');
    const cold = await s.run();
    expect(cold.code, why(cold)).toBe(0);
    const [planted] = s.entries();
    expect(planted, why(cold)).toBeDefined();
    // Entries hold a module as its zip (the restore writes the tree from it):
    // the changed file is inside the zip, as a poisoned entry would carry it.
    const zipMember = 'cache/download/example.com/m001/@v/v1.0.0.zip';
    const file = 'example.com/m001@v1.0.0/m001.go';
    const fileIn = (entry: string) => zipFileText(readMemberBytes(entry, zipMember)!, file);
    corruptArchiveMember(
      planted!.file,
      zipMember,
      withZipFile(file, 'package m001\n\nfunc F() int { return 666 }\n'),
    );

    const healing = await s.run({ offline: true });
    expect(healing.code, why(healing)).toBe(0);
    expect(stages(healing, REMOTE_STEP)).toEqual({
      Pre: 'success',
      Main: 'success',
      Post: 'success',
    });
    expect(healing.outputs['corrupt-modules'], why(healing)).toContain('example.com/m001@v1.0.0');
    expect(healing.outputs['rebuilt']).toBe('true');
    expect(healing.outputs['verified']).toBe('true');
    expect(resultOf(healing, 'build without the network'), why(healing)).toBe('success');
    const after = s.entries();
    expect(after.length, why(healing)).toBeGreaterThan(1);
    const repaired = after[after.length - 1]!;
    expect(repaired.id).not.toBe(planted!.id);
    // The service now holds the tampered entry (entries are immutable) and a clean one.
    expect(fileIn(planted!.file)).toContain('666');
    expect(fileIn(repaired.file)).toMatch(/^package m001\b/);
    expect(fileIn(repaired.file)).not.toContain('666');
    expect(readMember(repaired.file, file), 'the tree travels as the zip').toBeUndefined();

    const next = await s.run({ offline: true });
    expect(next.code, why(next)).toBe(0);
    expect(next.outputs['hit-kind']).toBe('exact');
    expect(lower(next.outputs['cache-matched-key'])).toBe(lower(repaired.key));
    expect(next.outputs['corrupt-modules']).toBe('');
    expect(next.outputs['rebuilt']).toBe('false');
    expect(next.outputs['verified']).toBe('true');
    expect(resultOf(next, 'build without the network'), why(next)).toBe('success');
    const tree = path.join(next.modCache, 'example.com', 'm001@v1.0.0', 'm001.go');
    expect(readFileSync(tree, 'utf8')).not.toContain('666');
  });

  it('uses: ./ (pre skipped): main restores alone', async () => {
    const s = new Scenario('local', 'main', true);
    const cold = await s.run({ workflow: 'local.yml' });
    expect(cold.code, why(cold)).toBe(0);
    expect(
      cold.steps.some((st) => st.stage === 'Pre'),
      why(cold),
    ).toBe(false);
    expect(cold.outputs['hit-kind']).toBe('miss');
    expect(cold.outputs['verified']).toBe('true');
    expect(s.entries()).toHaveLength(1);

    const warm = await s.run({ workflow: 'local.yml', offline: true });
    expect(warm.code, why(warm)).toBe(0);
    expect(warm.steps.some((st) => st.stage === 'Pre')).toBe(false);
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.outputs['cache-hit']).toBe('true');
    expect(warm.outputs['verified']).toBe('true');
    expect(warm.outputs['module-count']).toBe(String(MODULES));
    expect(resultOf(warm, 'build without the network'), why(warm)).toBe('success');
    expect(s.entries()).toHaveLength(1);
  });

  it('a branch with capital letters: exact hits from the second run on, one entry in all', async () => {
    const s = new Scenario('capitals', 'Feature/Upper-Case');
    const first = await s.run();
    expect(first.code, why(first)).toBe(0);
    expect(first.outputs['hit-kind']).toBe('miss');
    expect(s.entries()).toHaveLength(1);
    for (let i = 2; i <= 3; i++) {
      const r = await s.run({ offline: true });
      expect(r.code, why(r)).toBe(0);
      expect(r.outputs['hit-kind'], `run ${i}\n${why(r)}`).toBe('exact');
      expect(r.outputs['cache-hit'], `run ${i}`).toBe('true');
      expect(r.outputs['verified'], `run ${i}`).toBe('true');
      expect(resultOf(r, 'build without the network'), why(r)).toBe('success');
      expect(
        s.entries().map((e) => e.key),
        `run ${i} saved another entry`,
      ).toHaveLength(1);
    }
  });

  it('a job whose workspace is deeper than the saving job’s never saves an empty "verified" cache', async () => {
    const s = new Scenario('deeper', 'main');
    const cold = await s.run();
    expect(cold.code, why(cold)).toBe(0);
    const deep = await s.run({ deeper: 2, offline: true });
    expect(deep.code, why(deep)).toBe(0);
    expect(deep.outputs['hit-kind'], why(deep)).toBe('exact');
    // A verified cache is the whole build list, never an empty directory.
    expect(deep.outputs['verified'], why(deep)).toBe('true');
    expect(deep.outputs['module-count'], why(deep)).toBe(String(MODULES));
    expect(resultOf(deep, 'build without the network'), why(deep)).toBe('success');
    expect(existsSync(path.join(deep.modCache, 'example.com', 'm000@v1.0.0', 'm000.go'))).toBe(
      true,
    );
    for (const e of s.entries()) expect(holdsModules(e), `entry ${e.key}`).toBe(true);
  });

  it('no cache service (--no-cache-server): a warning and a green job', async () => {
    const s = new Scenario('no-service', 'main');
    const r = await s.run({ noCacheServer: true });
    expect(r.code, why(r)).toBe(0);
    expect(stages(r, REMOTE_STEP)).toEqual({ Pre: 'success', Main: 'success', Post: 'success' });
    const warnings = r.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
    expect(warnings.join('\n'), why(r)).toMatch(/cache service/i);
    expect(r.annotations.filter((a) => a.level === 'error')).toEqual([]);
    expect(r.outputs['verified']).toBe('true');
    expect(r.outputs['hit-kind']).toBe('miss');
    expect(existsSync(s.cacheDir)).toBe(false);
  });
});
