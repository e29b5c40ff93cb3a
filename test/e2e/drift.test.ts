/**
 * Dependency drift monitoring as a pull request sees it (issue 26): the
 * default branch saves a verified entry, and pull requests are graded against
 * it with `drift-baseline: default-branch`: a major bump (critical, an error
 * annotation on its go.mod line, `fail-on-drift: critical` fails the step), a
 * re-published module (the same version with another checksum: critical), and
 * patch upgrades only (info: the step stays green, also once the pull request
 * has an entry of its own and the baseline is read in a scratch directory).
 * A go.sum baseline grades without failing under `fail-on-drift: never`, and
 * health mode reports two environments that drifted apart.
 *
 * Branches and pull requests are the runner's variables the harness sets
 * (GITHUB_REF, GITHUB_HEAD_REF, GITHUB_EVENT_NAME), plus an event payload that
 * names the default branch, as GitHub's does.
 */
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goEnv, publish, runGo, writeProject, type ModuleVersion } from './harness/goproxy.js';
import { World } from './harness/world.js';

let world: World;
let pushEvent: string;
let prEvent: string;
/** A proxy where example.com/m000@v1.0.0 was published again with other content. */
let republished: string;

const ENV = 'drift';
const PLAIN = 6;

/** A published version of the world's, as another version (or the same one, re-published). */
function variant(
  p: string,
  version: string,
  o: { path?: string; note?: string } = {},
): ModuleVersion {
  const orig = world.set.versions.find((v) => v.path === p && v.version === 'v1.0.0')!;
  const newPath = o.path ?? p;
  const files: Record<string, string | Buffer> = { ...orig.files };
  files['inner/deep/deep.go'] =
    `package deep\n\nconst Name = "${newPath} ${version}${o.note ?? ''}"\n`;
  return {
    path: newPath,
    version,
    goMod: orig.goMod!.replace(`module ${p}\n`, `module ${newPath}\n`),
    files,
  };
}

/** The sample project's requirements: plain modules at v1.0.0 with `change` applied. */
function requirements(change: Record<string, string | undefined>): Record<string, string> {
  const req: Record<string, string> = { ...world.set.special };
  for (const p of world.set.plain) req[p] = 'v1.0.0';
  for (const [p, v] of Object.entries(change)) {
    if (v === undefined) delete req[p];
    else req[p] = v;
  }
  return req;
}

function project(name: string, change: Record<string, string | undefined>, proxy?: string): string {
  const dir = path.join(world.root, `project-${name}`);
  const env = proxy ? goEnv(proxy, path.join(world.root, `tool-home-${name}`)) : world.toolEnv();
  writeProject(dir, 'example.com/app', requirements(change), env);
  return dir;
}

/** 1-based line of `text` (trimmed) in a file. */
function lineOf(file: string, text: string): number {
  return (
    readFileSync(file, 'utf8')
      .split('\n')
      .findIndex((l) => l.trim() === text) + 1
  );
}

interface Report {
  level: string;
  failed: boolean;
  note?: string;
  checks: {
    source: string;
    baseline: string;
    subject?: string;
    level: string;
    changes: { grade: string; kind: string; path: string; from?: string; to?: string }[];
  }[];
}

const readReport = (file: string | undefined): Report =>
  JSON.parse(readFileSync(file!, 'utf8')) as Report;

const pr = (
  headRef: string,
  dir: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {},
) =>
  world.job({
    headRef,
    project: dir,
    inputs: {
      environment: ENV,
      'drift-baseline': 'default-branch',
      save: 'never',
      ...inputs,
    },
    env: { GITHUB_EVENT_PATH: prEvent, ...env },
  });

let baselineKey = '';

