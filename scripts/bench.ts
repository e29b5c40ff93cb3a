/**
 * npm run bench [-- --quick] [-- --reps N] [-- --only warm,repair,...] [-- --profile]
 *                [-- --no-cold] [-- --no-memory] [-- --no-generations]
 *
 * Measures the restore path in one run on this machine, each result a ratio of
 * two medians taken in the same run against the same local cache service:
 *
 *  1. warm exact hit, fully verified (pre+main+post) vs a bare @actions/cache
 *     restore (download + zstd + tar, no verification) of the same module
 *     cache saved as it lies on disk (what a plain module-cache restore costs:
 *     our entries hold each module once, so the bare restore of our own entry
 *     would not give a module cache; it is measured too, as a second row), and
 *     vs `zstd -d -c | tar -xf -` of our own entry's archive file (no download)
 *  2. the same with the cache service throttled to 100 MB/s; there, our job vs
 *     the network floor (entry bytes / 100 MB/s) and main + post alone
 * 1c. where the rest goes: one warm hit at 100 MB/s with pre under --cpu-prof,
 *     self time by category and top functions (scripts/cpuprofile.ts; not in
 *     any median; always in a full run, else with --profile)
 *  3. verification work alone: hashing the cache on disk (recordFromDisk, the
 *     work the extraction does while writing) vs `go mod verify`, wall and CPU
 * 3b. agreement, module by module (the run fails without it): go.sum, our hashes
 *     from disk and from the restore of the saved entry, and `go mod verify`
 *     on the module cache that restore wrote
 *  4. lean entries (save-zips: false) vs full ones: archive size and warm time
 *  5. one bad module at 100 MB/s (cache service and an HTTP GOPROXY): pre+main
 *     until a verified cache vs go clean -modcache + go mod download from the
 *     same proxy; post's save of the repaired entry vs its upload floor
 *  6. convergence A->B->A: switching to the exact entry vs completing the lineage cache
 *  7. added size of the go.mod-only versions that keep `go list -m all` offline
 *  8. cold run vs plain download + save (unthrottled, and at 100 MB/s from the
 *     HTTP GOPROXY to the service throttled both ways), archive sizes, ten
 *     generations (synthetic), start-up
 * 8d. ten generations on the real workload: go.sum bumps of bench/real-workload,
 *     our job on each beside the restore-keys recipe, then our tenth entry vs a
 *     fresh one and the recipe's tenth, size and warm time
 *     (scripts/bench-generations.ts; about 14 minutes; --no-generations skips it)
 *  9. memory: each stage's peak RSS (pre, main, post) on the real workload's
 *     entry and on planted huge zip members, beside GNU tar's
 *     (scripts/bench-memory.ts; --no-memory skips it)
 *
 * --only <section,...> runs only those sections (warm, profile, verify,
 * repair, lean, graph, cold, memory, convergence, generations, real-generations,
 * startup), on the real workload and the synthetic one (the real one, with
 * memory and real-generations, is skipped in --quick).
 * The real workload (bench/real-workload) is resolved once into .bench/real
 * (git ignored) and served offline from there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extractArchive } from '../src/restore/extract.js';
import { recordFromDisk } from '../src/verify/scan.js';
import type { ExtractRecord } from '../src/verify/record.js';
import { parseGoSum, sumId, sumIndex } from '../src/go/gosum.js';
import { judge } from '../src/verify/judge.js';
import { factsFromRecord } from '../src/verify/facts.js';
import { goModVerify } from '../src/verify/verify.js';
import { Go } from '../src/go/toolchain.js';
import { corrupt } from '../test/e2e/harness/corrupt.js';
import { REPO_ROOT } from '../test/e2e/harness/runner.js';
import { MODCACHE_SPEC, World } from '../test/e2e/harness/world.js';
import { fmtMB, fmtS, median } from './stats.js';
import { BENCH_DIR, REAL_PROJECT, realProxy } from './bench-real.js';
import { realGenerations } from './bench-generations.js';
import { memorySection, memoryTable, type MemoryRow } from './bench-memory.js';
import { stateJson } from '../src/action/state.js';
import { summarizeDir, summaryMarkdown } from './cpuprofile.js';
import { HttpGoProxy } from '../test/e2e/harness/http-goproxy.js';
import { escapeModulePath } from '../src/go/gosum.js';
import {
  cleanExactHit,
  clientRestoreInto,
  ensureOk,
  entrySize,
  goIn,
  jobMs,
  makeRow,
  restoreKeysRecipe,
  rowsTable,
  runnerDir,
  runnerWith,
  savedKey,
  sweep,
  type Job,
  type Row,
} from './bench-util.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const repsArg = args.indexOf('--reps');
// --quick is a smoke run (under two minutes): 3 repetitions, small synthetic workloads only.
const REPS = repsArg >= 0 ? Number(args[repsArg + 1]) : quick ? 3 : 5;
const THROTTLE = 100e6;
/** Repetitions of the slow sections (repair, convergence): fewer in --quick. */
const REPAIR_REPS = quick ? 1 : REPS;
/** --no-cold skips the cold-run rows (the slowest section on the real workload). */
const skipCold = args.includes('--no-cold');
/** --no-memory skips the memory section (it writes a 2 GiB zip). */
const skipMemory = args.includes('--no-memory');
/** --no-generations skips the generations on the real workload (about 14 minutes). */
const skipGenerations = args.includes('--no-generations');
let memoryRows: MemoryRow[] = [];
/** The sections that run on a workload's world (real and synthetic). */
const WORKLOAD_SECTIONS = ['warm', 'profile', 'verify', 'repair', 'lean', 'graph', 'cold'] as const;
/** The sections `--only` can pick (comma-separated; the others are skipped). */
const SECTIONS = [
  ...WORKLOAD_SECTIONS,
  'memory',
  'convergence',
  'generations',
  'real-generations',
  'startup',
] as const;
type Section = (typeof SECTIONS)[number];
const onlyArg = args.indexOf('--only');
const only =
  onlyArg >= 0 ? new Set((args[onlyArg + 1] ?? '').split(',').filter((x) => x !== '')) : undefined;
