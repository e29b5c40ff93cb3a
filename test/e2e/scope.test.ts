/**
 * What is in scope and how it converges, as a user sees it: a testdata
 * fixture never reaches the key or the entry, a go.work workspace is one
 * `go mod download`, alternating go.sum files leave one entry each, an exact
 * hit answers Go's offline graph commands, and a go directive newer than the
 * installed Go is explained.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, readGoSum, runGo, writeProject } from './harness/goproxy.js';
import { parseAnnotations } from './harness/runner.js';
import { World } from './harness/world.js';

let world: World;

beforeAll(async () => {
  world = await World.create({ modules: 6 });
});

afterAll(async () => {
  await world?.dispose();
});

/** 6 plain modules and the 3 special ones of the sample project. */
const SAMPLE_MODULES = 9;

/**
 * A user step run with a build cache shared by the jobs of this file: the
 * module cache is still each runner's own, only compiling the standard
 * library again for every job is spared.
 */
const step = (cmd: string): string =>
  `export GOCACHE=${JSON.stringify(path.join(world.root, 'shared-gocache'))}; ${cmd}`;

const entriesOf = (env: string): string[] => world.entriesOf(env);

/** The `sum=` part of a key: the hash of the files in scope. */
const sumOf = (key: string | undefined): string => /;sum=([0-9a-f]+)/.exec(key ?? '')?.[1] ?? '';

const entryListing = (key: string): string[] => world.entryListing(key);

/** 1-based number of the first line of `file` that equals `text` once trimmed. */
function lineOf(file: string, text: string): number {
  return (
    readFileSync(file, 'utf8')
      .split('\n')
      .findIndex((l) => l.trim() === text) + 1
  );
}

describe('testdata modules are fixtures', () => {
  /** The sample project plus a testdata module that requires a module no proxy serves. */
  function projectWithFixture(): string {
    const dir = path.join(world.root, 'project-testdata');
    cpSync(world.project, dir, { recursive: true });
    const fixture = path.join(dir, 'testdata', 'fixture');
    mkdirSync(fixture, { recursive: true });
    writeFileSync(
      path.join(fixture, 'go.mod'),
      'module example.com/fixture\n\ngo 1.21\n\nrequire example.com/unreachable v1.0.0\n',
    );
    writeFileSync(
      path.join(fixture, 'go.sum'),
      'example.com/unreachable v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n' +
        'example.com/unreachable v1.0.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n',
    );
    writeFileSync(
      path.join(fixture, 'fixture.go'),
      'package fixture\n\nimport _ "example.com/unreachable"\n',
    );
    return dir;
  }

  it.each([
    ['the default go-sum-files', 'td-default', undefined],
    ["go-sum-files '**/go.sum'", 'td-glob', '**/go.sum'],
  ])(
    'with %s the job is green and neither the key nor the entry holds the fixture module',
    async (_label, env, globs) => {
      const project = projectWithFixture();
      const inputs: Record<string, string> = { environment: env };
      if (globs) inputs['go-sum-files'] = globs;
      const job = await world.job({ project, inputs });
      expect(job.succeeded, job.log).toBe(true);
      expect(job.outputs['verified']).toBe('true');
      expect(job.outputs['module-count']).toBe(String(SAMPLE_MODULES));
      expect(job.log).not.toContain('example.com/unreachable');

      // The key is the one of the project without the fixture: testdata is not hashed.
      const plain = await world.job({ inputs: { environment: `${env}-plain` }, skipPre: true });
      expect(plain.succeeded, plain.log).toBe(true);
      expect(sumOf(job.outputs['cache-key'])).toBe(sumOf(plain.outputs['cache-key']));

      const saved = entriesOf(env);
      expect(saved).toHaveLength(1);
      const listing = entryListing(saved[0]!);
      expect(world.entryModules(saved[0]!)).toContain('example.com/m000@v1.0.0');
      expect(listing.some((f) => f.includes('unreachable') || f.includes('fixture'))).toBe(false);

      if (globs) {
        // The user asked for every go.sum: say why this one was left out.
        const notice = parseAnnotations(job.main.stdout).find((c) =>
          c.message.includes('directories Go ignores'),
        );
        expect(notice?.level, job.log).toBe('notice');
        expect(notice?.message).toContain('testdata/fixture');
      }
    },
  );
});

