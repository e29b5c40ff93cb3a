/**
 * npm run bench [-- --quick] [-- --reps N]
 *
 * Measures, in one run on this machine, what verification costs and where the
 * time goes, as ratios against baselines that use the same cache service and
 * the same @actions/cache client:
 *
 *  1. warm exact hit (pre+main+post) vs a bare restore of the same entry, and
 *     vs setup-go's approach (GOMODCACHE + GOCACHE in one entry, no verification)
 *  2. cold run (miss) vs plain `go mod download` + a plain save
 *  3. our verification alone vs `go mod verify` alone
 *  4. archive sizes
 *  5. ten generations of go.sum changes: our entry vs the restore-keys recipe
 *  6. the warm path at 50, 200 and 800 synthetic modules
 *  7. each stage's own start-up
 *
 * The real workload (bench/real-workload: cloud SDKs, Kubernetes client,
 * gRPC...) is resolved once from the Go module proxy into .bench/real (git
 * ignored) and is offline and identical afterwards. --quick skips it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadSums, checkAgainstGoSum, goModVerify } from '../src/verify/verify.js';
import { Go } from '../src/go/toolchain.js';
import { REPO_ROOT } from '../test/e2e/harness/runner.js';
import { MODCACHE_SPEC, World } from '../test/e2e/harness/world.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const repsArg = args.indexOf('--reps');
// --quick is a smoke run (under two minutes): 3 repetitions, smaller workloads, no real workload.
const REPS = repsArg >= 0 ? Number(args[repsArg + 1]) : quick ? 3 : 5;
const BENCH_DIR = path.join(REPO_ROOT, '.bench');
const REAL_DIR = path.join(BENCH_DIR, 'real');
const REAL_PROJECT = path.join(REPO_ROOT, 'bench', 'real-workload');
const GOCACHE_SPEC = `~${path.sep}.cache${path.sep}go-build`;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmtS = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const fmtMB = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
const log = (s: string): void => console.error(`[bench] ${s}`);

interface Row {
  measure: string;
  ours: string;
  baseline: string;
  ratio: string;
  target?: string;
}
const rows: Row[] = [];
const notes: string[] = [];

async function repeat(n: number, fn: (i: number) => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await fn(i));
  return out;
}

function jobMs(j: { pre?: { ms: number }; main: { ms: number }; post: { ms: number } }): number {
  return (j.pre?.ms ?? 0) + j.main.ms + j.post.ms;
}

function ensureOk(j: { succeeded: boolean; log: string }, what: string): void {
  if (!j.succeeded) throw new Error(`${what} failed:\n${j.log.slice(-4000)}`);
}

// Repetitions are interleaved with their baselines and finished runners are
// removed only at the end: flushing writes (sync) and deleting runners between
// repetitions made tar several times slower on this machine.

/** A fresh runner folder for the baselines (home beside work/repo, like a job). */
let scratch = 0;
function runnerDir(world: World): string {
  const dir = path.join(world.root, `bench-runner-${++scratch}`);
  mkdirSync(path.join(dir, 'home'), { recursive: true });
  return dir;
}