for (const x of only ?? []) {
  if (!(SECTIONS as readonly string[]).includes(x)) {
    throw new Error(`--only: no section ${x} (sections: ${SECTIONS.join(', ')})`);
  }
}
/**
 * --profile adds one warm hit whose pre runs with --cpu-prof, summarized in the
 * results, not counted in any median; a full run always has it.
 */
const profileFlag = args.includes('--profile');
/** Whether this run measures `section`. */
function want(section: Section): boolean {
  if (section === 'profile' && profileFlag) return true;
  if (only) return only.has(section);
  if (section === 'profile') return !quick;
  if (section === 'cold') return !skipCold;
  if (section === 'memory') return !skipMemory;
  if (section === 'real-generations') return !skipGenerations;
  return true;
}
/** The CPU profile summaries ("where the rest goes"), as markdown sections. */
const profiles: string[] = [];

const log = (s: string): void =>
  console.error(`[bench] ${new Date().toISOString().slice(11, 19)} ${s}`);

const rows: Row[] = [];
const notes: string[] = [];
const note = (n: string): void => {
  notes.push(n);
  flush();
};

function addRow(r: Omit<Row, 'ratio' | 'value'> & { a: number; b: number }): void {
  rows.push(makeRow(r));
  log(`${r.measure}: ${rows[rows.length - 1]!.ratio}`);
  flush();
}

function mainTimings(j: Job): Record<string, number> {
  // A large state (the real workload's) is saved to a file the value names.
  const s = JSON.parse(stateJson(j.main.state['main'] ?? '{}')) as {
    timings?: Record<string, number>;
  };
  return s.timings ?? {};
}

/** Wall and CPU (user + system) of a command, from bash's `times` for its children. */
function timedCommand(
  cmd: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): { wall: number; cpu: number } {
  const started = Date.now();
  const r = spawnSync('bash', ['-c', `${cmd} >/dev/null 2>&1 || exit 9; times`], {
    cwd,
    env,
    encoding: 'utf8',
  });
  const wall = Date.now() - started;
  if (r.status !== 0) throw new Error(`${cmd} failed in ${cwd}: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  const secs = (s: string): number => {
    const m = /(\d+)m([\d.]+)s/.exec(s);
    return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
  };
  const [u, s] = (lines[1] ?? '').trim().split(/\s+/);
  return { wall, cpu: (secs(u ?? '') + secs(s ?? '')) * 1000 };
}

interface Seeded {
  seed: Job;
  key: string;
  size: number;
  warmMedian: number;
  /** The seed's module cache saved as it lies (trees and zips), with @actions/cache. */
  plainKey: string;
}

/** The archive file of an entry on the cache service (its storage, as the server keeps it). */
function entryFile(world: World, key: string): string {
  const e = world.server.finalized().find((x) => x.key === key);
  if (!e) throw new Error(`no entry ${key}`);
  return e.file;
}

/**
 * `<decompressor> -c archive | tar -xf - -C dest`: GNU tar extracting an
 * archive file already on disk (no download), zstd or gzip by its magic bytes.
 */
function untarCommand(archive: string, dest: string): string {
  const head = Buffer.alloc(4);
  const fd = openSync(archive, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  const zstd = head.readUInt32LE(0) === 0xfd2fb528;
  const q = (x: string): string => `'${x.replace(/'/g, `'\\''`)}'`;
  return `set -o pipefail; ${zstd ? 'zstd -q -d' : 'gzip -d'} -c ${q(archive)} | tar -xf - -C ${q(dest)}`;
}

/**
 * 1 and 2: warm exact hits interleaved with bare restores of the same module
 * cache, of our own entry and, unthrottled, with GNU tar extracting our own
 * entry's archive from a local file.
 */
