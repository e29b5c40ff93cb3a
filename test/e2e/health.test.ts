/**
 * Health mode end to end: a scheduled job over several environments, with the
 * cache service and GitHub's REST API on loopback. It finds a corrupt entry,
 * repairs and saves it, reports it (healthy=false, then true on the next
 * run), deletes superseded and corrupt generations only with
 * `actions: write`, and shows the dependency drift of an entry built from
 * another go.sum.
 *
 * The stage is the bundled dist/main with `mode: health`, started the way the
 * runner starts an action's main.
 */
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corrupt } from './harness/corrupt.js';
import { RestApi } from './harness/rest-api.js';
import {
  actionDefaults,
  parseAnnotations,
  parseFileCommands,
  REPO_ROOT,
  type Annotation,
} from './harness/runner.js';
import { World } from './harness/world.js';

const execFileAsync = promisify(execFile);

let world: World;
let api: RestApi;
let runs = 0;

interface EnvReport {
  environment: string;
  status: string;
  exactKey: string;
  matchedKey?: string;
  savedKey?: string;
  bad: { module: string; reason: string }[];
  unneeded: string[];
  deleted: { id: number; key: string; why: string }[];
  deleteNote?: string;
  drift?: { upgraded: { path: string; from: string; to: string }[] };
  downloadedBytes?: number;
  healthy: boolean;
}

interface HealthRun {
  exitCode: number;
  outputs: Record<string, string>;
  summary: string;
  annotations: Annotation[];
  report: { healthy: boolean; environments: EnvReport[]; inventory?: { entries: unknown[] } };
  log: string;
}

/** Runs the health stage as the runner would: its inputs, file commands, a fresh runner. */
async function health(o: {
  inputs: Record<string, string>;
  project?: string;
  branch?: string;
  env?: Record<string, string>;
}): Promise<HealthRun> {
  const dir = path.join(world.root, `health-${++runs}`);
  const home = path.join(dir, 'home');
  const workspace = path.join(dir, 'work', 'repo');
  const temp = path.join(dir, 'runner-temp');
  for (const d of [home, workspace, temp]) mkdirSync(d, { recursive: true });
  cpSync(o.project ?? world.project, workspace, { recursive: true });
  const branch = o.branch ?? 'main';
  const files: Record<string, string> = {};
  for (const f of ['GITHUB_OUTPUT', 'GITHUB_STATE', 'GITHUB_ENV', 'GITHUB_STEP_SUMMARY']) {
    files[f] = path.join(dir, f.toLowerCase());
    writeFileSync(files[f]!, '');
  }
  const inputs = { ...actionDefaults(), mode: 'health', ...o.inputs };
  const env: Record<string, string> = {
    ...world.jobEnv(home, branch),
    ...api.envFor(),
    ...files,
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_WORKSPACE: workspace,
    RUNNER_TEMP: temp,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    GITHUB_REF: `refs/heads/${branch}`,
    GITHUB_REF_NAME: branch,
    GITHUB_HEAD_REF: '',
    GITHUB_EVENT_NAME: 'schedule',
    GITHUB_RUN_ID: String(1000 + runs),
    GITHUB_RUN_ATTEMPT: '1',
    ...(o.env ?? {}),
  };
  for (const [name, value] of Object.entries(inputs)) {
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  }
  const r = await execFileAsync(
    process.execPath,
    [path.join(REPO_ROOT, 'dist', 'main', 'index.js')],
    {
      cwd: workspace,
      env,
      maxBuffer: 64 * 1024 * 1024,
    },
  ).then(
    (ok) => ({ exitCode: 0, stdout: ok.stdout, stderr: ok.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      exitCode: e.code ?? 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    }),
  );
  const { exitCode, stdout, stderr } = r;
  const outputs = parseFileCommands(readFileSync(files['GITHUB_OUTPUT']!, 'utf8'));
  // VGC_HEALTH_SUMMARIES=<dir> keeps every run's summary there, to read what a user would see.
  const keep = process.env['VGC_HEALTH_SUMMARIES'];
  if (keep) {
    cpSync(files['GITHUB_STEP_SUMMARY']!, path.join(keep, `health-${runs}.md`));
    writeFileSync(path.join(keep, `health-${runs}.log`), stdout + stderr);
    writeFileSync(
      path.join(keep, `service-${runs}.json`),
      JSON.stringify(world.server.log.slice(-40), null, 1),
    );
  }
  const reportFile = outputs['report'];
  return {
    exitCode,
    outputs,
    summary: readFileSync(files['GITHUB_STEP_SUMMARY']!, 'utf8'),
    annotations: parseAnnotations(stdout),
    report: reportFile
      ? JSON.parse(readFileSync(reportFile, 'utf8'))
      : { healthy: false, environments: [] },
    log: stdout + stderr,
  };
}

