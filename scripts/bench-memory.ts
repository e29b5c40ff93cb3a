/**
 * npm run bench:memory [-- --reps N]
 *
 * Peak resident memory of the bundled stages (dist/<stage>/index.js, run as
 * the runner runs them, one process each; pre, main and post each under GNU
 * time through the harness's VGC_STAGE_TIME_DIR) restoring, from the local
 * cache service:
 *   - the real workload's own entry (a warm exact hit), and
 *   - planted entries with one huge module zip member: a stored 2 GiB zip of
 *     one 2 GiB file (more than Go's 500 MiB limit for a module zip), and a
 *     450 MiB zip of one deflated file (within it: written, inflated, hashed),
 * each beside GNU tar's peak for `tar -xf` of the same archive. Both peaks
 * come from GNU time's %M (Debian's `time` package): for a stage its node
 * process, worker threads included; for tar the larger of tar and its zstd.
 *
 * scripts/bench.ts runs this as its memory section on the real workload's
 * world; run alone it makes its own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { pipeline } from 'node:stream/promises';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { Entry } from '../test/e2e/harness/cache-server.js';
import { World } from '../test/e2e/harness/world.js';
import { GNU_TIME } from '../test/e2e/harness/runner.js';
import { realProxy, REAL_PROJECT } from './bench-real.js';
import { fmtMB, fmtS, median } from './stats.js';

const TIME = GNU_TIME;
const GiB = 2 ** 30;
const MiB = 2 ** 20;

export interface MemoryRow {
  /** What was restored. */
  entry: string;
  archiveBytes: number;
  /** pre's peak resident set (bytes), median over the repetitions, and the largest. */
  pre: number;
  preMax: number;
  /** main's and post's peak resident sets (bytes), medians. */
  main: number;
  post: number;
  preMs: number;
  /** GNU tar's peak resident set for `tar -xf` of the same archive (bytes). */
  tar: number;
  /** What the job made of it (hit kind, the planted module's fate). */
  outcome: string;
}

const log = (s: string): void =>
  console.error(`[bench:memory] ${new Date().toISOString().slice(11, 19)} ${s}`);