async function warm(
  world: World,
  label: string,
  s: Seeded,
  throttled: boolean,
  keep: string[],
): Promise<number> {
  if (throttled) world.server.throttle(THROTTLE);
  log(`${label}: warm exact hit x${REPS}${throttled ? ' (throttled to 100 MB/s)' : ''}`);
  const ours: number[] = [];
  const bare: number[] = [];
  const bareOwn: number[] = [];
  const untar: number[] = [];
  const mainPost: number[] = [];
  const archive = entryFile(world, s.key);
  const stages: Record<string, number[]> = {};
  const push = (k: string, v: number): void => void (stages[k] ??= []).push(v);
  try {
    for (let i = 0; i < REPS; i++) {
      const j = await world.job({ inputs: { environment: 'bench' } });
      ensureOk(j, 'warm job');
      cleanExactHit(j, 'warm job');
      ours.push(jobMs(j));
      push('pre', j.pre?.ms ?? 0);
      push('main', j.main.ms);
      push('post', j.post.ms);
      mainPost.push(j.main.ms + j.post.ms);
      for (const [k, v] of Object.entries(mainTimings(j))) if (k !== 'pre') push(`main: ${k}`, v);
      const r = runnerDir(world);
      bare.push(await clientRestoreInto(world, s.plainKey, world.modCache(path.join(r, 'home'))));
      bareOwn.push(await clientRestoreInto(world, s.key, path.join(runnerDir(world), 'own')));
      if (!throttled) {
        const dest = path.join(runnerDir(world), 'untar');
        mkdirSync(dest);
        untar.push(timedCommand(untarCommand(archive, dest), dest, process.env).wall);
      }
      // Each repetition leaves two caches of the workload behind (2.6 GB on the real one).
      sweep(world, keep);
    }
  } finally {
    world.server.throttle(undefined);
  }
  const tag = throttled ? ' at 100 MB/s' : '';
  addRow({
    measure: `${label}: warm exact hit${tag}, verified pre+main+post vs bare @actions/cache restore of the same module cache`,
    ours: fmtS(median(ours)),
    baseline: fmtS(median(bare)),
    a: median(ours),
    b: median(bare),
    ...(label.startsWith('real')
      ? throttled
        ? { target: '≤ 0.8x', limit: 0.8 }
        : { target: '≤ 1.15x', limit: 1.15 }
      : {}),
  });
  // The issue's wording is "a bare restore of the same entry": our entry holds
  // zips only, so its bare restore leaves no module cache a build can use; it
  // is kept as a second row so that both readings stand in the report.
  addRow({
    measure: `${label}: warm exact hit${tag}, verified pre+main+post vs bare @actions/cache restore of our own entry (zips only: no trees, not a usable module cache)`,
    ours: fmtS(median(ours)),
    baseline: fmtS(median(bareOwn)),
    a: median(ours),
    b: median(bareOwn),
  });
  const real = label.startsWith('real');
  if (!throttled) {
    addRow({
      measure: `${label}: warm exact hit, verified pre+main+post vs zstd -d -c piped into tar -xf - (GNU tar) of our own entry's archive file (no download; zips only: no trees)`,
      ours: fmtS(median(ours)),
      baseline: fmtS(median(untar)),
      a: median(ours),
      b: median(untar),
      ...(real ? { target: '≤ 1.1x', limit: 1.1 } : {}),
    });
  } else {
    const floor = (s.size / THROTTLE) * 1000;
    addRow({
      measure: `${label}: our warm job at 100 MB/s vs the floor (entry bytes / 100 MB/s: ${fmtMB(s.size)} at the cache service's throttle)`,
      ours: fmtS(median(ours)),
      baseline: fmtS(floor),
      a: median(ours),
      b: floor,
      ...(real ? { target: '≤ 1.3x', limit: 1.3 } : {}),
    });
    rows.push({
      measure: `${label}: main + post together, warm exact hit at 100 MB/s (median of each job's main + post)`,
      ours: fmtS(median(mainPost)),
      baseline: '-',
      ratio: '-',
      ...(real ? { target: '≤ 0.4 s', limit: 400 } : {}),
      value: median(mainPost),
    });
    log(`${label}: main + post at 100 MB/s: ${fmtS(median(mainPost))}`);
    flush();
  }
  note(
    `${label}, warm${tag}, medians per stage: ` +
      Object.entries(stages)
        .map(([k, v]) => `${k} ${fmtS(median(v))}`)
        .join(', ') +
      `; bare restore ${fmtS(median(bare))} (of our own entry, which gives no trees: ${fmtS(median(bareOwn))})` +
      (throttled
        ? '.'
        : `; zstd -d -c into tar -xf of our own entry's file ${fmtS(median(untar))}.`),
  );
  return median(ours);
}

/**
 * 1c. Where the rest goes: one warm exact hit at 100 MB/s (not counted in any
 * median) whose pre runs with --cpu-prof (the harness's VGC_STAGE_NODE_ARGS);
 * the profiles of its main thread and each worker, summarized.
 */
async function profiledWarm(world: World, label: string, s: Seeded): Promise<void> {
  log(`${label}: one warm exact hit at 100 MB/s with pre under --cpu-prof`);
  const dir = path.join(world.root, 'cpu-profile');
  rmSync(dir, { recursive: true, force: true });
  world.server.throttle(THROTTLE);
  let j: Job;
  try {
    j = await world.job({
      inputs: { environment: 'bench' },
      stageEnv: { pre: { VGC_STAGE_NODE_ARGS: `--cpu-prof --cpu-prof-dir=${dir}` } },
    });
  } finally {
    world.server.throttle(undefined);
  }
  ensureOk(j, 'profiled warm job');
  cleanExactHit(j, 'profiled warm job');
  const threads = summarizeDir(dir);
  if (threads.length === 0) throw new Error(`pre left no .cpuprofile in ${dir}`);
  const floor = (s.size / THROTTLE) * 1000;
  profiles.push(
    [
      `### ${label}: pre of one warm exact hit at 100 MB/s, under --cpu-prof`,
      '',
      `pre ${fmtS(j.pre?.ms ?? 0)} with the profiler on (the floor: ${fmtS(floor)}), main ${fmtS(j.main.ms)}, ` +
        `post ${fmtS(j.post.ms)}. Self time in ms by category for each thread (span: the thread's ` +
        "profile, start to end). The zstd stream and fs.promises run on libuv's thread pool, in no " +
        "thread's profile: a thread waiting for them, or for the network, is idle.",
      '',
      summaryMarkdown(threads),
      '',
    ].join('\n'),
  );
  flush();
}

/** 3. Verification work alone on one module cache: hashing everything vs go mod verify. */
async function verifyAlone(world: World, label: string, s: Seeded): Promise<ExtractRecord> {
  log(`${label}: verification work alone x${REPS}`);
  const modCache = world.modCache(s.seed.home);
  const env = { ...world.jobEnv(s.seed.home, 'main'), GOPROXY: 'off', GOFLAGS: '-mod=mod' };
  const ours: { wall: number; cpu: number }[] = [];
  const theirs: { wall: number; cpu: number }[] = [];
  let record: ExtractRecord | undefined;
  const go = await Go.find();
  for (let i = 0; i < REPS; i++) {
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    record = await recordFromDisk(modCache);
    const wall = Date.now() - t0;
    const c = process.cpuUsage(cpu0);
    ours.push({ wall, cpu: (c.user + c.system) / 1000 });
    theirs.push(timedCommand('go mod verify', s.seed.workspace, env));
  }
  // The bench's own baseline must agree that this cache is intact.
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const bad = await goModVerify(go, [s.seed.workspace]);
    if (bad.length) throw new Error(`go mod verify found ${bad.length} problems in the seed cache`);
  } finally {
    process.env = saved;
  }
  const w = (xs: { wall: number }[]) => median(xs.map((x) => x.wall));
  const c = (xs: { cpu: number }[]) => median(xs.map((x) => x.cpu));
  addRow({
    measure: `${label}: verification work, wall: hashing every tree and zip (recordFromDisk) vs go mod verify`,
    ours: fmtS(w(ours)),
    baseline: fmtS(w(theirs)),
    a: w(ours),
    b: w(theirs),
    ...(label.startsWith('real') ? { target: '≤ 0.5x', limit: 0.5 } : {}),
  });
  addRow({
    measure: `${label}: verification work, CPU (user + system), same comparison`,
    ours: fmtS(c(ours)),
    baseline: fmtS(c(theirs)),
    a: c(ours),
    b: c(theirs),
  });
  const trees = record!.modules.filter((m) => m.treeH1).length;
  const zips = record!.modules.filter((m) => m.zipH1).length;
  note(
    `${label}: the record covers ${record!.modules.length} module versions (${trees} trees, ${zips} zips); ` +
      'on the warm path the same hashes come from the extraction itself, so main only compares them with go.sum.',
  );
  return record!;
}