function env(run: HealthRun, name: string): EnvReport {
  const e = run.report.environments.find((x) => x.environment === name);
  if (!e) throw new Error(`no report for environment ${name}:\n${run.log}`);
  return e;
}

/** A module cache holding everything `project` needs, at `<dir>/work/repo` (the client's workspace). */
function buildModCache(name: string, project: string): { jobDir: string; modCache: string } {
  const jobDir = path.join(world.root, `seed-${name}`);
  const modCache = path.join(jobDir, 'work', 'repo');
  mkdirSync(modCache, { recursive: true });
  const goEnv = { ...world.toolEnv(), GOMODCACHE: modCache, GOFLAGS: '-modcacherw' };
  execFileSync('go', ['mod', 'download'], { cwd: project, env: goEnv, stdio: 'pipe' });
  execFileSync('go', ['list', '-m', 'all'], { cwd: project, env: goEnv, stdio: 'pipe' });
  return { jobDir, modCache };
}

/** Saves a module cache directory as an entry, the way saveDirectory does (path `.`). */
async function plant(jobDir: string, key: string, branch = 'main'): Promise<void> {
  const r = await world.cacheClient(jobDir, ['save', key, '.'], branch);
  if (r.code !== 0) throw new Error(`planting ${key} failed: ${r.output}`);
}

const VICTIM = 'example.com/m003@v1.0.0';
let keys: Record<'alpha' | 'beta', string>;
let repairedBeta = '';

beforeAll(async () => {
  world = await World.create({ modules: 6 });
  api = new RestApi(world.server);
  await api.start();
}, 300_000);

afterAll(async () => {
  await api?.stop();
  await world?.dispose();
});