beforeAll(async () => {
  world = await World.create({ modules: PLAIN });
  pushEvent = path.join(world.root, 'event-push.json');
  writeFileSync(pushEvent, JSON.stringify({ repository: { default_branch: 'main' } }));
  prEvent = path.join(world.root, 'event-pr.json');
  writeFileSync(
    prEvent,
    JSON.stringify({
      pull_request: { number: 1, base: { ref: 'main' } },
      repository: { default_branch: 'main' },
    }),
  );
  for (const p of ['example.com/m003', 'example.com/m004'])
    publish(world.proxyDir, variant(p, 'v1.0.1'));
  publish(world.proxyDir, variant('example.com/m005', 'v2.0.0', { path: 'example.com/m005/v2' }));
  const dir = path.join(world.root, 'proxy-republished');
  cpSync(world.proxyDir, dir, { recursive: true });
  publish(dir, variant('example.com/m000', 'v1.0.0', { note: ' (re-published)' }));
  republished = dir;

  // The default branch's verified entry: the baseline of every pull request below.
  const onMain = await world.job({
    branch: 'main',
    inputs: { environment: ENV, 'drift-baseline': 'default-branch' },
    env: { GITHUB_EVENT_PATH: pushEvent },
  });
  expect(onMain.succeeded, onMain.log).toBe(true);
  expect(onMain.outputs['drift-level']).toBe('none');
  expect(onMain.summary).toContain('has no entry of environment');
  const saved = world.entriesOf(ENV);
  expect(saved).toHaveLength(1);
  baselineKey = saved[0]!;
}, 240_000);

afterAll(async () => {
  await world?.dispose();
});