/**
 * 3b. The verifier against go.sum and `go mod verify` on every module of the
 * workload. Three independent views of the same module versions must agree,
 * or the run fails: go.sum's `h1:` lines; our hashes, computed twice (from the
 * cache on disk, and by the restore itself extracting the entry the seed job
 * saved, trees written from zips); and `go mod verify` run on the module cache
 * that restore wrote.
 */
async function agreement(
  world: World,
  label: string,
  s: Seeded,
  onDisk: ExtractRecord,
): Promise<void> {
  log(`${label}: the verifier against go.sum and go mod verify, module by module`);
  const goSum = readFileSync(path.join(s.seed.workspace, 'go.sum'), 'utf8');
  const sums = sumIndex([parseGoSum(goSum)]);
  const entry = world.server.finalized().find((e) => e.key === s.key);
  if (!entry) throw new Error(`no entry ${s.key}`);
  const dest = path.join(world.root, 'agreement', 'mod');
  mkdirSync(path.dirname(dest), { recursive: true });
  const restored = (await extractArchive(createReadStream(entry.file), dest)).record;
  // What Go itself put in the seed's cache is the workload: every module whose
  // tree it unpacked, and the go.mod files of the module graph. go.sum may name
  // more zips than the build needs (an untidy go.sum): Go fetched only their
  // go.mod, which entries carry as go.mod-only versions.
  /** The go.sum ids whose hash a record holds: module zips (a tree or zip) and go.mod files. */
  const held = (rec: ExtractRecord): Set<string> =>
    new Set(
      rec.modules.flatMap((m) => [
        ...(m.treeH1 !== undefined || m.zipH1 !== undefined
          ? [sumId(m.path, m.version, false)]
          : []),
        ...(m.modH1 !== undefined ? [sumId(m.path, m.version, true)] : []),
      ]),
    );
  const fetched = held(onDisk);
  const inScope = new Set([...sums.keys()].filter((k) => fetched.has(k)));
  const unfetched = [...sums.keys()].filter((k) => !k.endsWith('/go.mod') && !fetched.has(k));
  const problems: string[] = [];
  for (const [name, rec] of Object.entries({ 'on disk': onDisk, 'restore-time': restored })) {
    const byId = new Map(rec.modules.map((m) => [`${m.path}@${m.version}`, m]));
    for (const k of inScope) {
      const goMod = k.endsWith('/go.mod');
      const m = byId.get(goMod ? k.slice(0, -'/go.mod'.length) : k);
      const found = goMod ? [m?.modH1] : [m?.treeH1, m?.zipH1, m?.ziphash];
      if (found.some((x) => x !== sums.get(k))) {
        problems.push(`${name}: ${k}: ${found.join(' / ')}, go.sum ${sums.get(k)}`);
      }
    }
    const has = held(rec);
    const extra = unfetched.filter((k) => has.has(k));
    if (extra.length) problems.push(`${name}: holds ${extra.length} module zips Go did not fetch`);
    const j = judge(factsFromRecord(rec), sums, { zipsExpected: true });
    const bad = j.bad.length + j.missing.filter((k) => inScope.has(k)).length;
    if (bad) problems.push(`${name}: the judge finds ${bad} bad or missing in-scope versions`);
  }
  const env = {
    ...world.jobEnv(s.seed.home, 'main'),
    GOMODCACHE: dest,
    GOPROXY: 'off',
    GOFLAGS: '-mod=mod',
  };
  const verify = spawnSync('go', ['mod', 'verify'], {
    cwd: s.seed.workspace,
    env,
    encoding: 'utf8',
  });
  const verifyOut = `${verify.stdout}${verify.stderr}`.trim();
  if (verify.status !== 0) problems.push(`go mod verify on the restored cache: ${verifyOut}`);
  execFileSync('chmod', ['-R', 'u+w', path.dirname(dest)]);
  rmSync(path.dirname(dest), { recursive: true, force: true });
  if (problems.length) {
    throw new Error(`the verifier disagrees:\n${problems.slice(0, 20).join('\n')}`);
  }
  const zips = [...inScope].filter((k) => !k.endsWith('/go.mod')).length;
  note(
    `${label}: agreement, module by module: for all ${zips} module versions Go fetched, the tree, zip ` +
      `and .ziphash hashes computed from disk and by the restore of the saved entry equal go.sum, and so ` +
      `do the ${inScope.size - zips} go.mod files; go.sum also names ${unfetched.length} zips the build ` +
      `does not need (their zips are not in the entry, their go.mod files are); go mod verify on the cache the ` +
      `restore wrote: "${verifyOut}".`,
  );
}