function goIn(
  dir: string,
  world: World,
  home: string,
  argv: string[],
  extra: Record<string, string> = {},
): number {
  const started = Date.now();
  execFileSync('go', argv, {
    cwd: dir,
    env: { ...world.jobEnv(home, 'main'), ...extra },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return Date.now() - started;
}

/**
 * The real workload's proxy: resolved once (network), offline afterwards. Also
 * builds it once into .bench/real/gocache, the build cache setup-go's entry holds.
 */
function realProxy(): string {
  const modcache = path.join(REAL_DIR, 'modcache');
  const marker = path.join(REAL_DIR, 'resolved.txt');
  const sum = readFileSync(path.join(REAL_PROJECT, 'go.sum'));
  const sumHash = createHash('sha256').update(sum).digest('hex');
  const env = {
    ...process.env,
    GOMODCACHE: modcache,
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    GOWORK: 'off',
  };
  if (!existsSync(marker) || readFileSync(marker, 'utf8') !== sumHash) {
    log('resolving the real workload from the Go module proxy (once)...');
    mkdirSync(REAL_DIR, { recursive: true });
    execFileSync('go', ['mod', 'download'], { cwd: REAL_PROJECT, env, stdio: 'inherit' });
    log('building it once to fill the build cache that setup-go would save (several minutes)...');
    execFileSync('go', ['build', '-o', os.devNull, '.'], {
      cwd: REAL_PROJECT,
      env: { ...env, GOPROXY: 'off', GOCACHE: path.join(REAL_DIR, 'gocache') },
      stdio: 'inherit',
    });
    writeFileSync(marker, sumHash);
  }
  return path.join(modcache, 'cache', 'download');
}

/** setup-go's key: setup-go-<os>-<arch>-<image>-go-<version>-<hash of go.sum>. */
function setupGoKey(project: string): string {
  const v = execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' })
    .trim()
    .replace(/^go/, '');
  const h = createHash('sha256')
    .update(readFileSync(path.join(project, 'go.sum')))
    .digest('hex');
  return `setup-go-Linux-x64-ubuntu24-go-${v}-${h}`;
}

function entrySize(world: World, keyPrefix: string): number {
  const e = world.server
    .finalized()
    .filter((x) => x.key.startsWith(keyPrefix))
    .sort((a, b) => b.seq - a.seq)[0];
  if (!e) throw new Error(`no entry ${keyPrefix}`);
  return e.size;
}

/** Measures 1-4 on one world. */
async function warmColdVerify(world: World, label: string, withSetupGo: boolean): Promise<void> {
  log(`${label}: seeding`);
  const seed = await world.job({ inputs: { environment: 'bench' } });
  ensureOk(seed, 'seed job');
  const ourKey = world.server.keys().find((k) => k.includes(';env=bench;'))!;
  const moduleCount = Number(seed.outputs['module-count']);
  const sumHash = createHash('sha256')
    .update(readFileSync(path.join(world.project, 'go.sum')))
    .digest('hex');
  notes.push(
    `${label}: ${moduleCount} modules, go.sum sha256 ${sumHash.slice(0, 16)}…, our entry ${fmtMB(entrySize(world, ourKey))}`,
  );

  // 1. warm exact hit, interleaved with its baselines so they share conditions.
  let sgKey: string | undefined;
  if (withSetupGo) {
    // setup-go's entry: the module cache and the build cache, one key, no verification.
    const runner = runnerDir(world);
    cpSync(world.modCache(seed.home), path.join(runner, 'home', 'go', 'pkg', 'mod'), {
      recursive: true,
    });
    const gocache = path.join(runner, 'home', '.cache', 'go-build');
    const built = path.join(REAL_DIR, 'gocache');
    if (label.startsWith('real') && existsSync(built)) {
      cpSync(built, gocache, { recursive: true });
    } else {
      const ws = path.join(runner, 'work', 'repo');
      cpSync(world.project, ws, { recursive: true });
      log(`${label}: go build to fill GOCACHE for setup-go's entry`);
      goIn(ws, world, path.join(runner, 'home'), ['build', '-o', os.devNull, '.'], {
        GOPROXY: 'off',
      });
    }
    sgKey = setupGoKey(world.project);
    const saved = await world.cacheClient(runner, ['save', sgKey, MODCACHE_SPEC, GOCACHE_SPEC]);
    if (saved.code !== 0) throw new Error(saved.output);
  }
  log(
    `${label}: warm exact hit x${REPS} (interleaved with a bare restore${sgKey ? " and setup-go's entry" : ''})`,
  );
  const ours: number[] = [];
  const stages = {
    pre: [] as number[],
    main: [] as number[],
    post: [] as number[],
    verify: [] as number[],
  };
  const bare: number[] = [];
  const sg: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const j = await world.job({ inputs: { environment: 'bench' }, env: { GOPROXY: 'off' } });
    ensureOk(j, 'warm job');
    if (j.outputs['hit-kind'] !== 'exact') throw new Error('warm job was not an exact hit');
    ours.push(jobMs(j));
    stages.pre.push(j.pre?.ms ?? 0);
    stages.main.push(j.main.ms);
    stages.post.push(j.post.ms);
    const t =
      (JSON.parse(j.main.state['main'] ?? '{}') as { timings?: Record<string, number> }).timings ??
      {};
    stages.verify.push(t['verify'] ?? 0);
    const r = runnerDir(world);
    const b = await world.cacheClient(r, ['restore', ourKey, MODCACHE_SPEC]);
    if (b.code !== 0) throw new Error(b.output);
    bare.push(b.ms);
    if (sgKey) {
      const r2 = runnerDir(world);
      const c = await world.cacheClient(r2, ['restore', sgKey, MODCACHE_SPEC, GOCACHE_SPEC]);
      if (c.code !== 0) throw new Error(c.output);
      sg.push(c.ms);
    }
  }
  rows.push({
    measure: `${label}: warm exact hit, pre+main+post vs bare restore of the same entry`,
    ours: fmtS(median(ours)),
    baseline: fmtS(median(bare)),
    ratio: ratio(median(ours), median(bare)),
    target: label.startsWith('real') ? '≤ 1.3x' : undefined,
  });
  if (sgKey) {
    rows.push({
      measure: `${label}: warm exact hit vs setup-go's entry (GOMODCACHE + GOCACHE, no verification)`,
      ours: fmtS(median(ours)),
      baseline: fmtS(median(sg)),
      ratio: ratio(median(ours), median(sg)),
    });
    rows.push({
      measure: `${label}: archive size, ours vs setup-go's entry`,
      ours: fmtMB(entrySize(world, ourKey)),
      baseline: fmtMB(entrySize(world, sgKey)),
      ratio: ratio(entrySize(world, ourKey), entrySize(world, sgKey)),
    });
  }

  // 2. cold run, interleaved with plain download + save
  log(`${label}: cold run x${REPS}`);
  const cold: number[] = [];
  const plain: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const j = await world.job({ inputs: { environment: `cold-${i}` } });
    ensureOk(j, 'cold job');
    if (j.outputs['hit-kind'] !== 'miss') throw new Error('cold job was not a miss');
    cold.push(jobMs(j));
    const runner = runnerDir(world);
    const ws = path.join(runner, 'work', 'repo');
    cpSync(world.project, ws, { recursive: true });
    const dl = goIn(ws, world, path.join(runner, 'home'), ['mod', 'download']);
    const r = await world.cacheClient(runner, ['save', `plain-${label}-${i}`, MODCACHE_SPEC]);
    if (r.code !== 0) throw new Error(r.output);
    plain.push(dl + r.ms);
  }
  rows.push({
    measure: `${label}: cold run (miss), pre+main+post vs go mod download + plain save`,
    ours: fmtS(median(cold)),
    baseline: fmtS(median(plain)),
    ratio: ratio(median(cold), median(plain)),
    target: label.startsWith('real') ? '≤ 1.1x' : undefined,
  });
  rows.push({
    measure: `${label}: archive size, ours vs a plain save of the same module cache`,
    ours: fmtMB(entrySize(world, ourKey)),
    baseline: fmtMB(entrySize(world, `plain-${label}-0`)),
    ratio: ratio(entrySize(world, ourKey), entrySize(world, `plain-${label}-0`)),
  });

  // 3. verification alone, on the seed job's module cache
  log(`${label}: verification alone x${REPS}`);
  const go = await Go.find();
  const ws = seed.workspace;
  const env = world.jobEnv(seed.home, 'main');
  const saved = { ...process.env };
  Object.assign(process.env, env, { GOPROXY: 'off' });
  try {
    const sums = await loadSums([path.join(ws, 'go.sum')]);
    const oursV = await repeat(REPS, async () => {
      const t = Date.now();
      const [a, b] = await Promise.all([
        checkAgainstGoSum(world.modCache(seed.home), sums),
        goModVerify(go, [ws]),
      ]);
      if (!a.ok || b.length) throw new Error('verification failed in the benchmark');
      return Date.now() - t;
    });
    const goV = await repeat(REPS, async () => {
      const t = Date.now();
      const r = await go.run(['mod', 'verify'], ws);
      if (r.code !== 0) throw new Error(r.stderr);
      return Date.now() - t;
    });
    const cmp = await repeat(REPS, async () => {
      const t = Date.now();
      await checkAgainstGoSum(world.modCache(seed.home), sums);
      return Date.now() - t;
    });
    rows.push({
      measure: `${label}: our verification (go.sum comparison + go mod verify) vs go mod verify alone`,
      ours: fmtS(median(oursV)),
      baseline: fmtS(median(goV)),
      ratio: ratio(median(oursV), median(goV)),
    });
    // go mod verify's two halves: with the zips moved aside it hashes the trees only.
    const zips = execFileSync(
      'find',
      [path.join(world.modCache(seed.home), 'cache', 'download'), '-name', '*.zip'],
      {
        encoding: 'utf8',
      },
    )
      .split('\n')
      .filter(Boolean);
    for (const z of zips) renameSync(z, `${z}.aside`);
    const treesOnly = await repeat(REPS, async () => {
      const t = Date.now();
      const r = await go.run(['mod', 'verify'], ws);
      if (r.code !== 0) throw new Error(r.stderr);
      return Date.now() - t;
    });
    for (const z of zips) renameSync(`${z}.aside`, z);
    notes.push(
      `${label}: go mod verify takes ${fmtS(median(goV))}: ${fmtS(median(treesOnly))} for the extracted trees, ` +
        `the rest for the zips (decompressed and hashed). The go.sum comparison alone takes ${fmtS(median(cmp))}.`,
    );
  } finally {
    process.env = saved;
  }
  // Where the warm path's time goes (medians over the warm repetitions).
  notes.push(
    `${label}: warm job, median per stage: pre ${fmtS(median(stages.pre))} (node start, lookup, download, extract), ` +
      `main ${fmtS(median(stages.main))} (of which verify ${fmtS(median(stages.verify))}), post ${fmtS(median(stages.post))}; ` +
      `bare restore ${fmtS(median(bare))}.`,
  );
}

