/**
 * tsx scripts/bench-buildcache.ts [--reps N] [--generations N] [--minutes M] [--fresh]
 *
 * The build cache (build-cache: true) on the real workload (bench/real-workload),
 * every job a full pre+main+step+post run against the local cache service,
 * the step being `go build ./... && go vet ./...`:
 *
 *  1. a warm build cache against a cold one, whole job and step alone,
 *     including the cost of restoring (main) and saving (post). The cold
 *     build is measured once, in the first job (both caches cold); the cold
 *     job is that step plus the time of a build-cache-off job around a no-op
 *     step (a second cold build of this workload takes many minutes and would
 *     measure the compiler, not the action);
 *  2. the same warm job against setup-go's approach: one entry holding the
 *     module cache and the build cache, restored by the cache client, no
 *     verification, then the same step;
 *  3. go.sum generations (github.com/redis/go-redis/v9 bumped each time, up to
 *     ten, as many as --minutes allows): the last entry against the first, and
 *     against what the restore-keys recipe (restore the newest, save
 *     everything) would hold: the union of every generation's files. --fresh
 *     also builds a fresh entry for the last go.sum (another cold build).
 *
 * Every job sets GOFLAGS=-trimpath: each emulated runner lives at its own path,
 * and without -trimpath Go's action IDs include the packages' directories
 * (HOME's module cache, the workspace), which hosted runners keep identical
 * from job to job. Generations need the network once (the Go module proxy) to
 * resolve the bumped versions into .bench/real/modcache; afterwards all is
 * offline. Results: .bench/buildcache.md and stdout.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { forceRemove } from '../src/go/modcache.js';
import { fmtMB, fmtS as fmtSeconds, median, ratio } from './stats.js';
import { REPO_ROOT } from '../test/e2e/harness/runner.js';
import { MODCACHE_SPEC, World } from '../test/e2e/harness/world.js';

const args = process.argv.slice(2);
const argNum = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const REPS = argNum('--reps', 1);
const GENERATIONS = argNum('--generations', 10);
/** Stop starting generations after this many minutes of the whole run. */
const MINUTES = argNum('--minutes', 120);
const FRESH = args.includes('--fresh');
const BENCH_DIR = path.join(REPO_ROOT, '.bench');
const MODCACHE = path.join(BENCH_DIR, 'real', 'modcache');
const GEN_DIR = path.join(BENCH_DIR, 'buildcache-generations');
const REAL_PROJECT = path.join(REPO_ROOT, 'bench', 'real-workload');
const GOCACHE_SPEC = `~${path.sep}.cache${path.sep}go-build`;
const REDIS = 'github.com/redis/go-redis/v9';
/** go-redis versions after the workload's v9.6.1, one per generation. */
const REDIS_BUMPS = [
  'v9.6.2',
  'v9.6.3',
  'v9.7.0',
  'v9.7.1',
  'v9.7.3',
  'v9.8.0',
  'v9.9.0',
  'v9.10.0',
  'v9.11.0',
  'v9.12.0',
  'v9.12.1',
];
const STEP =
  's=$(date +%s%N); go build ./... && go vet ./...; e=$(date +%s%N); ' +
  'echo "STEP_MS=$(( (e - s) / 1000000 ))"';

const log = (s: string): void => console.error(`[bench-buildcache] ${s}`);
const fmtS = (ms: number): string => fmtSeconds(ms, 1);

interface Row {
  measure: string;
  ours: string;
  baseline: string;
  ratio: string;
}
const rows: Row[] = [];
const notes: string[] = [];

/** Replaces the rows starting with `prefix` (the generations' rows grow as they run). */
function upsertRows(prefix: string, replacement: Row[]): void {
  const at = rows.findIndex((r) => r.measure.startsWith(prefix));
  if (at < 0) rows.push(...replacement);
  else rows.splice(at, replacement.length, ...replacement);
}

const goEnvBase = {
  ...process.env,
  GOMODCACHE: MODCACHE,
  GOFLAGS: '-mod=mod',
  GOTOOLCHAIN: 'local',
  GOWORK: 'off',
};

/**
 * Resolves a project's modules into the shared module cache (network only the
 * first time): `go mod download`, and `go list -m all` because main reads every
 * graph version's .info when it downloads.
 */
