/**
 * replace directives, go.work `use` lines and vendoring, as a user sees them:
 * a broken directive is an error annotation on its own line (the job fails,
 * nothing is saved); a module replacement is verified under its new path; a
 * local replacement and a vendored module are reported, not cached.
 */
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

/**
 * A user step run with a build cache shared by the jobs of this file: the
 * module cache is still each runner's own, only compiling the standard
 * library again for every job is spared.
 */
const step = (cmd: string): string =>
  `export GOCACHE=${JSON.stringify(path.join(world.root, 'shared-gocache'))}; ${cmd}`;

const entriesOf = (env: string): string[] => world.entriesOf(env);

/** 1-based number of the first line of `file` that equals `text` once trimmed. */
function lineOf(file: string, text: string): number {
  return (
    readFileSync(file, 'utf8')
      .split('\n')
      .findIndex((l) => l.trim() === text) + 1
  );
}

/** A copy of the sample project with `directive` appended to its go.mod. */
function withDirective(name: string, directive: string): { dir: string; gomod: string } {
  const dir = path.join(world.root, `project-${name}`);
  cpSync(world.project, dir, { recursive: true });
  const gomod = path.join(dir, 'go.mod');
  writeFileSync(gomod, `${readFileSync(gomod, 'utf8')}\n${directive}\n`);
  return { dir, gomod };
}

/** Writes a folder with one Go file for package m002 and, if given, a go.mod. */
function localFolder(dir: string, goMod?: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'm002.go'), 'package m002\n\nfunc F() int { return 2002 }\n');
  if (goMod !== undefined) writeFileSync(path.join(dir, 'go.mod'), goMod);
}

describe('a broken local replacement is an error on its replace line', () => {
  const directive = 'replace example.com/m002 => ./local/m002';

  it.each([
    [
      'the directory is missing',
      'rep-missing',
      undefined,
      'the directory local/m002 does not exist in the checkout',
    ],
    ['the directory has no go.mod', 'rep-nogomod', '', 'local/m002 has no go.mod'],
    [
      'its go.mod declares another path',
      'rep-wrongpath',
      'module example.com/other\n\ngo 1.21\n',
      'local/m002/go.mod declares module example.com/other, not example.com/m002',
    ],
  ])(
    'when %s: main fails, the annotation names the fix, nothing is saved',
    async (_l, env, goMod, says) => {
      const { dir, gomod } = withDirective(env, directive);
      if (goMod !== undefined) localFolder(path.join(dir, 'local', 'm002'), goMod || undefined);

      const job = await world.job({ project: dir, inputs: { environment: env } });
      expect(job.main.exitCode, job.log).toBe(1);
      expect(job.outputs['verified']).toBe('false');
      expect(job.outputs['rebuilt']).toBe('false');
      expect(job.outputs['corrupt-modules']).toBe('');
      const err = parseAnnotations(job.main.stdout).find(
        (c) => c.level === 'error' && c.message.includes(says),
      );
      expect(err, job.log).toBeDefined();
      expect(err!.file).toBe('go.mod');
      expect(err!.line).toBe(lineOf(gomod, directive));
      expect(err!.message).toContain(directive);
      // Paths as in the repository, not the runner's checkout folder.
      expect(err!.message).not.toContain(job.workspace);
      expect(job.main.stdout).not.toContain('go clean');
      // The step fails naming the file and line; the summary says nothing was verified or saved.
      expect(job.main.stdout).toContain(`::error::The project cannot be loaded`);
      expect(job.main.stdout).toContain(`go.mod:${err!.line}: ${directive}`);
      expect(job.summary).toContain('| Verification | not completed |');
      expect(job.summary).toContain('| Saved | nothing: main did not finish');
      expect(entriesOf(env)).toHaveLength(0);
    },
  );
});