/** 5. Ten generations of go.sum changes: ours (lineage restore, prune, save) vs the restore-keys recipe. */
async function generations(modules: number, payload: number, perGen: number): Promise<void> {
  log(`generations: ${modules} modules, ${perGen} bumped per generation`);
  const world = await World.create({ modules, payloadBytes: payload });
  try {
    let ourFirst = 0;
    let ourLast = 0;
    let recipeLast = 0;
    for (let g = 1; g <= 10; g++) {
      const bump: Record<string, string> = {};
      for (const p of world.set.plain.slice(0, g * perGen)) bump[p] = 'v1.1.0';
      const project = world.writeProject(path.join(world.root, `gen-${g}`), bump);
      const j = await world.job({ project, inputs: { environment: 'gen' } });
      ensureOk(j, `generation ${g}`);
      const key = world.server.keys().find((k) => k.startsWith(j.outputs['cache-key']!))!;
      ourLast = entrySize(world, key);
      if (g === 1) ourFirst = ourLast;
      // The recipe: restore by prefix, download, save everything under a new key.
      const runner = runnerDir(world);
      const ws = path.join(runner, 'work', 'repo');
      cpSync(project, ws, { recursive: true });
      await world.cacheClient(runner, [
        'restore',
        `recipe-${g}`,
        '--restore-key',
        'recipe-',
        MODCACHE_SPEC,
      ]);
      goIn(ws, world, path.join(runner, 'home'), ['mod', 'download']);
      const r = await world.cacheClient(runner, ['save', `recipe-${g}`, MODCACHE_SPEC]);
      if (r.code !== 0) throw new Error(r.output);
      recipeLast = entrySize(world, `recipe-${g}`);
    }
    rows.push({
      measure: `10 generations (${modules} modules, ${perGen} more bumped each): size of the 10th entry, ours vs restore-keys recipe`,
      ours: fmtMB(ourLast),
      baseline: fmtMB(recipeLast),
      ratio: ratio(ourLast, recipeLast),
    });
    notes.push(`generations: our first entry ${fmtMB(ourFirst)}, tenth ${fmtMB(ourLast)}.`);
  } finally {
    await world.dispose();
  }
}