describe('a pull request against the default branch', () => {
  it('bumping a major version is critical, annotated on its go.mod line, and fails the step', async () => {
    const dir = project('major', {
      'example.com/m005': undefined,
      'example.com/m005/v2': 'v2.0.0',
    });
    const job = await pr('pr-major', dir, { 'fail-on-drift': 'critical' });

    // Everything else main does is done: the cache is verified and every output set.
    expect(job.main.exitCode, job.log).toBe(1);
    expect(job.outputs['verified']).toBe('true');
    expect(job.outputs['hit-kind']).toBe('lineage');
    expect(job.outputs['drift-level']).toBe('critical');
    expect(job.main.stdout).toContain(`Drift baseline: the restored entry ${baselineKey}`);

    const line = lineOf(path.join(dir, 'go.mod'), 'example.com/m005/v2 v2.0.0');
    expect(line).toBeGreaterThan(0);
    expect(job.main.stdout).toMatch(
      new RegExp(
        `^::error title=Dependency drift,file=go.mod,line=${line}::Dependency drift \\(critical\\)`,
        'm',
      ),
    );
    const annotation = job.annotations.find(
      (a) => a.level === 'error' && a.file === 'go.mod' && a.line === line,
    );
    expect(annotation?.message).toContain(
      'example.com/m005@v1.0.0 -> example.com/m005/v2@v2.0.0: a new major version',
    );

    const failure = job.annotations.find(
      (a) => a.level === 'error' && a.message.startsWith('Dependency drift reaches'),
    );
    expect(failure?.message).toContain("fail-on-drift 'critical'");
    expect(failure?.message).toContain('accept them by merging');

    expect(job.summary).toContain('🔴 **critical**');
    expect(job.summary).toContain(
      '| 🔴 critical | `example.com/m005/v2` | example.com/m005@v1.0.0 | example.com/m005/v2@v2.0.0 |',
    );

    const report = readReport(job.outputs['drift-report']);
    expect(report).toMatchObject({ level: 'critical', failed: true });
    expect(report.checks[0]!.baseline).toBe(baselineKey);
    expect(report.checks[0]!.changes).toEqual([
      expect.objectContaining({ grade: 'critical', kind: 'major', path: 'example.com/m005/v2' }),
    ]);
  });

  it('the same version with another checksum (a re-published module) is critical', async () => {
    const dir = project('republished', {}, republished);
    const job = await pr(
      'pr-checksum',
      dir,
      { 'fail-on-drift': 'warning' },
      { GOPROXY: pathToFileURL(republished).href },
    );
    expect(job.main.exitCode, job.log).toBe(1);
    expect(job.outputs['verified']).toBe('true');
    expect(job.outputs['drift-level']).toBe('critical');

    const line = lineOf(path.join(dir, 'go.mod'), 'example.com/m000 v1.0.0');
    const annotation = job.annotations.find(
      (a) => a.level === 'error' && a.message.startsWith('Dependency drift (critical)'),
    );
    expect(annotation, job.log).toMatchObject({ file: 'go.mod', line });
    expect(annotation!.message).toContain('example.com/m000 v1.0.0: the same version with another');
    expect(annotation!.message).toContain('a re-published module or an edited go.sum');

    const report = readReport(job.outputs['drift-report']);
    expect(report.checks[0]!.changes).toEqual([
      expect.objectContaining({
        grade: 'critical',
        kind: 'checksum',
        path: 'example.com/m000',
        from: 'v1.0.0',
        to: 'v1.0.0',
      }),
    ]);
    expect(job.summary).toContain('| 🔴 critical | `example.com/m000` | v1.0.0 | v1.0.0 |');
  });

  it('patch upgrades only are info: no drift annotation, the step stays green', async () => {
    const dir = project('patch', {
      'example.com/m003': 'v1.0.1',
      'example.com/m004': 'v1.0.1',
    });
    // With an entry of its own saved by the first run, the second run's restore
    // is no longer the default branch's: the baseline is read in a scratch directory.
    for (const [run, hit] of [
      [1, 'lineage'],
      [2, 'exact'],
    ] as const) {
      const job = await pr('pr-patch', dir, { 'fail-on-drift': 'warning', save: 'auto' });
      expect(job.succeeded, job.log).toBe(true);
      expect(job.outputs['hit-kind'], `run ${run}`).toBe(hit);
      expect(job.outputs['drift-level']).toBe('info');
      expect(job.annotations.filter((a) => a.message.includes('Dependency drift'))).toEqual([]);
      expect(job.summary).toContain('🔵 **info**');
      expect(job.summary).toContain('0 critical, 0 warning, 2 info');
      expect(job.summary).toContain(
        '| 🔵 info | `example.com/m003` | v1.0.0 | v1.0.1 | a patch upgrade |',
      );
      const report = readReport(job.outputs['drift-report']);
      expect(report.checks[0]!.baseline).toBe(baselineKey);
      expect(report.failed).toBe(false);
      if (hit === 'exact') {
        expect(job.main.stdout).toContain(
          `Drift baseline: ${baselineKey} (default branch main), read in a scratch directory`,
        );
        // The job's own module cache holds the pull request's versions, not the baseline's.
        const mod = world.modCache(job.home);
        expect(readdir(path.join(mod, 'example.com')).filter((n) => n.startsWith('m003@'))).toEqual(
          ['m003@v1.0.1'],
        );
      }
    }
  });

  it('without the default branch in the event payload there is no baseline, and no failure', async () => {
    const dir = project('no-event', {
      'example.com/m005': undefined,
      'example.com/m005/v2': 'v2.0.0',
    });
    const job = await pr(
      'pr-no-event',
      dir,
      { 'fail-on-drift': 'critical' },
      { GITHUB_EVENT_PATH: '' },
    );
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['drift-level']).toBe('none');
    expect(job.summary).toContain('the default branch is unknown');
  });
});

function readdir(dir: string): string[] {
  return readdirSync(dir).sort();
}