describe('mode: health', () => {
  it('reports environments without an entry as missing, with their keys', async () => {
    const run = await health({
      inputs: { environments: 'alpha\nbeta', 'github-token': 'read-token' },
    });
    expect(run.exitCode, run.log).toBe(0);
    expect(run.outputs['healthy']).toBe('false');
    expect(env(run, 'alpha').status).toBe('missing');
    expect(env(run, 'beta').status).toBe('missing');
    keys = { alpha: env(run, 'alpha').exactKey, beta: env(run, 'beta').exactKey };
    expect(keys.alpha).toContain(';env=alpha;ref=main;sum=');

    // Seed: alpha gets two good generations, beta a corrupt one.
    const good = buildModCache('good', world.project);
    await plant(good.jobDir, `${keys.alpha};gen=old`);
    await plant(good.jobDir, `${keys.alpha};gen=new`);
    const bad = buildModCache('bad', world.project);
    const [p, v] = VICTIM.split('@') as [string, string];
    corrupt(bad.modCache, p, v, 'modified-file');
    await plant(bad.jobDir, `${keys.beta};gen=bad`);
    // An entry of another branch: never touched by a health run on main.
    await plant(
      good.jobDir,
      `${keys.alpha.replace(';ref=main;', ';ref=feature;')};gen=f`,
      'feature',
    );
  });

  it('repairs the corrupt environment, saves it, and reports healthy=false', async () => {
    const run = await health({
      inputs: { environments: 'alpha\nbeta', 'github-token': 'read-token' },
    });
    expect(run.exitCode, run.log).toBe(0);
    expect(run.outputs['healthy']).toBe('false');
    const alpha = env(run, 'alpha');
    expect(alpha.status).toBe('healthy');
    expect(alpha.matchedKey).toBe(`${keys.alpha};gen=new`);
    const beta = env(run, 'beta');
    expect(beta.status).toBe('repaired');
    expect(beta.matchedKey).toBe(`${keys.beta};gen=bad`);
    expect(beta.bad.map((b) => b.module)).toContain(VICTIM);
    expect(beta.savedKey?.startsWith(`${keys.beta};gen=`)).toBe(true);
    repairedBeta = beta.savedKey!;
    expect(world.server.keys()).toContain(repairedBeta);

    expect(run.summary).toContain('❌ unhealthy (1 of 2 environments)');
    expect(run.summary).toContain(`\`${VICTIM}\``);
    expect(run.summary).toMatch(/🛠️ repaired \| beta/);
    expect(run.summary).toContain('#### Cache inventory');
    expect(run.summary).toContain('saved by this run');
    const warnings = run.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
    expect(warnings.join('\n')).toContain("'beta' repaired");
    // The JSON report carries the inventory too.
    expect(run.report.inventory?.entries.length).toBeGreaterThanOrEqual(4);
  });

  it('finds every environment healthy on the next run', async () => {
    const run = await health({
      inputs: {
        environments: 'alpha\nbeta',
        'github-token': 'read-token',
        'fail-on-unhealthy': 'true',
      },
    });
    expect(run.exitCode, run.log).toBe(0);
    expect(run.outputs['healthy']).toBe('true');
    expect(env(run, 'beta').status).toBe('healthy');
    expect(env(run, 'beta').matchedKey).toBe(repairedBeta);
    expect(run.summary).toContain('✅ healthy (2 environments)');
  });

  it('delete-superseded without actions: write names the permission and deletes nothing', async () => {
    const before = world.server.keys().sort();
    const run = await health({
      inputs: {
        environments: 'alpha\nbeta',
        'github-token': 'read-token',
        'delete-superseded': 'true',
      },
    });
    expect(run.exitCode, run.log).toBe(0);
    expect(world.server.keys().sort()).toEqual(before);
    expect(api.deletes().every((c) => c.status === 403)).toBe(true);
    expect(api.deletes().length).toBeGreaterThan(0);
    const warnings = run.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
    expect(warnings.join('\n')).toContain('permissions: actions: write');
    expect(env(run, 'alpha').deleteNote).toContain('actions: write');
  });

  it('delete-superseded with actions: write deletes superseded and corrupt generations only', async () => {
    const run = await health({
      inputs: {
        environments: 'alpha\nbeta',
        'github-token': 'write-token',
        'delete-superseded': 'true',
      },
    });
    expect(run.exitCode, run.log).toBe(0);
    const left = world.server.keys();
    expect(left).not.toContain(`${keys.alpha};gen=old`);
    expect(left).not.toContain(`${keys.beta};gen=bad`);
    expect(left).toContain(`${keys.alpha};gen=new`);
    expect(left).toContain(repairedBeta);
    expect(left).toContain(`${keys.alpha.replace(';ref=main;', ';ref=feature;')};gen=f`);
    expect(env(run, 'alpha').deleted.map((d) => d.why)).toEqual(['older generation']);
    expect(env(run, 'beta').deleted.map((d) => d.key)).toEqual([`${keys.beta};gen=bad`]);
    expect(run.summary).toContain('deleted (older generation)');
  });

  it('shows the drift of an entry built from another go.sum, refreshes it, and fails on request', async () => {
    // gamma's newest entry was built from the original project; go.sum has moved on since.
    const good = path.join(world.root, 'seed-good');
    await plant(good, `${keys.alpha.replace(';env=alpha;', ';env=gamma;')};gen=1`);
    const bumped = world.writeProject(path.join(world.root, 'project-bumped'), {
      'example.com/m001': 'v1.1.0',
    });
    const run = await health({
      project: bumped,
      inputs: { environments: 'gamma', 'github-token': 'read-token', 'fail-on-unhealthy': 'true' },
    });
    expect(run.exitCode).toBe(1);
    expect(run.outputs['healthy']).toBe('false');
    const gamma = env(run, 'gamma');
    expect(gamma.drift?.upgraded).toEqual([
      { path: 'example.com/m001', from: 'v1.0.0', to: 'v1.1.0' },
    ]);
    expect(gamma.unneeded).toContain('example.com/m001@v1.0.0');
    expect(gamma.status).toBe('repaired');
    expect(gamma.downloadedBytes).toBeGreaterThan(0);
    expect(run.summary).toContain('#### Dependency drift: gamma');
    expect(run.summary).toContain('| upgraded | `example.com/m001` | v1.0.0 -> v1.1.0 |');
    const errors = run.annotations.filter((a) => a.level === 'error').map((a) => a.message);
    expect(errors.join('\n')).toContain("'gamma'");
  });
});