/** 6. The warm path at several sizes. */
async function scaling(sizes: number[], payload: number): Promise<void> {
  const points: { n: number; ms: number; bare: number }[] = [];
  for (const n of sizes) {
    log(`scaling: ${n} modules`);
    const world = await World.create({ modules: n, payloadBytes: payload });
    try {
      const seed = await world.job({ inputs: { environment: 'scale' } });
      ensureOk(seed, 'scaling seed');
      const key = world.server.keys()[0]!;
      const oursMs: number[] = [];
      const bareMs: number[] = [];
      for (let i = 0; i < REPS; i++) {
        const j = await world.job({ inputs: { environment: 'scale' }, env: { GOPROXY: 'off' } });
        ensureOk(j, 'scaling warm job');
        oursMs.push(jobMs(j));
        const r = runnerDir(world);
        bareMs.push((await world.cacheClient(r, ['restore', key, MODCACHE_SPEC])).ms);
      }
      const ms = median(oursMs);
      const bare = median(bareMs);
      points.push({ n: n + 3, ms, bare });
    } finally {
      await world.dispose();
    }
  }
  for (const p of points) {
    rows.push({
      measure: `warm path, ${p.n} synthetic modules (${(payload / 1024).toFixed(0)} KiB filler each)`,
      ours: fmtS(p.ms),
      baseline: fmtS(p.bare),
      ratio: ratio(p.ms, p.bare),
    });
  }
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const fixed = first.ms - ((last.ms - first.ms) / (last.n - first.n)) * first.n;
  const perModule = (last.ms - first.ms) / (last.n - first.n);
  notes.push(
    `scaling: ${perModule.toFixed(2)} ms per module above a fixed ${fmtS(fixed)}; ` +
      `${(last.n / first.n).toFixed(1)}x the modules cost ${(last.ms / first.ms).toFixed(2)}x the time ` +
      `(linear: the cost per added module is ${points
        .slice(1)
        .map((p, i) => ((p.ms - points[i]!.ms) / (p.n - points[i]!.n)).toFixed(2))
        .join(' then ')} ms).`,
  );
}