describe('a go.work workspace', () => {
  /** Three members with disjoint requirements, joined by go.work. */
  function workspaceProject(): string {
    const dir = path.join(world.root, 'project-work');
    const env = world.toolEnv();
    const plain = world.set.plain;
    writeProject(
      path.join(dir, 'a'),
      'example.com/ws/a',
      { [plain[0]!]: 'v1.0.0', [plain[3]!]: 'v1.0.0' },
      env,
    );
    writeProject(
      path.join(dir, 'b'),
      'example.com/ws/b',
      { [plain[4]!]: 'v1.0.0', [plain[5]!]: 'v1.0.0' },
      env,
    );
    writeProject(path.join(dir, 'c'), 'example.com/ws/c', { ...world.set.special }, env);
    runGo(['work', 'init', './a', './b', './c'], dir, env);
    return dir;
  }

  it('is verified with one go mod download in the workspace root, then served offline', async () => {
    const env = 'workspace';
    const project = workspaceProject();
    const cold = await world.job({ project, inputs: { environment: env } });
    expect(cold.succeeded, cold.log).toBe(true);
    for (const m of ['a', 'b', 'c']) {
      expect(cold.main.stdout).toContain(`In scope: example.com/ws/${m} (`);
    }
    const downloads = cold.main.stdout.split('\n').filter((l) => l.startsWith('go mod download'));
    expect(downloads, cold.log).toEqual([`go mod download (in ${cold.workspace})`]);
    // m000..m005 (m003 pulls m001 and m000, m005 pulls m002) and the 3 special modules.
    expect(cold.outputs['module-count']).toBe('9');
    expect(entriesOf(env)).toHaveLength(1);

    const warm = await world.job({
      project,
      inputs: { environment: env },
      env: { GOPROXY: 'off' },
      stepsAfterMain: ['a', 'b', 'c'].map((m) => step(`cd ${m} && go build ./...`)),
    });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.main.stdout).not.toContain('go mod download');
    expect(entriesOf(env)).toHaveLength(1);
  });
});