/** GNU time's %M of a command (KiB) in bytes; the command must succeed. */
function peakOf(argv: string[], cwd?: string): number {
  const out = path.join(cwd ?? '/tmp', `.peak-${process.pid}`);
  const r = spawnSync(TIME, ['-f', '%M', '-o', out, ...argv], { cwd, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (exit ${r.status})`);
  const kib = Number(readFileSync(out, 'utf8').trim().split('\n').pop());
  rmSync(out, { force: true });
  return kib * 1024;
}

export interface StagePeaks {
  pre: number;
  main: number;
  post: number;
}

/**
 * Runs one job with each stage under GNU time (the harness's
 * VGC_STAGE_TIME_DIR); each stage's peak RSS in bytes, with the job.
 */
export async function measuredJob(
  world: World,
  environment: string,
): Promise<{ peaks: StagePeaks; job: Awaited<ReturnType<World['job']>> }> {
  const dir = path.join(world.root, `rss-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
  const job = await world.job({ inputs: { environment }, env: { VGC_STAGE_TIME_DIR: dir } });
  // Each job leaves a module cache behind (1.3 GB on the real workload).
  execFileSync('chmod', ['-R', 'u+w', path.dirname(job.home)]);
  rmSync(path.dirname(job.home), { recursive: true, force: true });
  const peak = (stage: keyof StagePeaks): number => {
    const file = path.join(dir, `${stage}.rss`);
    if (!existsSync(file)) throw new Error(`${stage} left no peak RSS:\n${job.log.slice(-3000)}`);
    return Number(readFileSync(file, 'utf8').trim().split('\n').pop()) * 1024;
  };
  const peaks = { pre: peak('pre'), main: peak('main'), post: peak('post') };
  rmSync(dir, { recursive: true, force: true });
  return { peaks, job };
}

/** GNU tar's peak extracting the archive (zstd as its filter) into a fresh folder, removed after. */
function tarPeak(world: World, archive: string): number {
  const dest = path.join(world.root, `tar-${Date.now()}`);
  mkdirSync(dest);
  try {
    return peakOf(['tar', '--use-compress-program', 'unzstd', '-xf', archive, '-C', dest]);
  } finally {
    execFileSync('chmod', ['-R', 'u+w', dest]);
    rmSync(dest, { recursive: true, force: true });
  }
}

/**
 * Writes a module zip of one file of `size` bytes: text of words drawn from a
 * small vocabulary (about 3x compressible, never trivially), stored or
 * deflated, streamed to disk with its header filled in at the end (no 2 GiB
 * buffer in the bench either).
 */
export async function writeBigZip(
  file: string,
  inner: string,
  size: number,
  deflate: boolean,
): Promise<void> {
  let seed = 0x9e3779b9;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const words = Array.from({ length: 512 }, () =>
    Array.from({ length: 2 + (next() % 9) }, () => String.fromCharCode(97 + (next() % 26))).join(
      '',
    ),
  );
  let text = '';
  while (text.length < 8 * MiB) text += `${words[next() % 512]}${next() % 11 === 0 ? '\n' : ' '}`;
  const pool = Buffer.from(text.slice(0, 8 * MiB));
  const name = Buffer.from(inner);
  let crc = 0;
  async function* content(): AsyncGenerator<Buffer> {
    for (let done = 0, rep = 0; done < size; rep++) {
      const piece = Buffer.from(pool.subarray(0, Math.min(pool.length, size - done)));
      piece.write(`${rep} `, 0);
      crc = zlib.crc32(piece, crc);
      done += piece.length;
      yield piece;
    }
  }
  const header = 30 + name.length;
  const out = createWriteStream(file, { start: header });
  if (deflate) await pipeline(content, zlib.createDeflateRaw({ level: 1 }), out);
  else await pipeline(content, out);
  const csize = out.bytesWritten;
  const fields = (b: Buffer, o: number): void => {
    b.writeUInt16LE(deflate ? 8 : 0, o);
    b.writeUInt32LE(0x00210000, o + 2); // time 0, date 1980-01-01
    b.writeUInt32LE(crc >>> 0, o + 6);
    b.writeUInt32LE(csize, o + 10);
    b.writeUInt32LE(size, o + 14);
    b.writeUInt16LE(name.length, o + 18);
  };
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(0x0800, 6);
  fields(local, 8);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(0x0800, 8);
  fields(central, 10);
  const cdStart = header + csize;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + name.length, 12);
  end.writeUInt32LE(cdStart, 16);
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.concat([local, name]), 0, header, 0);
    const tail = Buffer.concat([central, name, end]);
    writeSync(fd, tail, 0, tail.length, cdStart);
  } finally {
    closeSync(fd);
  }
}

/** The newest finalized entry whose key starts with the job's cache-key. */
function newestEntry(world: World, cacheKey: string): Entry {
  const e = world.server
    .finalized()
    .filter((x) => x.key.startsWith(cacheKey))
    .sort((a, b) => b.seq - a.seq)[0];
  if (!e) throw new Error(`no entry under ${cacheKey}`);
  return e;
}

/**
 * The memory section on a world serving the real workload: its own
 * environment, so that the planted entries disturb no other section.
 */
