/**
 * npx tsx scripts/bench-generations.ts [--reps N]
 *
 * Generations on the real workload: ten go.sum bumps of bench/real-workload,
 * our job on each in turn (one environment: each generation restores the one
 * before by lineage and saves its own exact entry) beside the restore-keys
 * recipe (restore the newest `recipe-` entry, `go mod download`, save the
 * whole module cache again). Then, on generation 10's go.sum, our tenth entry
 * against a fresh entry of the same go.sum (a cold job in a new environment)
 * and against the recipe's tenth entry: archive size and warm time.
 *
 * Generation 10 is bench/real-workload as it is; generations 1..9 pin a
 * growing set of its direct requirements to older releases
 * (scripts/generations-plan.ts). They are resolved once from the Go module
 * proxy into .bench/real-generations (git ignored) and served offline from
 * there as a file:// proxy.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MODCACHE_SPEC, World } from '../test/e2e/harness/world.js';
import { BENCH_DIR, REAL_DIR, REAL_PROJECT } from './bench-real.js';
import {
  cleanExactHit,
  ensureOk,
  entrySize,
  goIn,
  jobMs,
  makeRow,
  rowsTable,
  restoreKeysRecipe,
  runnerWith,
  savedKey,
  sweep,
  type Job,
  type Row,
} from './bench-util.js';
import { GENERATIONS, getArgs, pinsFor, sumStep, zipVersions } from './generations-plan.js';
import { fmtMB, fmtS, median } from './stats.js';

export const GEN_DIR = path.join(BENCH_DIR, 'real-generations');
const GEN_MODCACHE = path.join(GEN_DIR, 'modcache');
/** The offline proxy: every generation's modules (the generations' module cache downloads). */
const GEN_PROXY = path.join(GEN_MODCACHE, 'cache', 'download');

/** Size tolerance of the tenth entry against a fresh one (archives of the same files differ slightly). */
const SIZE_TOLERANCE = 0.02;
/** Warm-time tolerance of the tenth entry against a fresh one (same work; the rest is noise). */
const WARM_TOLERANCE = 0.1;

const goBase = (): NodeJS.ProcessEnv => ({
  ...process.env,
  GOMODCACHE: GEN_MODCACHE,
  GOTOOLCHAIN: 'local',
  GOWORK: 'off',
});

/**
 * Whether `dir`'s go.mod and go.sum serve what a job runs, offline from the
 * generations' proxy and read-only: `go mod download` and `go list -m all`
 * must succeed and leave both files as they are.
 */
function offlineOk(dir: string): boolean {
  const files = ['go.mod', 'go.sum'].map((f) => path.join(dir, f));
  if (!files.every((f) => existsSync(f))) return false;
  const before = files.map((f) => readFileSync(f, 'utf8'));
  const env = { ...goBase(), GOPROXY: 'off', GOFLAGS: '-mod=readonly', GOSUMDB: 'off' };
  for (const argv of [
    ['mod', 'download'],
    ['list', '-m', 'all'],
  ]) {
    if (spawnSync('go', argv, { cwd: dir, env, stdio: 'ignore' }).status !== 0) return false;
  }
  return files.every((f, i) => readFileSync(f, 'utf8') === before[i]);
}

/**
 * The ten generations' projects (.bench/real-generations/gen-<g>) and their
 * proxy directory: resolved once (network), offline afterwards. A generation
 * is resolved again when its pins changed or it no longer works offline.
 */
export function realGenerationProjects(log: (s: string) => void): {
  projects: string[];
  proxyDir: string;
} {
  const projects: string[] = [];
  for (let g = 1; g <= GENERATIONS; g++) {
    const dir = path.join(GEN_DIR, `gen-${g}`);
    projects.push(dir);
    const pins = getArgs(pinsFor(g));
    const marker = path.join(GEN_DIR, `gen-${g}.pins`);
    const planned = pins.join('\n') + '\n';
    if (existsSync(marker) && readFileSync(marker, 'utf8') === planned && offlineOk(dir)) continue;
    log(`resolving generation ${g} (${pins.length} pinned) from the Go module proxy (once)...`);
    mkdirSync(dir, { recursive: true });
    for (const f of ['go.mod', 'go.sum', 'main.go']) {
      copyFileSync(path.join(REAL_PROJECT, f), path.join(dir, f));
    }
    // What .bench/real already holds is served from there; the rest comes from the proxy.
    const env = {
      ...goBase(),
      GOFLAGS: '-mod=mod',
      GOPROXY: `${pathToFileURL(path.join(REAL_DIR, 'modcache', 'cache', 'download')).href},https://proxy.golang.org`,
    };
    const go = (argv: string[]): void => {
      execFileSync('go', argv, { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] });
    };
    if (pins.length) {
      go(['get', ...pins]);
      go(['mod', 'tidy']);
    }
    // main runs `go list -m all` when it downloads: go.sum must cover the
    // module graph's go.mod files too, and the proxy must hold their .info.
    go(['list', '-m', 'all']);
    go(['mod', 'download']);
    if (!offlineOk(dir)) throw new Error(`generation ${g} does not work offline: see ${dir}`);
    writeFileSync(marker, planned);
  }
  return { projects, proxyDir: GEN_PROXY };
}