describe('a go.sum baseline', () => {
  it('grades against a go.sum and go.mod an earlier step checked out; fail-on-drift: never only reports', async () => {
    // The repository has the module in svc/; the baseline (say a release branch's) in svc/baseline/.
    const dir = project('sum-baseline', { 'example.com/m001': 'v1.1.0' });
    appendFileSync(
      path.join(dir, 'go.mod'),
      '\nreplace example.com/m004 => example.com/m004 v1.0.1\n',
    );
    runGo(['mod', 'tidy'], dir, world.toolEnv());
    const checkout = path.join(world.root, 'project-sum-baseline-checkout');
    const svc = path.join(checkout, 'svc');
    cpSync(dir, svc, { recursive: true });
    mkdirSync(path.join(svc, 'baseline'), { recursive: true });
    for (const f of ['go.sum', 'go.mod']) {
      cpSync(path.join(world.project, f), path.join(svc, 'baseline', f));
    }
    const job = await pr('pr-sum', checkout, {
      'working-directory': 'svc',
      'drift-baseline': 'baseline/go.sum',
      'fail-on-drift': 'never',
    });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['drift-level']).toBe('critical');
    const goMod = path.join(svc, 'go.mod');
    expect(job.annotations).toContainEqual(
      expect.objectContaining({
        level: 'warning',
        file: 'svc/go.mod',
        line: lineOf(goMod, 'example.com/m001 v1.1.0'),
      }),
    );
    expect(job.annotations).toContainEqual(
      expect.objectContaining({
        level: 'error',
        file: 'svc/go.mod',
        line: lineOf(goMod, 'replace example.com/m004 => example.com/m004 v1.0.1'),
      }),
    );
    const report = readReport(job.outputs['drift-report']);
    expect(report.failed).toBe(false);
    expect(report.checks[0]).toMatchObject({ source: 'go.sum', baseline: 'svc/baseline/go.sum' });
    // The replace explains m004's new version: one change, not two.
    expect(report.checks[0]!.changes.map((c) => `${c.grade} ${c.kind} ${c.path}`)).toEqual([
      'critical replace-added example.com/m004',
      'warning minor example.com/m001',
    ]);
  });

  it('a baseline path that does not exist fails the step naming the input', async () => {
    const job = await pr('pr-sum-missing', world.project, { 'drift-baseline': 'nowhere/go.sum' });
    expect(job.main.exitCode).toBe(1);
    expect(job.outputs['verified']).toBe('true');
    const err = job.annotations.find((a) => a.level === 'error');
    expect(err?.message).toContain('drift-baseline');
    expect(err?.message).toContain('nowhere/go.sum');
  });
});

describe('health mode', () => {
  it('reports two environments that drifted apart, and fails on it when asked', async () => {
    const prod = await world.job({ branch: 'main', inputs: { environment: 'prod' } });
    expect(prod.succeeded, prod.log).toBe(true);
    const devProject = project('dev', {
      'example.com/m002': 'v1.1.0',
      'example.com/m005': undefined,
      'example.com/m005/v2': 'v2.0.0',
    });
    const dev = await world.job({
      branch: 'main',
      project: devProject,
      inputs: { environment: 'dev' },
    });
    expect(dev.succeeded, dev.log).toBe(true);

    const health = await world.job({
      branch: 'main',
      inputs: {
        mode: 'health',
        environments: 'prod\ndev',
        save: 'never',
        'fail-on-drift': 'critical',
      },
    });
    expect(health.main.exitCode, health.log).toBe(1);
    expect(health.outputs['drift-level']).toBe('critical');
    expect(health.summary).toContain('`environment dev` against `environment prod`');
    expect(health.summary).toContain(
      '| 🔴 critical | `example.com/m005/v2` | example.com/m005@v1.0.0 | example.com/m005/v2@v2.0.0 |',
    );
    expect(health.summary).toContain(
      '| 🟠 warning | `example.com/m002` | v1.0.0 | v1.1.0 | a minor upgrade |',
    );
    const failure = health.annotations.find((a) =>
      a.message.startsWith('Dependency drift reaches'),
    );
    expect(failure?.message).toContain('environment dev against environment prod');
    const report = readReport(health.outputs['drift-report']);
    expect(report.checks).toHaveLength(1);
    expect(report.checks[0]).toMatchObject({ source: 'environment', level: 'critical' });
  });
});