/** 4. Lean entries: save-zips false. */
async function lean(world: World, label: string, s: Seeded, keep: string[]): Promise<void> {
  log(`${label}: lean entry (save-zips: false) x${REPS}`);
  const seed = await world.job({ inputs: { environment: 'lean', 'save-zips': 'false' } });
  ensureOk(seed, 'lean seed job');
  const key = savedKey(world, seed);
  const times: number[] = [];
  const bareLean: number[] = [];
  const bareFull: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const j = await world.job({
      inputs: { environment: 'lean', 'save-zips': 'false' },
    });
    ensureOk(j, 'lean warm job');
    cleanExactHit(j, 'lean warm job');
    times.push(jobMs(j));
    const into = (): string => world.modCache(path.join(runnerDir(world), 'home'));
    bareLean.push(await clientRestoreInto(world, key, into()));
    bareFull.push(await clientRestoreInto(world, s.plainKey, into()));
    sweep(world, [...keep, path.dirname(seed.home)]);
  }
  addRow({
    measure: `${label}: lean entry (save-zips: false) vs full entry: archive size`,
    ours: fmtMB(entrySize(world, key)),
    baseline: fmtMB(s.size),
    a: entrySize(world, key),
    b: s.size,
  });
  addRow({
    measure: `${label}: lean entry vs full entry: warm exact hit, pre+main+post`,
    ours: fmtS(median(times)),
    baseline: fmtS(s.warmMedian),
    a: median(times),
    b: s.warmMedian,
  });
  addRow({
    measure: `${label}: lean warm exact hit, verified pre+main+post vs bare @actions/cache restore of the same lean entry`,
    ours: fmtS(median(times)),
    baseline: fmtS(median(bareLean)),
    a: median(times),
    b: median(bareLean),
  });
  addRow({
    measure: `${label}: lean warm exact hit, verified pre+main+post vs bare @actions/cache restore of the module cache as it lies (what a plain module-cache restore costs)`,
    ours: fmtS(median(times)),
    baseline: fmtS(median(bareFull)),
    a: median(times),
    b: median(bareFull),
  });
}

/** The module version with the most files in its tree: the dearest single repair. */
function largestTree(record: ExtractRecord): { path: string; version: string; files: number } {
  const m = [...record.modules]
    .filter((x) => x.treeH1 && x.zipH1 && !x.path.startsWith('golang.org/toolchain'))
    .sort((a, b) => (b.treeFiles ?? 0) - (a.treeFiles ?? 0))[0];
  if (!m) throw new Error('no module with a tree and a zip to corrupt');
  return { path: m.path, version: m.version, files: m.treeFiles ?? 0 };
}

/**
 * Serves the world's proxy directory over HTTP at 100 MB/s for `run`, with
 * the cache service throttled to 100 MB/s both ways: the fair rows' network.
 */
async function atNetworkSpeed<T>(
  world: World,
  run: (proxy: HttpGoProxy) => Promise<T>,
): Promise<T> {
  const proxy = await HttpGoProxy.start(world.proxyDir, THROTTLE);
  world.server.throttle(THROTTLE);
  world.server.throttleUploads(THROTTLE);
  try {
    return await run(proxy);
  } finally {
    world.server.throttle(undefined);
    world.server.throttleUploads(undefined);
    await proxy.close();
  }
}

/** The entry a job's post saved: the newest under its cache-key created after `afterSeq`. */
function savedAfter(world: World, j: Job, afterSeq: number): { key: string; size: number } {
  const prefix = j.outputs['cache-key'] ?? '';
  const e = world.server
    .finalized()
    .filter((x) => prefix !== '' && x.key.startsWith(prefix) && x.seq > afterSeq)
    .sort((a, b) => b.seq - a.seq)[0];
  if (!e) throw new Error(`post saved nothing under ${prefix}:\n${j.log.slice(-3000)}`);
  return { key: e.key, size: e.size };
}

/** The service's newest sequence number: entries saved later have a larger one. */
function lastSeq(world: World): number {
  return Math.max(0, ...world.server.finalized().map((e) => e.seq));
}

/**
 * 5. One bad module, repaired alone, vs the full rebuild, at network speed:
 * the time until the job has a verified, usable module cache (pre + main;
 * the cache service at 100 MB/s, main's download of the bad module from the
 * HTTP GOPROXY at 100 MB/s) vs `go clean -modcache && go mod download` from
 * the same throttled proxy. Then post's save of the repaired entry (each
 * repetition its own environment, so each save uploads) at 100 MB/s.
 */