/** The change from `a` to `b` as a signed percentage. */
const growth = (a: number, b: number): string =>
  `${b >= a ? '+' : ''}${((b / a - 1) * 100).toFixed(1)}%`;

interface Generation {
  g: number;
  kind: string;
  matched: string;
  key: string;
  size: number;
  ms: number;
  recipeSize: number;
  recipeMatched: string;
}

/** The recipe's warm path: a bare restore of `key` into an empty module cache, then `go mod download` offline. */
async function recipeWarm(world: World, project: string, key: string): Promise<number> {
  const { runner, home, ws } = runnerWith(world, project);
  const r = await world.cacheClient(runner, ['restore', key, MODCACHE_SPEC]);
  if (r.code !== 0 || !r.output.includes(`restored ${key}`)) {
    throw new Error(`recipe restore of ${key} failed: ${r.output}`);
  }
  return r.ms + (await goIn(ws, world, home, ['mod', 'download'], { GOPROXY: 'off' }));
}

/** A warm job on `project` in `environment`: an exact, verified hit on `key`. */
async function warmHit(world: World, project: string, environment: string, key: string) {
  const j: Job = await world.job({ project, inputs: { environment } });
  ensureOk(j, `warm job (${environment})`);
  cleanExactHit(j, `warm job (${environment})`);
  if (j.outputs['cache-matched-key'] !== key) {
    throw new Error(
      `warm job (${environment}) restored ${j.outputs['cache-matched-key']}, not ${key}`,
    );
  }
  return jobMs(j);
}