describe('mode: health with a read-only cache', () => {
  it('reports the corrupt entry, says why nothing was saved, and saves nothing', async () => {
    await plant(
      path.join(world.root, 'seed-bad'),
      `${keys.beta.replace(';env=beta;', ';env=delta;')};gen=1`,
    );
    const before = world.server.keys().length;
    const run = await health({
      inputs: { environments: 'delta', 'github-token': 'read-token' },
      env: { ACTIONS_CACHE_MODE: 'read' },
    });
    expect(run.exitCode, run.log).toBe(0);
    const delta = env(run, 'delta');
    expect(delta.status).toBe('corrupt');
    expect(delta.bad.map((b) => b.module)).toContain(VICTIM);
    expect(delta.savedKey).toBeUndefined();
    expect(world.server.keys().length).toBe(before);
    expect(run.summary).toContain("not saved: the cache mode 'read' forbids saving");
  });
});

describe('mode: health when services fail', () => {
  it('a cache service that fails and no token are warnings in the report, never a failed step', async () => {
    world.server.faults = { status: 503 };
    try {
      const run = await health({
        inputs: { environments: 'alpha', 'github-token': '', 'lookup-timeout': '2' },
      });
      expect(run.exitCode, run.log).toBe(0);
      expect(run.outputs['healthy']).toBe('false');
      expect(env(run, 'alpha').status).toBe('unavailable');
      expect(run.summary).toContain('❔ unavailable');
      expect(run.summary).toContain('> No inventory: no github-token');
      const warnings = run.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
      expect(warnings.join('\n')).toContain('No inventory');
    } finally {
      world.server.faults = {};
    }
  });

  it('a token GitHub does not know leaves the inventory out with the reason', async () => {
    const run = await health({ inputs: { environments: 'alpha', 'github-token': 'unknown' } });
    expect(run.exitCode, run.log).toBe(0);
    expect(env(run, 'alpha').status).toBe('healthy');
    expect(run.outputs['healthy']).toBe('true');
    expect(run.summary).toContain('(401)');
  });
});

describe('dependency drift in a job', () => {
  it('shows what changed since the entry after a go.sum change', async () => {
    const seed = await world.job({ inputs: { environment: 'drift' } });
    expect(seed.succeeded, seed.log).toBe(true);
    const bumped = world.writeProject(path.join(world.root, 'project-drift'), {
      'example.com/m002': 'v1.1.0',
    });
    const job = await world.job({ inputs: { environment: 'drift' }, project: bumped });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['hit-kind']).toBe('lineage');
    expect(job.summary).toContain('#### Dependency drift');
    expect(job.summary).toContain('| upgraded | `example.com/m002` | v1.0.0 -> v1.1.0 |');
    expect(job.summary).toMatch(/\d+(\.\d)? (B|KiB) downloaded for them/);
  });
});