describe('alternating go.sum files converge', () => {
  it('A,B,A,B,A with a small difference: one entry per go.sum; A after B completes the restored cache', async () => {
    const env = 'alt-small';
    const a = world.project;
    const b = world.writeProject(path.join(world.root, 'project-alt-b'), {
      'example.com/m001': 'v1.1.0',
    });
    // Completing A from B's cache may fetch m001@v1.0.0 and nothing else.
    const onlyA = world.proxySubset('alt-small', [{ path: 'example.com/m001', version: 'v1.0.0' }]);

    const j1 = await world.job({ project: a, inputs: { environment: env } });
    expect(j1.succeeded, j1.log).toBe(true);
    expect(j1.outputs['hit-kind']).toBe('miss');

    const j2 = await world.job({ project: b, inputs: { environment: env } });
    expect(j2.succeeded, j2.log).toBe(true);
    expect(j2.outputs['hit-kind']).toBe('lineage');
    expect(entriesOf(env)).toHaveLength(2);

    // pre knows no go.sum yet, so it restores the newest entry: B's. A's entry exists and
    // B's cache lacks 1 of A's 9 versions (< 25%): converged by completing, nothing saved.
    const j3 = await world.job({
      project: a,
      inputs: { environment: env },
      env: { GOPROXY: onlyA },
    });
    expect(j3.succeeded, j3.log).toBe(true);
    expect(j3.outputs['hit-kind']).toBe('lineage');
    expect(j3.outputs['cache-matched-key']!.startsWith(j2.outputs['cache-key']!)).toBe(true);
    expect(j3.main.stdout).toContain('An entry for this go.sum exists already; completing');
    expect(j3.summary).toContain('| Downloaded | 1 module versions |');
    expect(j3.post.stdout).toMatch(/Not saving: an entry for this go\.sum/);
    expect(entriesOf(env)).toHaveLength(2);

    // B is the newest entry and B's go.sum: an exact hit, offline.
    const j4 = await world.job({
      project: b,
      inputs: { environment: env },
      env: { GOPROXY: 'off' },
    });
    expect(j4.succeeded, j4.log).toBe(true);
    expect(j4.outputs['hit-kind']).toBe('exact');

    // Like j3: B's entry is still the newest, so A converges by completing, and saves nothing.
    // In all: j1 miss (saved A), j2 lineage (saved B), j3 converged, j4 exact, j5 converged.
    const j5 = await world.job({
      project: a,
      inputs: { environment: env },
      env: { GOPROXY: onlyA },
    });
    expect(j5.succeeded, j5.log).toBe(true);
    expect(j5.outputs['hit-kind']).toBe('lineage');
    expect(j5.main.stdout).toContain('completing');
    expect(j5.post.stdout).toMatch(/Not saving: an entry for this go\.sum/);

    const saved = entriesOf(env);
    expect(saved).toHaveLength(2);
    expect(new Set(saved.map(sumOf))).toEqual(
      new Set([sumOf(j1.outputs['cache-key']), sumOf(j2.outputs['cache-key'])]),
    );
  });

  it('A,C,A with a large difference: A after C switches to the exact entry and downloads nothing', async () => {
    const env = 'alt-large';
    const a = world.project;
    const c = world.writeProject(path.join(world.root, 'project-alt-c'), {
      'example.com/m001': 'v1.1.0',
      'example.com/m003': 'v1.1.0',
      'example.com/m004': 'v1.1.0',
      'example.com/m005': 'v1.1.0',
    });
    const j1 = await world.job({ project: a, inputs: { environment: env } });
    expect(j1.succeeded, j1.log).toBe(true);
    const j2 = await world.job({ project: c, inputs: { environment: env } });
    expect(j2.succeeded, j2.log).toBe(true);
    expect(j2.outputs['hit-kind']).toBe('lineage');

    // C's cache lacks 4 of A's 9 versions (>= 25%): main restores A's own entry instead.
    const j3 = await world.job({
      project: a,
      inputs: { environment: env },
      env: { GOPROXY: 'off' },
    });
    expect(j3.succeeded, j3.log).toBe(true);
    expect(j3.main.stdout).toContain('restoring the exact entry instead');
    expect(j3.outputs['hit-kind']).toBe('exact');
    expect(j3.outputs['cache-matched-key']!.startsWith(j1.outputs['cache-key']!)).toBe(true);
    expect(entriesOf(env)).toHaveLength(2);
  });
});