async function repair(
  world: World,
  label: string,
  s: Seeded,
  record: ExtractRecord,
): Promise<void> {
  const victim = largestTree(record);
  log(`${label}: repair of ${victim.path}@${victim.version} at 100 MB/s x${REPAIR_REPS}`);
  const ours: number[] = [];
  const repairMs: number[] = [];
  const rebuild: number[] = [];
  const post: number[] = [];
  const uploaded: number[] = [];
  // A file of the bad module's tree changed and its zip truncated: no proven
  // zip is left to rebuild the tree from offline, so main must fetch it again.
  const dir = path.join(world.root, 'plant-src');
  await clientRestoreInto(world, s.plainKey, dir);
  corrupt(dir, victim.path, victim.version, 'modified-file');
  corrupt(dir, victim.path, victim.version, 'truncated-zip');
  const zipPath = `${escapeModulePath(victim.path)}/@v/${escapeModulePath(victim.version)}.zip`;
  for (let i = 0; i < REPAIR_REPS; i++) {
    const environment = `repair-${i}`;
    await world.plantDir(dir, s.key.replace(';env=bench;', `;env=${environment};`));
  }
  execFileSync('chmod', ['-R', 'u+w', dir]);
  rmSync(dir, { recursive: true, force: true });
  await atNetworkSpeed(world, async (proxy) => {
    for (let i = 0; i < REPAIR_REPS; i++) {
      const asked = proxy.requests.length;
      const before = lastSeq(world);
      const j = await world.job({
        inputs: { environment: `repair-${i}` },
        env: { GOPROXY: proxy.url },
      });
      ensureOk(j, 'repair job');
      if (
        j.outputs['verified'] !== 'true' ||
        !(j.outputs['corrupt-modules'] ?? '').includes(victim.path)
      ) {
        throw new Error(
          `repair job did not find and repair ${victim.path}:\n${j.log.slice(-3000)}`,
        );
      }
      if (!proxy.requests.slice(asked).includes(zipPath)) {
        throw new Error(
          `repair job did not fetch ${zipPath} from the HTTP proxy (asked: ${proxy.requests.slice(asked).join(', ')})`,
        );
      }
      ours.push((j.pre?.ms ?? 0) + j.main.ms);
      repairMs.push(mainTimings(j)['repair'] ?? 0);
      post.push(j.post.ms);
      uploaded.push(savedAfter(world, j, before).size);
      // The full rebuild: the corrupt cache removed, everything downloaded again.
      const r = runnerDir(world);
      const home = path.join(r, 'home');
      world.server.throttle(undefined);
      await clientRestoreInto(world, s.plainKey, world.modCache(home));
      world.server.throttle(THROTTLE);
      const ws = path.join(r, 'work', 'repo');
      mkdirSync(ws, { recursive: true });
      execFileSync('cp', ['-r', `${world.project}/.`, ws]);
      const env = { GOPROXY: proxy.url };
      const fetched = proxy.requests.length;
      rebuild.push(
        (await goIn(ws, world, home, ['clean', '-modcache'], env)) +
          (await goIn(ws, world, home, ['mod', 'download'], env)),
      );
      if (proxy.requests.length === fetched) throw new Error('the rebuild asked the proxy nothing');
      sweep(world, [path.dirname(s.seed.home)]);
    }
  });
  addRow({
    measure: `${label}: one bad module (a file of the largest tree changed, its zip truncated), until a verified usable module cache: pre+main at 100 MB/s (cache service and HTTP GOPROXY) vs go clean -modcache + go mod download from the same HTTP GOPROXY at 100 MB/s`,
    ours: fmtS(median(ours)),
    baseline: fmtS(median(rebuild)),
    a: median(ours),
    b: median(rebuild),
    ...(label.startsWith('real') ? { target: '≤ 0.5x', limit: 0.5 } : {}),
  });
  const floor = (median(uploaded) / THROTTLE) * 1000;
  addRow({
    measure: `${label}: post's save of the repaired entry (${fmtMB(median(uploaded))} uploaded) at 100 MB/s vs its upload floor (bytes / 100 MB/s)`,
    ours: fmtS(median(post)),
    baseline: fmtS(floor),
    a: median(post),
    b: floor,
  });
  note(
    `${label}: the repaired module is ${victim.path}@${victim.version} (${victim.files} files), fetched again from the ` +
      `HTTP GOPROXY; main's repair phase takes ${fmtS(median(repairMs))} of pre+main's ${fmtS(median(ours))}.`,
  );
}

/** 7. Size of the go.mod-only versions the entry keeps for offline module-graph checks. */
async function graphSize(world: World, label: string, s: Seeded): Promise<void> {
  log(`${label}: size of the module graph's go.mod-only versions`);
  const dir = path.join(world.root, 'plant-graph');
  await clientRestoreInto(world, s.key, dir);
  const offlineEnv = { GOPROXY: 'off', GOFLAGS: '-mod=mod', GOMODCACHE: dir };
  const listOk = async (): Promise<boolean> => {
    try {
      await goIn(s.seed.workspace, world, s.seed.home, ['list', '-m', 'all'], offlineEnv);
      return true;
    } catch {
      return false;
    }
  };
  const okWith = await listOk();
  await world.plantDir(dir, 'graph-with');
  const downloads = path.join(dir, 'cache', 'download');
  let modOnly = 0;
  const prune = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) prune(p);
      else if (e.name.endsWith('.mod') && !existsSync(p.replace(/\.mod$/, '.ziphash'))) {
        chmodSync(d, 0o755);
        rmSync(p, { force: true });
        rmSync(p.replace(/\.mod$/, '.info'), { force: true });
        modOnly++;
      }
    }
  };
  prune(downloads);
  const okWithout = await listOk();
  await world.plantDir(dir, 'graph-without');
  addRow({
    measure: `${label}: entry with the module graph's go.mod-only versions (${modOnly}) vs without them`,
    ours: fmtMB(entrySize(world, 'graph-with')),
    baseline: fmtMB(entrySize(world, 'graph-without')),
    a: entrySize(world, 'graph-with'),
    b: entrySize(world, 'graph-without'),
  });
  note(
    `${label}: offline \`go list -m all\` (GOPROXY=off) ${okWith ? 'succeeds' : 'FAILS'} on the entry as saved and ` +
      `${okWithout ? 'still succeeds' : 'fails'} without the ${modOnly} go.mod-only versions.`,
  );
}

/**
 * 8a. Cold run vs plain download + save of the same module cache: as it
 * was (file:// proxy, unthrottled service), and at network speed (both
 * download from the HTTP GOPROXY at 100 MB/s, both save to the service
 * throttled at 100 MB/s each way).
 */
