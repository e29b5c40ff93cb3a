/**
 * Issue 22: nothing a cache entry brings is where Go looks until main has
 * proven it. A planted `cache/vcs` repository whose remote is an `ext::`
 * command never runs (a canary file proves it), neither when main's own `go
 * mod download` fetches a private module nor when a later step does; a
 * `.info` with a planted Origin is not carried; a step between pre and main
 * sees no restored module; when main never runs, nothing restored is ever in
 * the module cache and post removes the quarantine; the summary names what
 * was dropped. The real go command and the real git binary throughout.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGitModules, type GitModules } from './harness/git-modules.js';
import { writeProject } from './harness/goproxy.js';
import { entryArchive } from './harness/plant-entry.js';
import { World } from './harness/world.js';

const LIB = 'git.internal.test/team/lib.git';
const INFO_VICTIM = 'example.com/m000';
const QUARANTINE = '.verified-go-cache-quarantine';

let world: World;
let git: GitModules;
/** The sample project plus the private module LIB@v1.0.0 (its go.sum names it). */
let privateProject: string;
/** A finished job of the plain project: its runner's module cache is a good one. */
let seed: { home: string; key: string };

beforeAll(async () => {
  world = await World.create({ modules: 4 });
  git = createGitModules(path.join(world.root, 'git'), [
    {
      path: LIB,
      versions: [
        { version: 'v1.0.0', files: { 'lib.go': 'package lib\n\nfunc F() int { return 7 }\n' } },
        { version: 'v1.1.0', files: { 'lib.go': 'package lib\n\nfunc F() int { return 8 }\n' } },
      ],
    },
  ]);
  privateProject = path.join(world.root, 'project-private');
  const requires: Record<string, string> = { ...world.set.special, [LIB]: 'v1.0.0' };
  for (const p of world.set.plain) requires[p] = 'v1.0.0';
  writeProject(privateProject, 'example.com/app', requires, { ...world.toolEnv(), ...git.env });
  const job = await world.job({ inputs: { environment: 'seed' } });
  expect(job.succeeded, job.log).toBe(true);
  seed = { home: job.home, key: job.outputs['cache-key']! };
});

afterAll(async () => {
  await world?.dispose();
});

/**
 * A bare clone of LIB as Go keeps one in `cache/vcs/<hash>/` (made by the real
 * go command), turned hostile: its origin is an `ext::` command that writes
 * `canary`, and the repository's own config allows the ext transport.
 */
function plantedVcs(canary: string): string {
  const scratch = path.join(world.root, `vcs-${path.basename(canary)}`);
  const modCache = path.join(scratch, 'mod');
  execFileSync('go', ['mod', 'download', '-json', `${LIB}@v1.0.0`], {
    cwd: world.root,
    env: { ...world.toolEnv(), ...git.env, GOMODCACHE: modCache, GOPROXY: 'off' },
    stdio: 'ignore',
  });
  const vcs = path.join(modCache, 'cache', 'vcs');
  const repo = readdirSync(vcs).find((n) => !n.includes('.'))!;
  const config = path.join(vcs, repo, 'config');
  execFileSync('git', ['config', '-f', config, 'remote.origin.url', `ext::sh -c touch% ${canary}`]);
  execFileSync('git', ['config', '-f', config, 'protocol.ext.allow', 'always']);
  return vcs;
}

/** Adds the planted repository to a module cache, as an attacker's entry would hold it. */
function plantVcsInto(modCache: string, canary: string): void {
  execFileSync('chmod', ['-R', 'u+w', modCache]);
  cpSync(plantedVcs(canary), path.join(modCache, 'cache', 'vcs'), { recursive: true });
}

/** The download directory of a module in a module cache. */
const downloadDir = (modCache: string, modulePath: string) =>
  path.join(modCache, 'cache', 'download', ...modulePath.split('/'), '@v');

/** The text of one member of a saved entry. */
function entryFile(key: string, suffix: string): string {
  const name = world.entryListing(key).find((n) => n.endsWith(suffix));
  if (!name) throw new Error(`no member ending in ${suffix} in ${key}`);
  return execFileSync('tar', ['-xOf', entryArchive(world, key), name], { encoding: 'utf8' });
}