export async function memorySection(world: World, reps: number): Promise<MemoryRow[]> {
  if (!existsSync(TIME)) throw new Error(`${TIME} is missing: apt-get install time`);
  const env = 'memory';
  log('seeding (a cold run saves the entry)');
  const seed = await world.job({ inputs: { environment: env } });
  if (!seed.succeeded) throw new Error(`memory seed job failed:\n${seed.log.slice(-3000)}`);
  const cacheKey = seed.outputs['cache-key']!;
  execFileSync('chmod', ['-R', 'u+w', path.dirname(seed.home)]);
  rmSync(path.dirname(seed.home), { recursive: true, force: true });
  const entry = newestEntry(world, cacheKey);
  const rows: MemoryRow[] = [];

  log(`the real workload's entry: ${reps} warm exact hits, then tar -xf x${reps}`);
  const peaks: StagePeaks[] = [];
  const ms: number[] = [];
  const tars: number[] = [];
  let outcome = '';
  for (let i = 0; i < reps; i++) {
    const { peaks: peak, job } = await measuredJob(world, env);
    if (!job.succeeded || job.outputs['hit-kind'] !== 'exact' || job.outputs['verified'] !== 'true')
      throw new Error(`warm job: not a verified exact hit:\n${job.log.slice(-3000)}`);
    peaks.push(peak);
    ms.push(job.pre?.ms ?? 0);
    outcome = `exact hit, verified, ${job.outputs['module-count']} module versions`;
    tars.push(tarPeak(world, entry.file));
  }
  rows.push({
    entry: "the real workload's entry",
    archiveBytes: entry.size,
    pre: median(peaks.map((p) => p.pre)),
    preMax: Math.max(...peaks.map((p) => p.pre)),
    main: median(peaks.map((p) => p.main)),
    post: median(peaks.map((p) => p.post)),
    preMs: median(ms),
    tar: median(tars),
    outcome,
  });

  const planted = [
    { label: '2 GiB', size: 2 * GiB, deflate: false, module: 'example.com/huge' },
    { label: '450 MiB', size: 450 * MiB, deflate: true, module: 'example.com/large' },
  ];
  for (const p of planted) {
    const desc = `a planted entry with one ${p.label} zip member (${p.deflate ? 'one deflated file' : 'one stored file'})`;
    log(`${desc}: writing it`);
    const dir = path.join(world.root, `memory-plant-${p.label.replace(' ', '')}`);
    const at = path.join(dir, 'cache', 'download', ...p.module.split('/'), '@v');
    mkdirSync(at, { recursive: true });
    await writeBigZip(
      path.join(at, 'v1.0.0.zip'),
      `${p.module}@v1.0.0/blob.txt`,
      p.size,
      p.deflate,
    );
    const key = `${cacheKey};gen=planted-${p.label.replace(' ', '')}`;
    await world.plantDir(dir, key);
    rmSync(dir, { recursive: true, force: true });
    const archive = newestEntry(world, cacheKey);
    if (archive.key !== key) throw new Error(`the planted entry ${key} is not the newest`);
    log(`${desc}: ${fmtMB(archive.size)} archive; one job, then tar -xf`);
    const { peaks: peak, job } = await measuredJob(world, env);
    const matched = job.outputs['cache-matched-key'] === key;
    const pre = job.pre?.exitCode === 0 ? 'pre exit 0' : `pre exit ${job.pre?.exitCode}`;
    rows.push({
      entry: desc,
      archiveBytes: archive.size,
      pre: peak.pre,
      preMax: peak.pre,
      main: peak.main,
      post: peak.post,
      preMs: job.pre?.ms ?? 0,
      tar: tarPeak(world, archive.file),
      outcome: `${pre}, ${matched ? 'restored the planted entry' : `matched ${job.outputs['cache-matched-key'] ?? 'nothing'}`}, job ${job.succeeded ? 'green' : 'failed'}, hit-kind ${job.outputs['hit-kind']}`,
    });
    // 2 GiB of archive is not kept for the rest of the run.
    world.server.deleteEntry(archive.id);
  }
  return rows;
}

/** The rows as a markdown table. */
export function memoryTable(rows: readonly MemoryRow[]): string {
  const mb = (n: number): string => `${(n / MiB).toFixed(0)} MiB`;
  return [
    '| restored | archive | pre peak RSS | main peak RSS | post peak RSS | GNU tar -xf peak RSS | pre wall | what the job did |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.entry} | ${fmtMB(r.archiveBytes)} | ${mb(r.pre)}${r.preMax !== r.pre ? ` (max ${mb(r.preMax)})` : ''} | ${mb(r.main)} | ${mb(r.post)} | ${mb(r.tar)} | ${fmtS(r.preMs)} | ${r.outcome} |`,
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const repsAt = args.indexOf('--reps');
  const reps = repsAt >= 0 ? Number(args[repsAt + 1]) : 3;
  const world = await World.create({
    modules: 0,
    existing: { proxyDir: realProxy(log), project: REAL_PROJECT },
  });
  try {
    console.log(memoryTable(await memorySection(world, reps)));
  } finally {
    await world.dispose();
  }
}

if (
  process.argv[1] &&
  path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)
)
  await main();