function resolve(project: string): void {
  // In a copy: with -mod=mod, `go list -m all` adds go.mod hashes to go.sum, and
  // the workload in the repository must stay as committed.
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'vgc-resolve-'));
  try {
    for (const f of ['go.mod', 'go.sum', 'main.go']) {
      cpSync(path.join(project, f), path.join(scratch, f));
    }
    for (const argv of [
      ['mod', 'download'],
      ['list', '-m', 'all'],
    ]) {
      execFileSync('go', argv, {
        cwd: scratch,
        env: goEnvBase,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Generation projects: gen 0 is the workload, gen k bumps go-redis to REDIS_BUMPS[k-1]. */
function generationProjects(n: number): string[] {
  const out = [REAL_PROJECT];
  for (let k = 1; k < n; k++) {
    const dir = path.join(GEN_DIR, `gen-${k}`);
    const version = REDIS_BUMPS[k - 1]!;
    if (!existsSync(path.join(dir, 'ready'))) {
      log(`preparing generation ${k}: ${REDIS}@${version}`);
      mkdirSync(dir, { recursive: true });
      for (const f of ['go.mod', 'go.sum', 'main.go']) {
        cpSync(path.join(REAL_PROJECT, f), path.join(dir, f));
      }
      execFileSync('go', ['get', `${REDIS}@${version}`], {
        cwd: dir,
        env: goEnvBase,
        stdio: 'inherit',
      });
      execFileSync('go', ['mod', 'tidy'], { cwd: dir, env: goEnvBase, stdio: 'inherit' });
      resolve(dir);
      writeFileSync(path.join(dir, 'ready'), version);
    }
    out.push(dir);
  }
  return out;
}

type Job = Awaited<ReturnType<World['job']>>;

function ensureOk(j: Job, what: string): void {
  if (!j.succeeded) throw new Error(`${what} failed:\n${j.log.slice(-4000)}`);
}

function stepMs(j: Job): number {
  const m = /STEP_MS=(\d+)/.exec(j.steps[0]?.output ?? '');
  if (!m) throw new Error(`no step time in:\n${j.steps[0]?.output ?? ''}`);
  return Number(m[1]);
}

function jobMs(j: Job): number {
  return (j.pre?.ms ?? 0) + j.main.ms + stepMs(j) + j.post.ms;
}

/** A time from the job summary ("| Time: <name> | 1.2 s |"). */
function summaryMs(j: Job, name: string): number {
  const m = new RegExp(`\\| Time: ${name} \\| ([\\d.]+) (ms|s) \\|`).exec(j.summary);
  if (!m) return NaN;
  return m[2] === 's' ? Number(m[1]) * 1000 : Number(m[1]);
}

function entry(world: World, keyPart: string): { key: string; size: number } {
  const e = world.server
    .finalized()
    .filter((x) => x.key.startsWith('vgc-v1-build;') && x.key.includes(keyPart))
    .sort((a, b) => b.seq - a.seq)[0];
  if (!e) throw new Error(`no build cache entry matching ${keyPart}`);
  return e;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

function gocacheOf(j: Job): string {
  return path.join(j.home, '.cache', 'go-build');
}

/** Writes the results so far (a contended machine may not reach the end). */
function writeResults(started: number, final: boolean): string {
  const md = [
    `# Build cache benchmark (real workload)${final ? '' : ' (partial)'}`,
    '',
    `- Go: ${execFileSync('go', ['version'], { encoding: 'utf8' }).trim()}; ` +
      `repetitions: median of ${REPS}; run so far ${fmtS(Date.now() - started)}`,
    '',
    '| measure | verified-go-cache | baseline | ratio |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.measure} | ${r.ours} | ${r.baseline} | ${r.ratio} |`),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
  mkdirSync(BENCH_DIR, { recursive: true });
  writeFileSync(path.join(BENCH_DIR, 'buildcache.md'), md);
  return md;
}

async function main(): Promise<void> {
  const started = Date.now();
  const checkpoint = (): void => {
    writeResults(started, false);
  };
  log('resolving the real workload into .bench/real/modcache (network only the first time)');
  resolve(REAL_PROJECT);
  const projects = GENERATIONS > 1 ? generationProjects(GENERATIONS) : [REAL_PROJECT];
  const world = await World.create({
    modules: 0,
    existing: { proxyDir: path.join(MODCACHE, 'cache', 'download'), project: REAL_PROJECT },
  });
  const event = path.join(world.root, 'event-push.json');
  writeFileSync(event, JSON.stringify({ repository: { default_branch: 'main' } }));
  const run = async (
    environment: string,
    buildCache: boolean,
    project = REAL_PROJECT,
    step = STEP,
  ): Promise<Job> => {
    const j = await world.job({
      project,
      inputs: { environment, 'build-cache': String(buildCache) },
      env: { GITHUB_EVENT_PATH: event, GOFLAGS: '-trimpath' },
      stepsAfterMain: [step],
    });
    ensureOk(j, `${environment} job`);
    return j;
  };
  const med = (js: Job[], f: (j: Job) => number): number => median(js.map(f));
  // Each runner holds a module cache and a build cache (about 3 GB): drop them once measured.
  const drop = (...js: Job[]): Promise<void[]> =>
    Promise.all(js.map((j) => forceRemove(path.dirname(j.home))));
  try {
    // 1. cold vs warm
    log('first job: module cache miss, build cache miss (cold build, trim, save)');
    const first = await run('bc', true);
    const firstEntry = entry(world, ';env=bc;');
    const coldStep = stepMs(first);
    notes.push(
      `First job (both caches cold): ${fmtS(jobMs(first))}, of which the cold step ${fmtS(coldStep)}; ` +
        `build cache saved: ${fmtMB(firstEntry.size)} in ${fmtS(summaryMs(first, 'build cache save'))}.`,
    );
    checkpoint();
    const warm: Job[] = [];
    const off: Job[] = [];
    for (let i = 0; i < REPS; i++) {
      log(`warm job ${i + 1}/${REPS}`);
      const w = await run('bc', true);
      if (w.outputs['build-cache-hit'] !== 'true')
        throw new Error('warm job had no build cache hit');
      warm.push(w);
      log(`build-cache-off job around a no-op step ${i + 1}/${REPS}`);
      off.push(await run('bc', false, REAL_PROJECT, 'echo STEP_MS=0'));
    }
    const coldJob = med(off, jobMs) + coldStep;
    rows.push(
      {
        measure:
          'job (pre+main+build+vet+post), warm build cache incl. restore vs cold (build-cache off)',
        ours: fmtS(med(warm, jobMs)),
        baseline: fmtS(coldJob),
        ratio: ratio(med(warm, jobMs), coldJob),
      },
      {
        measure: '`go build ./... && go vet ./...` alone, warm vs cold build cache',
        ours: fmtS(med(warm, stepMs)),
        baseline: fmtS(coldStep),
        ratio: ratio(med(warm, stepMs), coldStep),
      },
      {
        measure: 'main, build-cache on (restore in parallel with verification) vs off',
        ours: fmtS(med(warm, (j) => j.main.ms)),
        baseline: fmtS(med(off, (j) => j.main.ms)),
        ratio: ratio(
          med(warm, (j) => j.main.ms),
          med(off, (j) => j.main.ms),
        ),
      },
    );
    await drop(...warm, ...off);
    notes.push(
      `Build cache restore (main): ${fmtS(med(warm, (j) => summaryMs(j, 'build cache restore')))} ` +
        `for a ${fmtMB(firstEntry.size)} entry; post of the warm job (exact hit, nothing new, no save): ` +
        `${fmtS(med(warm, (j) => j.post.ms))}.`,
    );
    checkpoint();

    // 2. setup-go's approach: one entry, both caches, no verification.
    log("setup-go's entry: the first job's module cache and build cache under one key");
    const sgKey = 'setup-go-bench-both-caches';
    const saved = await world.cacheClient(path.dirname(first.home), [
      'save',
      sgKey,
      MODCACHE_SPEC,
      GOCACHE_SPEC,
    ]);
    if (saved.code !== 0) throw new Error(saved.output);
    const sgSize = world.server.finalized().find((e) => e.key === sgKey)!.size;
    const sg: number[] = [];
    for (let i = 0; i < REPS; i++) {
      const runner = path.join(world.root, `setup-go-${i}`);
      const home = path.join(runner, 'home');
      const ws = path.join(runner, 'work', 'repo');
      mkdirSync(home, { recursive: true });
      const r = await world.cacheClient(runner, ['restore', sgKey, MODCACHE_SPEC, GOCACHE_SPEC]);
      if (r.code !== 0) throw new Error(r.output);
      cpSync(REAL_PROJECT, ws, { recursive: true });
      const t = Date.now();
      execFileSync('bash', ['-c', 'go build ./... && go vet ./...'], {
        cwd: ws,
        env: { ...world.jobEnv(home, 'main'), GOFLAGS: '-trimpath', GOPROXY: 'off' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      sg.push(r.ms + Date.now() - t);
      await forceRemove(runner);
    }
    const modEntry = world.server
      .finalized()
      .find((e) => e.key.startsWith('vgc-v1;') && e.key.includes(';env=bc;'))!.size;
    rows.push(
      {
        measure:
          "warm job vs setup-go's approach (restore one entry + the same step, no verification)",
        ours: fmtS(med(warm, jobMs)),
        baseline: fmtS(median(sg)),
        ratio: ratio(med(warm, jobMs), median(sg)),
      },
      {
        measure: "archive sizes: module cache + build cache entries vs setup-go's single entry",
        ours: fmtMB(modEntry + firstEntry.size),
        baseline: fmtMB(sgSize),
        ratio: ratio(modEntry + firstEntry.size, sgSize),
      },
    );
    checkpoint();

    // 3. generations: generation 1 is the first job's entry; each later one
    // bumps go-redis and restores the previous generation through the lineage.
    if (projects.length > 1) {
      const union = path.join(world.root, 'restore-keys-union');
      cpSync(gocacheOf(first), union, { recursive: true });
      const sizes: number[] = [firstEntry.size];
      let lastJob: Job = first;
      for (let g = 1; g < projects.length; g++) {
        if (Date.now() - started > MINUTES * 60_000) {
          notes.push(
            `Generations stopped at ${g} of ${projects.length}: --minutes ${MINUTES} reached.`,
          );
          break;
        }
        log(`generation ${g + 1}/${projects.length}`);
        const j = await run('bc', true, projects[g]);
        sizes.push(entry(world, ';env=bc;').size);
        // What this generation saved, added to everything saved before: what an
        // untrimmed entry restored by prefix and saved again would hold.
        cpSync(gocacheOf(j), union, { recursive: true, force: false, errorOnExist: false });
        const previous = lastJob;
        lastJob = j;
        await drop(previous);
        const n = sizes.length;
        const ours = dirBytes(gocacheOf(lastJob));
        const recipe = dirBytes(union);
        upsertRows('generations:', [
          {
            measure: `generations: build cache entry after ${n} go.sum generations vs the first`,
            ours: fmtMB(sizes[n - 1]!),
            baseline: fmtMB(sizes[0]!),
            ratio: ratio(sizes[n - 1]!, sizes[0]!),
          },
          {
            measure: `generations: GOCACHE after ${n} generations, trimmed vs the restore-keys recipe (untrimmed union)`,
            ours: fmtMB(ours),
            baseline: fmtMB(recipe),
            ratio: ratio(ours, recipe),
          },
        ]);
        const trimmed = /\| Build cache entries trimmed \| ([^|]*) \|/.exec(j.summary)?.[1];
        notes.push(
          `Generation ${n} (${REDIS}@${REDIS_BUMPS[g - 1]}): job ${fmtS(jobMs(j))}, step ${fmtS(stepMs(j))}, ` +
            `entry ${fmtMB(sizes[n - 1]!)}, trimmed ${trimmed ?? '-'}.`,
        );
        checkpoint();
      }
      if (FRESH) {
        log('fresh entry for the last go.sum');
        await drop(await run('gen-fresh', true, projects[sizes.length - 1]));
        const fresh = entry(world, ';env=gen-fresh;').size;
        rows.push({
          measure: `generations: entry after ${sizes.length} generations vs a fresh one for the same go.sum`,
          ours: fmtMB(sizes[sizes.length - 1]!),
          baseline: fmtMB(fresh),
          ratio: ratio(sizes[sizes.length - 1]!, fresh),
        });
      }
    }
  } finally {
    await world.dispose();
  }
  console.log(writeResults(started, true));
  log('written to .bench/buildcache.md');
}

await main();