/** Files under a directory, or [] when it does not exist. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('a planted cache/vcs repository and a planted .info, on a lineage hit', () => {
  it('never runs the planted command; the private module comes from its source; nothing planted is kept or saved', async () => {
    const env = 'lineage-vcs';
    const canary = path.join(world.root, 'canary-lineage');
    const runner = world.cloneRunner(seed.home);
    const modCache = world.modCache(path.join(runner, 'home'));
    plantVcsInto(modCache, canary);
    const planted = seed.key.replace(';env=seed;', `;env=${env};`) + ';gen=planted';
    await world.plantDir(modCache, planted);
    expect(world.entryListing(planted).some((n) => n.includes('cache/vcs/'))).toBe(true);

    const job = await world.job({
      project: privateProject,
      inputs: { environment: env },
      env: git.env,
    });
    expect(job.succeeded, job.log).toBe(true);
    expect(existsSync(canary), 'the planted ext:: command ran').toBe(false);
    expect(job.outputs['hit-kind']).toBe('lineage');
    expect(job.outputs['cache-matched-key']).toBe(planted);
    expect(job.outputs['verified']).toBe('true');
    const mc = world.modCache(job.home);
    // The private module, from its repository.
    expect(readFileSync(path.join(mc, `${LIB}@v1.0.0`, 'lib.go'), 'utf8')).toContain('return 7');
    // (f) The summary names what the restore dropped.
    expect(job.summary).toMatch(
      /dropped \d+ files the module cache layout does not define: cache\/vcs\//,
    );

    // The saved entry: no vcs data.
    const saved = world.entriesOf(env).filter((k) => k !== planted);
    expect(saved).toHaveLength(1);
    expect(world.entryListing(saved[0]!).filter((n) => n.includes('cache/vcs'))).toEqual([]);
    expect(world.entryModules(saved[0]!)).toContain(`${LIB}@v1.0.0`);
  });
});

describe('a .info with a planted Origin', () => {
  it('is not carried: main writes the version and its time, and the saved entry holds that', async () => {
    const env = 'lineage-info';
    const runner = world.cloneRunner(seed.home);
    const modCache = world.modCache(path.join(runner, 'home'));
    execFileSync('chmod', ['-R', 'u+w', modCache]);
    // Another origin, and a field Go never writes.
    writeFileSync(
      path.join(downloadDir(modCache, INFO_VICTIM), 'v1.0.0.info'),
      JSON.stringify({
        Version: 'v1.0.0',
        Time: '2024-02-03T04:05:06Z',
        Origin: { VCS: 'git', URL: 'https://attacker.invalid/m000', Hash: 'f'.repeat(40) },
        Planted: true,
      }),
    );
    const planted = seed.key.replace(';env=seed;', `;env=${env};`) + ';gen=planted';
    await world.plantDir(modCache, planted);
    // go.sum moved on (m001 bumped): a lineage hit, and a new entry is saved.
    const bumped = world.writeProject(path.join(world.root, 'project-info'), {
      'example.com/m001': 'v1.1.0',
    });
    const job = await world.job({ project: bumped, inputs: { environment: env } });
    expect(job.outputs['cache-matched-key']).toBe(planted);
    const want = { Version: 'v1.0.0', Time: '2024-02-03T04:05:06Z' };
    const mc = world.modCache(job.home);
    expect(
      JSON.parse(readFileSync(path.join(downloadDir(mc, INFO_VICTIM), 'v1.0.0.info'), 'utf8')),
    ).toEqual(want);
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['hit-kind']).toBe('lineage');
    const saved = world.entriesOf(env).filter((k) => k !== planted);
    expect(saved).toHaveLength(1);
    expect(JSON.parse(entryFile(saved[0]!, `${INFO_VICTIM}/@v/v1.0.0.info`))).toEqual(want);
  });
});

describe('a planted cache/vcs repository on an exact hit', () => {
  it('is never written: verified=true, and a later step that fetches the private module runs no planted command', async () => {
    const env = 'exact-vcs';
    const cold = await world.job({
      project: privateProject,
      inputs: { environment: env },
      env: git.env,
    });
    expect(cold.succeeded, cold.log).toBe(true);
    const canary = path.join(world.root, 'canary-exact');
    const runner = world.cloneRunner(cold.home);
    const modCache = world.modCache(path.join(runner, 'home'));
    // The job's own clone of LIB is replaced by the hostile one.
    rmSync(path.join(modCache, 'cache', 'vcs'), { recursive: true, force: true });
    plantVcsInto(modCache, canary);
    const planted = `${cold.outputs['cache-key']!};gen=planted`;
    await world.plantDir(modCache, planted);

    const job = await world.job({
      project: privateProject,
      inputs: { environment: env },
      env: git.env,
      stepsAfterMain: [
        'test ! -e "$(go env GOMODCACHE)/cache/vcs" && echo no-vcs-after-main',
        `go mod download -json ${LIB}@v1.1.0`,
      ],
    });
    expect(existsSync(canary), 'the planted ext:: command ran').toBe(false);
    expect(job.steps[0]!.output).toContain('no-vcs-after-main');
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['hit-kind']).toBe('exact');
    expect(job.outputs['cache-matched-key']).toBe(planted);
    expect(job.outputs['verified']).toBe('true');
    // The step fetched from the real repository.
    const dir = path.join(world.modCache(job.home), `${LIB}@v1.1.0`);
    expect(readFileSync(path.join(dir, 'lib.go'), 'utf8')).toContain('return 8');
  });
});

describe('a step between pre and main', () => {
  it('sees no restored module: go list -m all with GOPROXY=off cannot resolve anything, and GOMODCACHE is empty', async () => {
    const env = 'between';
    const first = await world.job({ inputs: { environment: env } });
    expect(first.succeeded, first.log).toBe(true);
    const job = await world.job({
      inputs: { environment: env },
      stepsBeforeMain: [
        'GOPROXY=off go list -m all 2>&1 || echo "go list exit $?"',
        'echo "files: $(find "$(go env GOMODCACHE)" -type f 2>/dev/null | wc -l)"',
      ],
      stepsAfterMain: ['GOPROXY=off go list -m all'],
    });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.pre!.stdout).toContain(`Restored ${first.outputs['cache-key']!}`);
    const [list, files] = job.stepsBefore;
    expect(list!.output).toContain('module lookup disabled by GOPROXY=off');
    expect(list!.output).toContain('go list exit 1');
    expect(files!.output).toContain('files: 0');
    // After main the same command works offline: the entry was there all along, proven.
    expect(job.outputs['hit-kind']).toBe('exact');
    expect(job.outputs['verified']).toBe('true');
    expect(job.steps[0]!.exitCode, job.steps[0]!.output).toBe(0);
    expect(job.steps[0]!.output).toContain('example.com/m000 v1.0.0');
  });
});

describe('main never runs', () => {
  it('leaves nothing restored in the module cache, and post removes the quarantine', async () => {
    const env = 'no-main';
    const first = await world.job({ inputs: { environment: env } });
    expect(first.succeeded, first.log).toBe(true);
    const job = await world.job({
      inputs: { environment: env },
      stepsBeforeMain: ['ls -A "$(dirname "$(go env GOMODCACHE)")/' + QUARANTINE + '" && exit 1'],
    });
    expect(job.pre!.stdout).toContain(`Restored ${first.outputs['cache-key']!}`);
    expect(job.main.stage).toContain('skipped');
    expect(job.post.exitCode).toBe(0);
    // Nothing of the entry ever was where Go looks...
    const mc = world.modCache(job.home);
    expect(filesUnder(mc)).toEqual([]);
    // ...it waited in the quarantine while the failing step ran, and post removed it.
    expect(job.stepsBefore[0]!.exitCode).toBe(1);
    expect(job.stepsBefore[0]!.output.trim()).not.toBe('');
    expect(existsSync(path.join(path.dirname(mc), QUARANTINE))).toBe(false);
    expect(world.entriesOf(env)).toHaveLength(1);
  });
});

/** A directory on another file system than the test's, when the machine has one (tmpfs). */
const otherFs =
  existsSync('/dev/shm') && statSync('/dev/shm').dev !== statSync(os.tmpdir()).dev
    ? '/dev/shm'
    : undefined;