describe('an exact hit is enough for Go offline', () => {
  /**
   * top (go 1.16, so its graph is not pruned) requires mid, which requires
   * leaf; the project imports only top, so go.sum holds mid and leaf as
   * `/go.mod` lines only and Go needs their .mod files to load the graph.
   */
  function graphProject(): string {
    const goMod = (p: string, go: string, req?: string): string =>
      `module ${p}\n\ngo ${go}\n${req ? `\nrequire ${req} v1.0.0\n` : ''}`;
    publish(world.proxyDir, {
      path: 'example.com/graph/leaf',
      version: 'v1.0.0',
      goMod: goMod('example.com/graph/leaf', '1.21'),
      files: { 'leaf.go': 'package leaf\n\nfunc F() int { return 1 }\n' },
    });
    publish(world.proxyDir, {
      path: 'example.com/graph/mid',
      version: 'v1.0.0',
      goMod: goMod('example.com/graph/mid', '1.21', 'example.com/graph/leaf'),
      files: {
        'mid.go':
          'package mid\n\nimport "example.com/graph/leaf"\n\nfunc F() int { return leaf.F() + 1 }\n',
      },
    });
    publish(world.proxyDir, {
      path: 'example.com/graph/top',
      version: 'v1.0.0',
      goMod: goMod('example.com/graph/top', '1.16', 'example.com/graph/mid'),
      files: {
        'top.go': 'package top\n\nfunc F() int { return 3 }\n',
        'extra/extra.go':
          'package extra\n\nimport "example.com/graph/mid"\n\nfunc F() int { return mid.F() }\n',
      },
    });
    const dir = path.join(world.root, 'project-graph');
    writeProject(
      dir,
      'example.com/graphapp',
      { 'example.com/graph/top': 'v1.0.0', 'example.com/m000': 'v1.0.0' },
      world.toolEnv(),
    );
    return dir;
  }

  it('go list -m all and go mod tidy -diff succeed with GOPROXY=off after an exact hit', async () => {
    const env = 'offline-graph';
    const project = graphProject();
    const sum = readGoSum(project);
    expect(sum).toMatch(/^example\.com\/graph\/mid v1\.0\.0\/go\.mod h1:/m);
    expect(sum).not.toMatch(/^example\.com\/graph\/mid v1\.0\.0 h1:/m);
    expect(sum).toMatch(/^example\.com\/graph\/leaf v1\.0\.0\/go\.mod h1:/m);

    const cold = await world.job({ project, inputs: { environment: env } });
    expect(cold.succeeded, cold.log).toBe(true);
    const saved = entriesOf(env);
    expect(saved).toHaveLength(1);
    const listing = entryListing(saved[0]!);
    expect(listing.some((f) => f.endsWith('example.com/graph/mid/@v/v1.0.0.mod'))).toBe(true);
    expect(listing.some((f) => f.endsWith('example.com/graph/leaf/@v/v1.0.0.mod'))).toBe(true);

    const warm = await world.job({
      project,
      inputs: { environment: env },
      env: { GOPROXY: 'off' },
      stepsAfterMain: ['go list -m all', 'go mod tidy -diff', 'go build ./...'].map(step),
    });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.steps.map((s) => s.exitCode)).toEqual([0, 0, 0]);
    expect(warm.steps[0]!.output).toContain('example.com/graph/leaf v1.0.0');
    expect(warm.steps[0]!.output).toContain('example.com/graph/mid v1.0.0');
    expect(warm.steps[1]!.output.trim()).toBe('');
    expect(entriesOf(env)).toHaveLength(1);
  });
});

describe('a go directive newer than the installed Go', () => {
  it('fails main with the installed version, the version go.mod needs and the fix, on the go line', async () => {
    const env = 'too-new';
    const project = path.join(world.root, 'project-go199');
    cpSync(world.project, project, { recursive: true });
    const gomod = path.join(project, 'go.mod');
    writeFileSync(gomod, readFileSync(gomod, 'utf8').replace(/^go 1\.21$/m, 'go 1.99'));
    const installed = execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' })
      .trim()
      .replace(/^go/, '');

    const job = await world.job({
      project,
      inputs: { environment: env },
      env: { GOTOOLCHAIN: 'local' },
    });
    expect(job.main.exitCode).toBe(1);
    expect(job.outputs['verified']).toBe('false');
    const err = parseAnnotations(job.main.stdout).find(
      (c) => c.level === 'error' && c.message.includes('1.99'),
    );
    expect(err, job.log).toBeDefined();
    expect(err!.file).toBe('go.mod');
    expect(err!.line).toBe(lineOf(gomod, 'go 1.99'));
    expect(err!.message).toContain('needs Go >= 1.99');
    expect(err!.message).toContain(`the installed Go is ${installed}`);
    expect(err!.message).toContain('actions/setup-go');
    expect(err!.message).toContain('GOTOOLCHAIN=auto');
    expect(job.summary).toContain('| Verification | not completed |');
    expect(job.summary).toContain('| Saved | nothing: main did not finish');
    expect(entriesOf(env)).toHaveLength(0);
  });
});
