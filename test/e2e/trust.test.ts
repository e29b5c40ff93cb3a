/**
 * What `verified=true` promises, and that nothing weaker replaces a good
 * entry: complete for go.sum, layout-independent, never saved incomplete,
 * case folding, repeated run ids, project problems left alone, cache modes.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeModulePath } from '../../src/go/gosum.js';
import { World } from './harness/world.js';

let world: World;
let seedHome: string;
let seedKey: string;

beforeAll(async () => {
  world = await World.create({ modules: 10 });
  const seed = await world.job({ inputs: { environment: 'seed' } });
  expect(seed.succeeded, seed.log).toBe(true);
  seedHome = seed.home;
  seedKey = seed.outputs['cache-key']!;
});

afterAll(async () => {
  await world?.dispose();
});

const keyFor = (env: string): string => seedKey.replace(';env=seed;', `;env=${env};`);
const entriesOf = (env: string): string[] => world.entriesOf(env);

/** A copy of the seed runner's module cache, writable, to cut pieces out of. */
function seedCacheCopy(): string {
  const dir = path.join(world.cloneRunner(seedHome), 'home', 'go', 'pkg', 'mod');
  return dir;
}

function removeModule(modCache: string, modPath: string, version: string): void {
  const tree = path.join(modCache, `${escapeModulePath(modPath)}@${version}`);
  const dl = path.join(modCache, 'cache', 'download', escapeModulePath(modPath), '@v');
  rmSync(tree, { recursive: true, force: true });
  for (const ext of ['.zip', '.ziphash', '.mod', '.info']) {
    rmSync(path.join(dl, version + ext), { force: true });
  }
}

describe('layout independence', () => {
  it.each([
    { from: 'a shallow workspace', to: 'a deeper one and another HOME', save: 0, restore: 3 },
    { from: 'a deep workspace and another HOME', to: 'a shallow one', save: 4, restore: 0 },
  ])('an entry saved under $from restores where Go looks under $to', async ({ save, restore }) => {
    const env = `layout-${save}-${restore}`;
    const homeAt = (depth: number, name: string): string | undefined => {
      if (depth === 0) return undefined;
      const h = path.join(world.root, 'runners', name, ...Array(depth).fill('x'), 'builder');
      mkdirSync(h, { recursive: true });
      return h;
    };
    const cold = await world.job({
      inputs: { environment: env },
      workspaceDepth: save,
      home: homeAt(save, `${env}-save`),
    });
    expect(cold.succeeded, cold.log).toBe(true);
    const otherHome = homeAt(restore, `${env}-restore`);
    const warm = await world.job({
      inputs: { environment: env },
      workspaceDepth: restore,
      home: otherHome,
      env: { GOPROXY: 'off' },
      stepsAfterMain: ['go build -o app . && ./app'],
    });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.steps[0]?.exitCode, warm.log).toBe(0);
    expect(warm.home).not.toBe(cold.home);
    const depth = (w: string): number => w.split(path.sep).length;
    expect(depth(warm.workspace) - depth(cold.workspace)).toBe(restore - save);
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.outputs['verified']).toBe('true');
    expect(Number(warm.outputs['module-count'])).toBe(13);
    expect(
      existsSync(path.join(warm.home, 'go', 'pkg', 'mod', 'example.com', 'm000@v1.0.0', 'm000.go')),
    ).toBe(true);
    expect(entriesOf(env)).toHaveLength(1);
  });
});