describe('pre guessed another GOMODCACHE than Go uses, on another file system', () => {
  it.skipIf(otherFs === undefined)(
    'main copies the proven versions across (a rename cannot), and no quarantine is left',
    async () => {
      const env = 'exdev';
      const first = await world.job({ inputs: { environment: env } });
      expect(first.succeeded, first.log).toBe(true);
      const goModCache = path.join(mkdtempSync(path.join(otherFs!, 'vgc-exdev-')), 'mod');
      try {
        // setup-go (say) points Go elsewhere: pre, before it, guessed the default.
        const job = await world.job({
          inputs: { environment: env },
          stageEnv: { main: { GOMODCACHE: goModCache }, post: { GOMODCACHE: goModCache } },
        });
        expect(job.succeeded, job.log).toBe(true);
        expect(job.outputs['hit-kind']).toBe('exact');
        expect(job.outputs['verified']).toBe('true');
        expect(job.main.stdout).toContain('copied: the quarantine is on another file system');
        expect(existsSync(path.join(goModCache, 'example.com', 'm000@v1.0.0'))).toBe(true);
        const guessed = world.modCache(job.home);
        expect(filesUnder(guessed)).toEqual([]);
        expect(existsSync(path.join(path.dirname(guessed), QUARANTINE))).toBe(false);
      } finally {
        execFileSync('chmod', ['-R', 'u+w', path.dirname(goModCache)]);
        rmSync(path.dirname(goModCache), { recursive: true, force: true });
      }
    },
  );
});