export async function realGenerations(opts: {
  reps: number;
  log: (s: string) => void;
}): Promise<{ rows: Row[]; notes: string[] }> {
  const { reps, log } = opts;
  const started = Date.now();
  const { projects, proxyDir } = realGenerationProjects(log);
  const last = projects[GENERATIONS - 1]!;
  const sums = projects.map((p) => readFileSync(path.join(p, 'go.sum'), 'utf8'));
  const rows: Row[] = [];
  const notes: string[] = [];
  const world = await World.create({ modules: 0, existing: { proxyDir, project: last } });
  try {
    const gens: Generation[] = [];
    for (let g = 1; g <= GENERATIONS; g++) {
      const project = projects[g - 1]!;
      log(`generation ${g}: our job, then the restore-keys recipe`);
      const j = await world.job({ project, inputs: { environment: 'gen' } });
      ensureOk(j, `generation ${g}`);
      const key = savedKey(world, j);
      if (gens.some((x) => x.key === key)) throw new Error(`generation ${g} saved no entry`);
      const recipeMatched = await restoreKeysRecipe(world, project, `recipe-${g}`, 'recipe-');
      // The recipe restores the newest `recipe-` entry: older ones are never read again.
      const stale = world.server.finalized().filter((e) => e.key === `recipe-${g - 1}`);
      for (const e of stale) world.server.deleteEntry(e.id);
      gens.push({
        g,
        kind: j.outputs['hit-kind'] ?? '?',
        matched: j.outputs['cache-matched-key'] ?? '',
        key,
        size: entrySize(world, key),
        ms: jobMs(j),
        recipeSize: entrySize(world, `recipe-${g}`),
        recipeMatched,
      });
      sweep(world);
    }
    const tenth = gens[GENERATIONS - 1]!;

    log('fresh entry of generation 10: a cold job in a new environment');
    const cold = await world.job({ project: last, inputs: { environment: 'fresh' } });
    ensureOk(cold, 'fresh job');
    if (cold.outputs['hit-kind'] !== 'miss') throw new Error('the fresh job was not a miss');
    const freshKey = savedKey(world, cold);
    const freshSize = entrySize(world, freshKey);
    sweep(world);

    log(`warm: tenth entry, fresh entry, recipe's tenth, interleaved x${reps}`);
    const warmTenth: number[] = [];
    const warmFresh: number[] = [];
    const warmRecipe: number[] = [];
    for (let i = 0; i < reps; i++) {
      warmTenth.push(await warmHit(world, last, 'gen', tenth.key));
      warmFresh.push(await warmHit(world, last, 'fresh', freshKey));
      warmRecipe.push(await recipeWarm(world, last, `recipe-${GENERATIONS}`));
      sweep(world);
    }

    rows.push(
      makeRow({
        measure:
          'real workload, 10 generations: 10th entry vs a fresh entry of the same go.sum, size',
        ours: fmtMB(tenth.size),
        baseline: fmtMB(freshSize),
        a: tenth.size,
        b: freshSize,
        target: `≤ ${(1 + SIZE_TOLERANCE).toFixed(2)}x`,
        limit: 1 + SIZE_TOLERANCE,
      }),
      makeRow({
        measure:
          'real workload, 10 generations: 10th entry vs a fresh entry of the same go.sum, warm exact hit (pre+main+post)',
        ours: fmtS(median(warmTenth)),
        baseline: fmtS(median(warmFresh)),
        a: median(warmTenth),
        b: median(warmFresh),
        target: `≤ ${(1 + WARM_TOLERANCE).toFixed(2)}x`,
        limit: 1 + WARM_TOLERANCE,
      }),
      makeRow({
        measure:
          "real workload, 10 generations: 10th entry vs the restore-keys recipe's 10th, size",
        ours: fmtMB(tenth.size),
        baseline: fmtMB(tenth.recipeSize),
        a: tenth.size,
        b: tenth.recipeSize,
      }),
      makeRow({
        measure:
          "real workload, 10 generations: 10th entry's warm exact hit (pre+main+post) vs the recipe's warm path (bare restore of its 10th entry + go mod download offline)",
        ours: fmtS(median(warmTenth)),
        baseline: fmtS(median(warmRecipe)),
        a: median(warmTenth),
        b: median(warmRecipe),
      }),
    );

    const lineage = gens.every((x, i) => i === 0 || x.matched === gens[i - 1]!.key);
    const steps = gens.map((x) => {
      if (x.g === 1) return `${zipVersions(sums[0]!).length} versions`;
      const s = sumStep(sums[x.g - 2]!, sums[x.g - 1]!);
      return `+${s.added}/-${s.removed}`;
    });
    notes.push(
      'real workload, 10 generations: generation 10 is bench/real-workload; generations 1..9 pin ' +
        '2 more of its direct requirements each to older releases (scripts/generations-plan.ts). ' +
        `go.sum zip versions per generation (1, then the step from the one before): ${steps.join(', ')}.`,
      `real workload, 10 generations: our entry per generation: ${gens.map((x) => fmtMB(x.size)).join(', ')}; ` +
        `the recipe's: ${gens.map((x) => fmtMB(x.recipeSize)).join(', ')}; a fresh entry of generation 10: ${fmtMB(freshSize)}. ` +
        `From the first generation to the tenth ours changed by ${growth(gens[0]!.size, tenth.size)}, the recipe's by ` +
        `${growth(gens[0]!.recipeSize, tenth.recipeSize)} (it saves trees and zips, and keeps every version an earlier generation downloaded).`,
      `real workload, 10 generations: our jobs' hit-kind per generation: ${gens.map((x) => `${x.g} ${x.kind}`).join(', ')}; ` +
        `job time per generation: ${gens.map((x) => fmtS(x.ms, 1)).join(', ')}; ` +
        `the recipe restored: ${gens.map((x) => x.recipeMatched).join(', ')}; ` +
        `each of our generations 2..10 restored the entry of the one before: ${lineage ? 'yes' : 'NO'}.`,
      `real workload, 10 generations: warm medians of ${reps}: tenth entry ${fmtS(median(warmTenth))}, ` +
        `fresh entry ${fmtS(median(warmFresh))}, recipe ${fmtS(median(warmRecipe))}; the section took ${fmtS(Date.now() - started, 0)}.`,
    );
  } finally {
    await world.dispose();
  }
  return { rows, notes };
}

/** Standalone: runs the section and prints its markdown. */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--reps');
  const reps = at >= 0 ? Number(args[at + 1]) : 3;
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps takes a positive integer');
  const log = (s: string): void =>
    console.error(`[bench-generations] ${new Date().toISOString().slice(11, 19)} ${s}`);
  if (args.includes('--resolve-only')) {
    realGenerationProjects(log);
    return;
  }
  log(`runners in ${os.tmpdir()}; ${reps} repetition(s)`);
  const { rows, notes } = await realGenerations({ reps, log });
  const md = [
    '## Generations on the real workload',
    '',
    rowsTable(rows),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
  mkdirSync(BENCH_DIR, { recursive: true });
  writeFileSync(path.join(BENCH_DIR, 'results.generations.md'), md);
  console.log(md);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  await main();
}