/** 7. Each stage's own start-up: node, bundle load, inputs and key, with nothing to do. */
async function startup(): Promise<void> {
  const world = await World.create({ modules: 1 });
  try {
    const nodeps = path.join(world.root, 'nodeps');
    mkdirSync(nodeps, { recursive: true });
    writeFileSync(path.join(nodeps, 'go.mod'), 'module example.com/nodeps\n\ngo 1.21\n');
    const times = { pre: [] as number[], main: [] as number[], post: [] as number[] };
    for (let i = 0; i < REPS; i++) {
      const j = await world.job({
        project: nodeps,
        inputs: { environment: 'startup', save: 'never' },
      });
      ensureOk(j, 'start-up job');
      times.pre.push(j.pre!.ms);
      times.main.push(j.main.ms);
      times.post.push(j.post.ms);
    }
    rows.push({
      measure:
        'start-up with nothing to restore or verify: pre / main / post (main includes go env and go mod verify)',
      ours: `${median(times.pre)} / ${median(times.main)} / ${median(times.post)} ms`,
      baseline: '-',
      ratio: '-',
      target: '< 300 ms each',
    });
  } finally {
    await world.dispose();
  }
}

function machine(): string[] {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return [
    `Date: ${new Date().toISOString().slice(0, 10)}`,
    `Machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, ${os.platform()} ${os.release()}`,
    `Go: ${execFileSync('go', ['version'], { encoding: 'utf8' }).trim()}`,
    `Node: ${process.version} (stages run as separate node processes)`,
    `Compression: ${(() => {
      try {
        execFileSync('zstd', ['--version'], { stdio: 'ignore' });
        return 'zstd';
      } catch {
        return 'gzip';
      }
    })()}`,
    `Repetitions: median of ${REPS}`,
  ];
}

async function main(): Promise<void> {
  const started = Date.now();
  if (!quick) {
    const proxyDir = realProxy();
    const world = await World.create({
      modules: 0,
      existing: { proxyDir, project: REAL_PROJECT },
      root: undefined,
    });
    try {
      await warmColdVerify(world, 'real workload', true);
    } finally {
      await world.dispose();
    }
  }
  const synthN = quick ? 50 : 200;
  const synth = await World.create({ modules: synthN, payloadBytes: quick ? 2048 : 32 * 1024 });
  try {
    // --quick skips setup-go's entry: filling its GOCACHE means a go build.
    await warmColdVerify(synth, `synthetic ${synthN} modules`, !quick);
  } finally {
    await synth.dispose();
  }
  await generations(quick ? 40 : 200, quick ? 2048 : 32 * 1024, quick ? 4 : 10);
  // --quick halves the sizes twice over to stay under two minutes; the full run uses 50, 200, 800.
  await scaling(quick ? [25, 100, 400] : [50, 200, 800], quick ? 1024 : 16 * 1024);
  await startup();

  const table =
    '| measure | verified-go-cache | baseline | ratio | target |\n|---|---|---|---|---|\n' +
    rows
      .map((r) => `| ${r.measure} | ${r.ours} | ${r.baseline} | ${r.ratio} | ${r.target ?? ''} |`)
      .join('\n');
  const md = [
    `# Benchmarks${quick ? ' (quick)' : ''}`,
    '',
    ...machine().map((l) => `- ${l}`),
    `- Total run: ${fmtS(Date.now() - started)}`,
    '',
    table,
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
  console.log(md);
  const out = quick
    ? path.join(BENCH_DIR, 'BENCHMARKS.quick.md')
    : path.join(BENCH_DIR, 'results.md');
  mkdirSync(BENCH_DIR, { recursive: true });
  writeFileSync(out, md);
  log(`written to ${path.relative(REPO_ROOT, out)}`);
}

await main();