async function cold(world: World, label: string, s: Seeded, throttled: boolean): Promise<void> {
  const tag = throttled ? '-100' : '';
  log(`${label}: cold run x${REPS}${throttled ? ' at 100 MB/s' : ''}`);
  const ours: number[] = [];
  const plain: number[] = [];
  const measure = async (proxy?: HttpGoProxy): Promise<void> => {
    const env: Record<string, string> = proxy ? { GOPROXY: proxy.url } : {};
    for (let i = 0; i < REPS; i++) {
      const asked = proxy?.requests.length ?? 0;
      const j = await world.job({ inputs: { environment: `cold${tag}-${i}` }, env });
      ensureOk(j, 'cold job');
      if (j.outputs['hit-kind'] !== 'miss') throw new Error('cold job was not a miss');
      if (proxy && proxy.requests.length === asked)
        throw new Error('the cold job asked the proxy nothing');
      ours.push(jobMs(j));
      const { runner, home, ws } = runnerWith(world, world.project);
      const dl = await goIn(ws, world, home, ['mod', 'download'], env);
      const r = await world.cacheClient(runner, ['save', `plain${tag}-${i}`, MODCACHE_SPEC]);
      if (r.code !== 0) throw new Error(r.output);
      plain.push(dl + r.ms);
      sweep(world, [path.dirname(s.seed.home)]);
    }
  };
  if (throttled) await atNetworkSpeed(world, measure);
  else await measure();
  const real = label.startsWith('real');
  addRow({
    measure: throttled
      ? `${label}: cold run (miss) at 100 MB/s, pre+main+post vs go mod download + plain @actions/cache save (both fetch from the HTTP GOPROXY at 100 MB/s; both saves upload to the cache service throttled at 100 MB/s, uploads too)`
      : `${label}: cold run (miss), pre+main+post vs go mod download + plain @actions/cache save (file:// proxy, unthrottled)`,
    ours: fmtS(median(ours)),
    baseline: fmtS(median(plain)),
    a: median(ours),
    b: median(plain),
    ...(real
      ? throttled
        ? { target: '≤ 1.0x', limit: 1.0 }
        : { target: '≤ 1.1x', limit: 1.1 }
      : {}),
  });
  if (throttled) return;
  addRow({
    measure: `${label}: archive size, our entry vs a plain save of the same module cache`,
    ours: fmtMB(s.size),
    baseline: fmtMB(entrySize(world, 'plain-0')),
    a: s.size,
    b: entrySize(world, 'plain-0'),
  });
}

/** Every measure that runs on one workload (those this run wants). */
async function workload(world: World, label: string): Promise<Seeded> {
  log(`${label}: seeding`);
  const seed = await world.job({ inputs: { environment: 'bench' } });
  ensureOk(seed, 'seed job');
  const key = savedKey(world, seed);
  const size = entrySize(world, key);
  const sumHash = createHash('sha256')
    .update(readFileSync(path.join(world.project, 'go.sum')))
    .digest('hex');
  note(
    `${label}: ${seed.outputs['module-count']} module versions, go.sum sha256 ${sumHash.slice(0, 16)}…, our entry ${fmtMB(size)}.`,
  );
  const plainKey = `plain-seed-${label}`;
  await world.plantDir(world.modCache(seed.home), plainKey);
  const s: Seeded = { seed, key, size, warmMedian: 0, plainKey };
  note(
    `${label}: the same module cache saved as it lies (trees and zips) is ${fmtMB(entrySize(world, plainKey))}.`,
  );
  const keep = [path.dirname(seed.home)];
  // Most wanted first: a run stopped at its deadline still has these.
  if (want('warm')) {
    s.warmMedian = await warm(world, label, s, false, keep);
    sweep(world, keep);
    await warm(world, label, s, true, keep);
    sweep(world, keep);
  }
  if (want('profile') && (quick || label.startsWith('real'))) {
    await profiledWarm(world, label, s);
    sweep(world, keep);
  }
  let record: ExtractRecord | undefined;
  if (want('verify')) {
    record = await verifyAlone(world, label, s);
    await agreement(world, label, s, record);
  }
  if (want('repair')) {
    await repair(world, label, s, record ?? (await recordFromDisk(world.modCache(seed.home))));
    sweep(world, keep);
  }
  if (want('lean')) {
    await lean(world, label, s, keep);
    sweep(world, keep);
  }
  if (want('graph') && label.startsWith('real')) {
    // The synthetic module graph has no go.mod-only versions.
    await graphSize(world, label, s);
    sweep(world, keep);
  }
  if (want('cold')) {
    await cold(world, label, s, false);
    sweep(world, keep);
    await cold(world, label, s, true);
    sweep(world, keep);
  }
  return s;
}

/** 6. Convergence A->B->A, with B far from A (switch) and close to A (complete). */
async function convergence(world: World, label: string, warmMs: number): Promise<void> {
  const n = world.set.plain.length;
  const cases = [
    { name: 'switch', bumped: Math.ceil(n / 2) },
    { name: 'complete', bumped: Math.max(1, Math.floor(n / 10)) },
  ];
  for (const c of cases) {
    log(`convergence (${c.name}): ${c.bumped} of ${n} modules differ, x${REPAIR_REPS}`);
    const bump: Record<string, string> = {};
    for (const p of world.set.plain.slice(0, c.bumped)) bump[p] = 'v1.1.0';
    const projectB = world.writeProject(path.join(world.root, `conv-${c.name}-b`), bump);
    const toB: number[] = [];
    const back: number[] = [];
    const kinds = new Set<string>();
    for (let i = 0; i < REPAIR_REPS; i++) {
      const inputs = { environment: `conv-${c.name}-${i}` };
      ensureOk(await world.job({ inputs }), 'convergence A');
      const b = await world.job({ project: projectB, inputs });
      ensureOk(b, 'convergence B');
      toB.push(jobMs(b));
      const a = await world.job({ inputs });
      ensureOk(a, 'convergence back to A');
      back.push(jobMs(a));
      kinds.add(`${a.outputs['hit-kind']}`);
      if (c.name === 'switch' && !a.log.includes('restoring the exact entry instead')) {
        throw new Error(`A->B->A did not switch to the exact entry:\n${a.log.slice(-3000)}`);
      }
      if (c.name === 'complete' && !a.log.includes('completing the restored cache')) {
        throw new Error(`A->B->A did not complete the lineage cache:\n${a.log.slice(-3000)}`);
      }
    }
    addRow({
      measure: `${label}: back to A after B (${c.bumped} of ${n} versions differ: ${c.name === 'switch' ? 'switches to the exact entry' : 'completes the lineage cache'}) vs a warm exact hit`,
      ours: fmtS(median(back)),
      baseline: fmtS(warmMs),
      a: median(back),
      b: warmMs,
    });
    note(
      `convergence (${c.name}): the A->B job (lineage hit, downloads the ${c.bumped} new versions) takes ${fmtS(median(toB))}; ` +
        `back to A ${fmtS(median(back))}, reported hit-kind ${[...kinds].join('/')}.`,
    );
    sweep(world, []);
  }
}