describe('replacements that work', () => {
  it('a module replacement x => y v1.2.3 is verified as y and cached as y', async () => {
    const env = 'rep-module';
    publish(world.proxyDir, {
      path: 'example.com/fork',
      version: 'v1.2.3',
      goMod: 'module example.com/fork\n\ngo 1.21\n',
      files: { 'm002.go': 'package m002\n\nfunc F() int { return 4002 }\n' },
    });
    const { dir } = withDirective(env, 'replace example.com/m002 => example.com/fork v1.2.3');
    runGo(['mod', 'tidy'], dir, world.toolEnv());
    expect(readGoSum(dir)).toMatch(/^example\.com\/fork v1\.2\.3 h1:/m);

    const cold = await world.job({ project: dir, inputs: { environment: env } });
    expect(cold.succeeded, cold.log).toBe(true);
    expect(cold.outputs['verified']).toBe('true');
    expect(cold.summary).toContain(
      'example.com/m002 replaced by example.com/fork@v1.2.3, verified as example.com/fork',
    );
    const saved = entriesOf(env);
    expect(saved).toHaveLength(1);
    const carried = world.entryModules(saved[0]!);
    expect(carried).toContain('example.com/fork@v1.2.3');
    expect(carried.filter((m) => m.startsWith('example.com/m002@'))).toEqual([]);

    const warm = await world.job({
      project: dir,
      inputs: { environment: env },
      env: { GOPROXY: 'off' },
      stepsAfterMain: [step('go build -o app . && ./app')],
    });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.outputs['hit-kind']).toBe('exact');
  });

  it('a local replacement is listed as local, not verified by go.sum, and kept out of the entry', async () => {
    const env = 'rep-local';
    const { dir } = withDirective(env, 'replace example.com/m002 => ./local/m002');
    localFolder(path.join(dir, 'local', 'm002'), 'module example.com/m002\n\ngo 1.21\n');
    runGo(['mod', 'tidy'], dir, world.toolEnv());

    const job = await world.job({
      project: dir,
      inputs: { environment: env },
      stepsAfterMain: [step('go build -o app . && ./app')],
    });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['verified']).toBe('true');
    expect(job.summary).toContain(
      'example.com/m002 replaced by ./local/m002 (local, not verified by go.sum)',
    );
    expect(job.annotations.filter((a) => a.level !== 'notice')).toEqual([]);
    const saved = entriesOf(env);
    expect(saved).toHaveLength(1);
    expect(world.entryModules(saved[0]!).filter((m) => m.startsWith('example.com/m002@'))).toEqual(
      [],
    );
  });
});

describe('a go.work use line naming a missing directory', () => {
  it('is an error on that go.work line; the job fails and saves nothing', async () => {
    const env = 'work-missing-use';
    const dir = path.join(world.root, 'project-work-missing');
    writeProject(
      path.join(dir, 'a'),
      'example.com/ws/a',
      { [world.set.plain[0]!]: 'v1.0.0' },
      world.toolEnv(),
    );
    runGo(['work', 'init', './a'], dir, world.toolEnv());
    const goWork = path.join(dir, 'go.work');
    writeFileSync(goWork, `${readFileSync(goWork, 'utf8')}\nuse ./gone\n`);

    const job = await world.job({ project: dir, inputs: { environment: env } });
    expect(job.main.exitCode, job.log).toBe(1);
    const err = parseAnnotations(job.main.stdout).find(
      (c) => c.level === 'error' && c.message.includes('use ./gone'),
    );
    expect(err, job.log).toBeDefined();
    expect(err!.file).toBe('go.work');
    expect(err!.line).toBe(lineOf(goWork, 'use ./gone'));
    expect(err!.message).toContain('the directory gone does not exist in the checkout');
    expect(err!.message).not.toContain(job.workspace);
    expect(job.summary).toContain('| Verification | not completed |');
    expect(job.summary).toContain('| Saved | nothing: main did not finish');
    expect(entriesOf(env)).toHaveLength(0);
  });
});

describe('a vendored module', () => {
  it('is reported in one summary line and one notice on vendor/modules.txt', async () => {
    const env = 'vendored';
    const dir = path.join(world.root, 'project-vendored');
    cpSync(world.project, dir, { recursive: true });
    runGo(['mod', 'vendor'], dir, world.toolEnv());

    const job = await world.job({
      project: dir,
      inputs: { environment: env },
      stepsAfterMain: [step('go build -o app . && ./app')],
    });
    expect(job.succeeded, job.log).toBe(true);
    const lines = job.summary.split('\n').filter((l) => l.includes('vendors its dependencies'));
    expect(lines, job.summary).toHaveLength(1);
    expect(lines[0]).toContain('| Vendored |');
    const notices = parseAnnotations(job.main.stdout).filter((c) =>
      c.message.includes('vendors its dependencies'),
    );
    expect(notices).toHaveLength(1);
    expect(notices[0]!.level).toBe('notice');
    expect(notices[0]!.file).toBe('vendor/modules.txt');
  });
});