describe('completeness is part of verification', () => {
  it('an empty entry under the exact key is reported, completed by download, and replaced', async () => {
    const env = 'empty-entry';
    const empty = path.join(world.root, 'empty-cache');
    mkdirSync(empty, { recursive: true });
    const planted = `${keyFor(env)};gen=planted-empty`;
    await world.plantDir(empty, planted);

    const job = await world.job({ inputs: { environment: env } });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['cache-matched-key']).toBe(planted);
    expect(job.outputs['hit-kind']).toBe('incomplete');
    expect(job.outputs['cache-hit']).toBe('false');
    expect(job.outputs['verified']).toBe('true');
    expect(job.outputs['module-count']).toBe('13');
    const warning = job.annotations.find((a) => a.message.includes('was incomplete'));
    expect(warning?.message).toContain(planted);
    expect(warning?.message).toMatch(/13 of the module versions go\.sum names/);
    expect(warning?.message).toContain('It put no module there at all');
    const saved = entriesOf(env).filter((k) => k !== planted);
    expect(saved).toHaveLength(1);

    const next = await world.job({ inputs: { environment: env }, env: { GOPROXY: 'off' } });
    expect(next.succeeded, next.log).toBe(true);
    expect(next.outputs['cache-matched-key']).toBe(saved[0]);
    expect(next.outputs['hit-kind']).toBe('exact');
  });

  it('an entry missing one module is completed with only that module downloaded', async () => {
    const env = 'one-missing';
    const cache = seedCacheCopy();
    removeModule(cache, 'example.com/m004', 'v1.0.0');
    const planted = `${keyFor(env)};gen=planted-partial`;
    await world.plantDir(cache, planted);

    const only = world.proxySubset('one-missing', [
      { path: 'example.com/m004', version: 'v1.0.0' },
    ]);
    const job = await world.job({ inputs: { environment: env }, env: { GOPROXY: only } });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['hit-kind']).toBe('incomplete');
    expect(job.outputs['cache-hit']).toBe('false');
    expect(job.outputs['verified']).toBe('true');
    const warning = job.annotations.find((a) => a.message.includes('was incomplete'));
    expect(warning?.message).toMatch(/1 of the module versions go\.sum names/);
    expect(job.summary).toContain('| Downloaded | 1 module versions |');
    expect(entriesOf(env).filter((k) => k !== planted)).toHaveLength(1);
  });

  it('a cache that cannot be completed is never saved', async () => {
    const env = 'cannot-complete';
    const cache = seedCacheCopy();
    removeModule(cache, 'example.com/m005', 'v1.0.0');
    const planted = `${keyFor(env)};gen=planted`;
    await world.plantDir(cache, planted);
    const job = await world.job({ inputs: { environment: env }, env: { GOPROXY: 'off' } });
    expect(job.main.exitCode).toBe(1);
    expect(job.outputs['verified']).toBe('false');
    expect(entriesOf(env)).toEqual([planted]);
  });

  it.each([
    ['empties the module cache', 'go clean -modcache'],
    [
      'removes one verified module (its tree and zip)',
      'chmod -R u+w "$(go env GOMODCACHE)/example.com/m003@v1.0.0" && ' +
        'rm -rf "$(go env GOMODCACHE)/example.com/m003@v1.0.0" ' +
        '"$(go env GOMODCACHE)/cache/download/example.com/m003/@v/v1.0.0.zip"',
    ],
  ])(
    'a later step that %s: post saves no entry that lacks what main verified',
    async (what, step) => {
      const env = `gone-after-main-${what.split(' ')[0]}`;
      const job = await world.job({ inputs: { environment: env }, stepsAfterMain: [step] });
      expect(job.succeeded, job.log).toBe(true);
      expect(job.steps[0]?.exitCode, job.log).toBe(0);
      expect(job.outputs['verified']).toBe('true');
      // Main verified a complete cache; by post it is not complete any more.
      expect(entriesOf(env)).toEqual([]);
      expect(job.post.stdout).toMatch(/not saving/i);
    },
  );
});

describe('an untidy go.sum on an exact hit', () => {
  it('lines beyond the go.mod requirements are noted, not fetched: the exact hit runs no go command', async () => {
    const env = 'untidy';
    const bumped = world.writeProject(path.join(world.root, 'project-untidy-src'), {
      'example.com/m001': 'v1.1.0',
    });
    const extra = readFileSync(path.join(bumped, 'go.sum'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('example.com/m001 v1.1.0 '));
    expect(extra.length).toBeGreaterThan(0);
    const project = path.join(world.root, 'project-untidy');
    cpSync(world.project, project, { recursive: true });
    const sum = path.join(project, 'go.sum');
    writeFileSync(sum, readFileSync(sum, 'utf8') + extra.join('\n') + '\n');

    const first = await world.job({ project, inputs: { environment: env } });
    expect(first.succeeded, first.log).toBe(true);
    expect(first.summary).toContain('go.sum is not tidy');
    const warm = await world.job({
      project,
      inputs: { environment: env },
      env: { GOPROXY: 'off' },
      stepsAfterMain: ['go build -o app . && ./app'],
    });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.outputs['cache-hit']).toBe('true');
    expect(warm.main.stdout).not.toContain('go mod download (in');
    expect(warm.summary).toContain('go.sum is not tidy');
    expect(entriesOf(env)).toHaveLength(1);
  });
});

describe('keys survive case folding', () => {
  it('Prod and prod are two environments on a service that folds case', async () => {
    const upper = await world.job({ inputs: { environment: 'Prod' } });
    const lower = await world.job({ inputs: { environment: 'prod' } });
    expect(upper.succeeded, upper.log).toBe(true);
    expect(lower.succeeded, lower.log).toBe(true);
    expect(upper.outputs['cache-key']!.toLowerCase()).not.toBe(
      lower.outputs['cache-key']!.toLowerCase(),
    );
    const again = await world.job({ inputs: { environment: 'Prod' }, env: { GOPROXY: 'off' } });
    expect(again.outputs['hit-kind']).toBe('exact');
    expect(again.outputs['cache-matched-key']!.startsWith(upper.outputs['cache-key']!)).toBe(true);
  });

  it('a branch with capital letters gets exact hits from the second run on, one entry', async () => {
    world.server.lowerCaseKeys = true;
    try {
      const env = 'caps';
      const first = await world.job({ branch: 'Feature-X', inputs: { environment: env } });
      expect(first.succeeded, first.log).toBe(true);
      for (let i = 0; i < 2; i++) {
        const next = await world.job({ branch: 'Feature-X', inputs: { environment: env } });
        expect(next.outputs['hit-kind'], next.log).toBe('exact');
      }
      expect(entriesOf(env)).toHaveLength(1);
    } finally {
      world.server.lowerCaseKeys = false;
    }
  });
});