/** 8b. Ten generations of go.sum changes: ours vs the restore-keys recipe. */
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
      ourLast = entrySize(world, savedKey(world, j));
      if (g === 1) ourFirst = ourLast;
      await restoreKeysRecipe(world, project, `recipe-${g}`, 'recipe-');
      recipeLast = entrySize(world, `recipe-${g}`);
    }
    addRow({
      measure: `10 generations (${modules} modules, ${perGen} more bumped each): size of the 10th entry, ours vs the restore-keys recipe`,
      ours: fmtMB(ourLast),
      baseline: fmtMB(recipeLast),
      a: ourLast,
      b: recipeLast,
    });
    note(`generations: our first entry ${fmtMB(ourFirst)}, tenth ${fmtMB(ourLast)}.`);
  } finally {
    await world.dispose();
  }
}

/** 8c. Each stage's own start-up with nothing to restore or verify. */
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
        'start-up with nothing to restore or verify: pre / main / post (main includes go env)',
      ours: `${median(times.pre)} / ${median(times.main)} / ${median(times.post)} ms`,
      baseline: '-',
      ratio: '-',
      target: '< 300 ms each',
      value: Math.max(median(times.pre), median(times.main), median(times.post)),
      limit: 300,
    });
  } finally {
    await world.dispose();
  }
}

/** The Node the stages run on (the action's runtime is node24). */
function stageNode(): string {
  const bin = process.env['VGC_STAGE_NODE'];
  if (!bin) return process.version;
  return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
}

/** The file system type of a directory (tmpfs, ext4...), from df. */
function fsType(dir: string): string {
  const r = spawnSync('df', ['--output=fstype', dir], { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout.trim().split('\n')[1]?.trim() ?? 'unknown') : 'unknown';
}

function machine(): string[] {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const zstd = spawnSync('zstd', ['--version'], { stdio: 'ignore' }).status === 0;
  return [
    `Date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    `Machine: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, ${os.platform()} ${os.release()}, load average at start ${os.loadavg()[0]!.toFixed(2)}`,
    `Go: ${execFileSync('go', ['version'], { encoding: 'utf8' }).trim()}`,
    `Node: stages on ${stageNode()} (separate node processes; VGC_STAGE_NODE picks the binary), the bench itself on ${process.version} (recordFromDisk runs in it); run the bench with the stages' Node to measure what main does`,
    `Runners' disk: ${os.tmpdir()} (${fsType(os.tmpdir())}); TMPDIR=/dev/shm takes this machine's disk out of the numbers`,
    `Compression: ${zstd ? 'zstd' : 'gzip'}`,
    `Repetitions: median of ${REPS} for every timed row, ${REPAIR_REPS} for the repair and convergence rows`,
  ];
}

const runStarted = Date.now();
let header: string[] = [];

/**
 * Writes the results so far (after every row, so a run stopped early still
 * leaves its numbers in .bench/), and prints them at the end.
 */
function flush(final = false): void {
  const md = [
    `# Benchmarks${quick ? ' (quick)' : ''}${final ? '' : ' (run in progress)'}`,
    '',
    ...header.map((l) => `- ${l}`),
    `- Total run: ${fmtS(Date.now() - runStarted)}, load average now ${os.loadavg()[0]!.toFixed(2)}`,
    '',
    rowsTable(rows),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    ...(memoryRows.length ? ['## Memory', '', memoryTable(memoryRows), ''] : []),
    ...(profiles.length ? ['## Where the rest goes', '', ...profiles] : []),
  ].join('\n');
  const out = path.join(BENCH_DIR, quick ? 'results.quick.md' : 'results.md');
  mkdirSync(BENCH_DIR, { recursive: true });
  writeFileSync(out, md);
  if (final) {
    console.log(md);
    log(`written to ${path.relative(REPO_ROOT, out)}`);
  }
}

/** A median warm exact hit alone: convergence's baseline when the warm section is skipped. */
async function warmOnly(world: World): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const j = await world.job({ inputs: { environment: 'bench' } });
    ensureOk(j, 'warm job');
    cleanExactHit(j, 'warm job');
    ms.push(jobMs(j));
  }
  return median(ms);
}

async function main(): Promise<void> {
  header = machine();
  if (only) header.push(`Sections: only ${[...only].join(', ')} (--only)`);
  const onWorkload = WORKLOAD_SECTIONS.some(want);
  if (!quick) {
    if (onWorkload || want('memory')) {
      const proxyDir = realProxy(log);
      const world = await World.create({
        modules: 0,
        existing: { proxyDir, project: REAL_PROJECT },
      });
      try {
        if (onWorkload) await workload(world, 'real workload');
        if (want('memory')) {
          memoryRows = await memorySection(world, REPS);
          flush();
        }
      } finally {
        await world.dispose();
      }
    }
    if (want('real-generations')) {
      // Its own World (and go.sum generations): after the real one is gone.
      const gen = await realGenerations({ reps: REPS, log });
      rows.push(...gen.rows);
      for (const r of gen.rows) log(`${r.measure}: ${r.ratio}`);
      for (const n of gen.notes) note(n);
      flush();
    }
  }
  // The synthetic workload has no graph rows, and its profile only in --quick.
  const onSynthetic = WORKLOAD_SECTIONS.some(
    (x) => want(x) && x !== 'graph' && (x !== 'profile' || quick),
  );
  if (onSynthetic || want('convergence')) {
    const synthN = quick ? 50 : 200;
    const label = `synthetic ${synthN} modules`;
    const synth = await World.create({ modules: synthN, payloadBytes: quick ? 2048 : 32 * 1024 });
    try {
      const s = await workload(synth, label);
      if (want('convergence')) {
        await convergence(synth, label, s.warmMedian || (await warmOnly(synth)));
      }
    } finally {
      await synth.dispose();
    }
  }
  if (want('generations')) {
    await generations(quick ? 20 : 200, quick ? 1024 : 32 * 1024, quick ? 2 : 10);
  }
  if (want('startup')) await startup();

  flush(true);
}

await main();
