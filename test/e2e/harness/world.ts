/**
 * One test world: a hermetic module proxy, a sample project, a local cache
 * service, and a way to run jobs (each on a fresh "runner": its own HOME and
 * so its own empty module cache, unless told otherwise).
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { escapeModulePath } from '../../../src/go/gosum.js';
import { placeOf } from '../../../src/go/layout.js';
import { CacheServer, type Protocol } from './cache-server.js';
import { generateModules, goEnv, publish, writeProject, type GeneratedSet } from './goproxy.js';
import { REPO_ROOT, runJob, type JobOptions, type JobResult } from './runner.js';

const execFileAsync = promisify(execFile);

/** The module cache as the action names it to the cache client. */
export const MODCACHE_SPEC = `~${path.sep}go${path.sep}pkg${path.sep}mod`;

export const GO_BIN = path.join(
  execFileSync('go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim(),
  'bin',
);

export interface WorldOptions {
  /** How many plain modules to generate (ignored with `existing`). */
  modules: number;
  /** Filler bytes per generated module version, for a realistic size. */
  payloadBytes?: number;
  /** Use an existing file:// proxy and project instead of generating them (the real workload). */
  existing?: { proxyDir: string; project: string };
  root?: string;
  /**
   * The cache protocol the jobs of this world speak: `v2` (the default, as on
   * github.com: ACTIONS_CACHE_SERVICE_V2 and ACTIONS_RESULTS_URL) or `v1` (as
   * GHES and nektos/act: ACTIONS_CACHE_URL only). A job can override it.
   */
  protocol?: Protocol;
}

export class World {
  readonly root: string;
  readonly proxyDir: string;
  readonly server: CacheServer;
  readonly set: GeneratedSet;
  /** The sample project: every plain module at v1.0.0 plus the special ones. */
  readonly project: string;
  /** The protocol jobs speak unless told otherwise. */
  readonly protocol: Protocol;
  private jobs = 0;

  private constructor(o: WorldOptions) {
    this.root = o.root ?? mkdtempSync(path.join(os.tmpdir(), 'vgc-e2e-'));
    this.protocol = o.protocol ?? 'v2';
    this.server = new CacheServer(path.join(this.root, 'cache-service'));
    if (o.existing) {
      this.proxyDir = o.existing.proxyDir;
      this.project = o.existing.project;
      this.set = { versions: [], plain: [], special: {} };
      return;
    }
    this.proxyDir = path.join(this.root, 'proxy');
    this.set = generateModules(o.modules, o.payloadBytes ?? 0);
    for (const v of this.set.versions) publish(this.proxyDir, v);
    this.project = path.join(this.root, 'project');
    this.writeProject(this.project, {});
  }

  static async create(o: WorldOptions): Promise<World> {
    const w = new World(o);
    await w.server.start();
    return w;
  }

  get proxyUrl(): string {
    return pathToFileURL(this.proxyDir).href;
  }

  /** Go environment for fixture building (its own module cache). */
  toolEnv(): NodeJS.ProcessEnv {
    return goEnv(this.proxyDir, path.join(this.root, 'tool-home'));
  }

  /** Writes a project requiring every plain module at v1.0.0, with `bump` overriding versions. */
  writeProject(dir: string, bump: Record<string, string>): string {
    const requires: Record<string, string> = { ...this.set.special };
    for (const p of this.set.plain) requires[p] = bump[p] ?? 'v1.0.0';
    writeProject(dir, 'example.com/app', requires, this.toolEnv());
    return dir;
  }

  /**
   * A proxy that serves only the given module versions: a job pointed at it
   * fails if it tries to download anything else.
   */
  proxySubset(name: string, versions: { path: string; version: string }[]): string {
    const dir = path.join(this.root, `proxy-${name}`);
    for (const v of versions) {
      const from = path.join(this.proxyDir, ...escapeModulePath(v.path).split('/'), '@v');
      const to = path.join(dir, ...escapeModulePath(v.path).split('/'), '@v');
      mkdirSync(to, { recursive: true });
      for (const ext of ['.info', '.mod', '.zip']) {
        cpSync(
          path.join(from, escapeModulePath(v.version) + ext),
          path.join(to, escapeModulePath(v.version) + ext),
        );
      }
    }
    return pathToFileURL(dir).href;
  }

  /** Module cache of a runner home, where Go puts it by default. */
  modCache(home: string): string {
    return path.join(home, 'go', 'pkg', 'mod');
  }

  jobEnv(home: string, branch: string, protocol = this.protocol): Record<string, string> {
    return {
      PATH: process.env['PATH'] ?? '',
      HOME: home,
      USERPROFILE: home,
      TMPDIR: process.env['TMPDIR'] ?? os.tmpdir(),
      LANG: 'C.UTF-8',
      GOCACHE: path.join(home, '.cache', 'go-build'),
      GOPROXY: this.proxyUrl,
      GOSUMDB: 'off',
      GOTOOLCHAIN: 'local',
      GOFLAGS: '',
      ...this.server.envFor(branch, { protocol }),
    };
  }

  /**
   * Runs a job on a fresh runner: `job-N/home` (empty module cache) beside
   * `job-N/workspace`, the same relative layout as /home/runner and
   * /home/runner/work/<repo>/<repo>. pre runs on the empty workspace, then
   * "checkout" copies `project` into it, then main, the user steps and post.
   * Pass `home` to reuse a runner (a self-hosted one, say).
   */
  async job(
    o: Partial<JobOptions> & {
      project?: string;
      home?: string;
      env?: Record<string, string | undefined>;
      /** Folders between `work/` and the repository (a runner with another layout). */
      workspaceDepth?: number;
      /** The cache protocol of this job; the world's by default. */
      protocol?: Protocol;
    },
  ): Promise<JobResult & { home: string; workspace: string }> {
    const n = ++this.jobs;
    const jobDir = path.join(this.root, `job-${n}`);
    const home = o.home ?? path.join(jobDir, 'home');
    mkdirSync(home, { recursive: true });
    const nested = Array.from({ length: o.workspaceDepth ?? 0 }, (_, i) => `d${i}`);
    const workspace = path.join(jobDir, 'work', ...nested, 'repo');
    mkdirSync(workspace, { recursive: true });
    const project = o.project ?? this.project;
    const branch = o.headRef ?? o.branch ?? 'main';
    const result = await runJob({
      ...o,
      jobDir,
      workspace,
      env: { ...this.jobEnv(home, branch, o.protocol), ...(o.env ?? {}) },
      goBinDir: GO_BIN,
      checkout: () => {
        cpSync(project, workspace, { recursive: true });
      },
    });
    return { ...result, home, workspace };
  }

  /**
   * Plants an entry in the cache service with the real client, bypassing the
   * action (which would refuse to save a corrupt cache): the module cache of
   * `jobDir/home` saved under `key`, as a job on `branch` would.
   */
  async plant(jobDir: string, key: string, branch = 'main'): Promise<void> {
    await this.plantDir(this.modCache(path.join(jobDir, 'home')), key, branch);
  }

  /**
   * Plants the content of `dir` as an entry the way verified-go-cache saves
   * one (paths relative to `dir`, the single path `.`), so the action finds it.
   */
  async plantDir(dir: string, key: string, branch = 'main'): Promise<void> {
    const jobDir = mkdtempSync(path.join(this.root, 'plant-'));
    const r = await this.cacheClient(jobDir, ['save', key, '.'], branch, dir);
    if (r.code !== 0) throw new Error(`planting ${key} failed: ${r.output}`);
  }

  /**
   * Runs the @actions/cache client directly as a job on `branch` would, with
   * `jobDir/home` as HOME and `jobDir/work/repo` as the workspace.
   */
  async cacheClient(
    jobDir: string,
    args: string[],
    branch = 'main',
    workspaceDir?: string,
  ): Promise<{ code: number; output: string; ms: number }> {
    const home = path.join(jobDir, 'home');
    const workspace = workspaceDir ?? path.join(jobDir, 'work', 'repo');
    mkdirSync(workspace, { recursive: true });
    mkdirSync(home, { recursive: true });
    const started = Date.now();
    // Asynchronous: the cache service answers from this very process.
    try {
      const { stdout, stderr } = await execFileAsync(
        process.execPath,
        [path.join(REPO_ROOT, 'test/e2e/harness/cache-client.mjs'), ...args],
        {
          cwd: workspace,
          maxBuffer: 64 * 1024 * 1024,
          env: {
            ...this.jobEnv(home, branch),
            GITHUB_WORKSPACE: workspace,
            RUNNER_TEMP: path.join(jobDir, 'client-temp'),
          },
        },
      );
      return { code: 0, output: stdout + stderr, ms: Date.now() - started };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return {
        code: err.code ?? 1,
        output: `${err.stdout ?? ''}${err.stderr ?? ''}`,
        ms: Date.now() - started,
      };
    }
  }

  /** Keys of the finalized entries of one environment. */
  entriesOf(env: string): string[] {
    return this.server.keys().filter((k) => k.includes(`;env=${env};`));
  }

  /** The member names of a saved entry's archive (tar reads gzip and zstd by itself). */
  entryListing(key: string): string[] {
    const entry = this.server.finalized().find((e) => e.key === key);
    if (!entry) throw new Error(`no entry ${key} on the service`);
    return execFileSync('tar', ['-tf', entry.file], { encoding: 'utf8', maxBuffer: 1 << 26 })
      .split('\n')
      .filter((l) => l !== '');
  }

  /**
   * The module versions (`path@version`) a saved entry carries with their
   * content: as tree files, or as the zip the restore writes the tree from.
   */
  entryModules(key: string): string[] {
    const ids = new Set<string>();
    for (const name of this.entryListing(key)) {
      const place = placeOf(name.replace(/^\.\//, '').replace(/\/$/, ''));
      if (place.kind === 'tree' || (place.kind === 'download' && place.ext === '.zip'))
        ids.add(`${place.path}@${place.version}`);
    }
    return [...ids].sort();
  }

  /** Copies a finished job's runner (home and workspace) to a new folder, for tampering. */
  cloneRunner(jobHome: string): string {
    const dir = path.join(this.root, `clone-${++this.jobs}`);
    cpSync(jobHome, path.join(dir, 'home'), { recursive: true });
    return dir;
  }

  async dispose(keep = false): Promise<void> {
    await this.server.stop();
    if (!keep) {
      // Go's module cache is read-only; make it writable before removing.
      execFileSync('chmod', ['-R', 'u+w', this.root]);
      rmSync(this.root, { recursive: true, force: true });
    }
  }
}