describe('repeated run ids', () => {
  it('a repaired entry saved under run id 1 still wins over the corrupt one of run id 1', async () => {
    const env = 'run-id-one';
    const cache = seedCacheCopy();
    const file = path.join(cache, 'example.com', 'm002@v1.0.0', 'm002.go');
    rmSync(file);
    writeFileSync(file, 'package m002 // tampered\n');
    const planted = `${keyFor(env)};gen=1.1`;
    await world.plantDir(cache, planted);
    const heal = await world.job({ inputs: { environment: env }, runId: '1' });
    expect(heal.succeeded, heal.log).toBe(true);
    expect(heal.outputs['rebuilt']).toBe('true');
    const saved = entriesOf(env).filter((k) => k !== planted);
    expect(saved).toHaveLength(1);
    const next = await world.job({
      inputs: { environment: env },
      runId: '1',
      env: { GOPROXY: 'off' },
    });
    expect(next.succeeded, next.log).toBe(true);
    expect(next.outputs['cache-matched-key']).toBe(saved[0]);
    expect(next.outputs['corrupt-modules']).toBe('');
  });
});

describe('a project problem is not corruption', () => {
  it('a local replace directory missing on an exact hit: error on the go.mod line, cache left alone', async () => {
    const env = 'replace-missing';
    const project = path.join(world.root, 'project-replace');
    cpSync(world.project, project, { recursive: true });
    const local = path.join(project, 'local', 'm000');
    mkdirSync(local, { recursive: true });
    writeFileSync(path.join(local, 'go.mod'), 'module example.com/m000\n\ngo 1.21\n');
    writeFileSync(
      path.join(local, 'm000.go'),
      'package m000\n\nfunc Name() string { return "local" }\n',
    );
    const gomod = path.join(project, 'go.mod');
    writeFileSync(
      gomod,
      readFileSync(gomod, 'utf8') + '\nreplace example.com/m000 => ./local/m000\n',
    );
    const line =
      readFileSync(gomod, 'utf8').split('\n').indexOf('replace example.com/m000 => ./local/m000') +
      1;

    const first = await world.job({ project, inputs: { environment: env } });
    expect(first.succeeded, first.log).toBe(true);
    expect(first.summary).toContain('local, not verified by go.sum');

    const broken = path.join(world.root, 'project-replace-broken');
    cpSync(project, broken, { recursive: true });
    rmSync(path.join(broken, 'local'), { recursive: true, force: true });
    const job = await world.job({ project: broken, inputs: { environment: env } });
    expect(job.main.exitCode).toBe(1);
    expect(job.outputs['hit-kind']).toBe('exact');
    expect(job.outputs['corrupt-modules']).toBe('');
    expect(job.outputs['rebuilt']).toBe('false');
    const err = job.main.stdout.split('\n').find((l) => l.startsWith('::error file=go.mod'));
    expect(err, job.log).toContain(`line=${line}`);
    expect(job.main.stdout).not.toContain('go clean');
    expect(existsSync(path.join(world.modCache(job.home), 'example.com', 'm001@v1.0.0'))).toBe(
      true,
    );
    expect(entriesOf(env)).toHaveLength(1);
  });
});

describe('cache modes', () => {
  it('read: restores and verifies, never saves, no warnings for what the token forbids', async () => {
    const env = 'mode-read';
    const job = await world.job({
      inputs: { environment: env },
      env: { ACTIONS_CACHE_MODE: 'read' },
    });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['verified']).toBe('true');
    expect(entriesOf(env)).toHaveLength(0);
    expect(job.summary).toMatch(/\| Cache mode \| read/);
    expect(job.annotations.filter((a) => a.level !== 'notice')).toEqual([]);
    expect(
      world.server.calls('CreateCacheEntry').some((c) => JSON.stringify(c).includes(env)),
    ).toBe(false);
  });

  it('none: neither looks up nor saves', async () => {
    const env = 'mode-none';
    const lookups = world.server.calls('GetCacheEntryDownloadURL').length;
    const job = await world.job({
      inputs: { environment: env },
      env: { ACTIONS_CACHE_MODE: 'none' },
    });
    expect(job.succeeded, job.log).toBe(true);
    expect(world.server.calls('GetCacheEntryDownloadURL').length).toBe(lookups);
    expect(entriesOf(env)).toHaveLength(0);
  });

  it('write-only: skips the restore and saves the verified cache', async () => {
    const env = 'mode-write-only';
    const first = await world.job({ inputs: { environment: env } });
    expect(first.succeeded, first.log).toBe(true);
    const job = await world.job({
      inputs: { environment: env },
      env: { ACTIONS_CACHE_MODE: 'write-only' },
    });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['hit-kind']).toBe('miss');
    expect(entriesOf(env)).toHaveLength(2);
  });
});
