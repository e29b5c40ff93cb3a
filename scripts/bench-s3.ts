/**
 * npm run bench:s3 [-- --quick] [-- --reps N]
 *
 * The S3 backend's warm exact hit, as ratios of medians from one run:
 *
 *  1. a warm exact hit on S3 (versitygw on loopback), verified pre+main+post,
 *     against the same job on the GitHub cache service emulation;
 *  2. the same S3 job against runs-on/cache's approach: a plain download of
 *     the same object (GetObject to a file) and `tar -x` of it, nothing
 *     verified;
 *
 * unthrottled and with the store's answers limited to 100 MB/s (a loopback
 * proxy for S3, the emulation's own throttle for GitHub). The workload is the
 * real one when `npm run bench` has resolved it into .bench/real, else (and
 * with --quick) a synthetic module set. Repetitions are interleaved so both
 * sides see the same machine load. Results: .bench/results-s3.md.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { REPO_ROOT } from '../test/e2e/harness/runner.js';
import { S3Proxy } from '../test/e2e/harness/s3-proxy.js';
import {
  S3_ACCESS_KEY,
  S3_REGION,
  S3_SECRET_KEY,
  S3Server,
} from '../test/e2e/harness/s3-server.js';
import { World } from '../test/e2e/harness/world.js';
import { fmtMB, fmtS, median, ratio } from './stats.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const repsAt = args.indexOf('--reps');
const REPS = repsAt >= 0 ? Number(args[repsAt + 1]) : quick ? 3 : 5;
const THROTTLE = 100e6;
const BENCH_DIR = path.join(REPO_ROOT, '.bench');
const REAL_PROXY = path.join(BENCH_DIR, 'real', 'modcache', 'cache', 'download');
const REAL_PROJECT = path.join(REPO_ROOT, 'bench', 'real-workload');
const PREFIX = 'bench';
const ENV = 'bench';

const log = (s: string): void =>
  console.error(`[bench:s3] ${new Date().toISOString().slice(11, 19)} ${s}`);

type Job = Awaited<ReturnType<World['job']>>;

const jobMs = (j: Job): number => (j.pre?.ms ?? 0) + j.main.ms + j.post.ms;

function warmOk(j: Job, what: string): void {
  if (!j.succeeded || j.outputs['hit-kind'] !== 'exact' || j.outputs['verified'] !== 'true') {
    throw new Error(`${what}: not a verified exact hit\n${j.log.slice(-4000)}`);
  }
}

/** runs-on/cache's restore: the object downloaded to a file, then `tar -x` of it. */
async function plainRestore(
  client: S3Client,
  bucket: string,
  key: string,
  dir: string,
): Promise<number> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const file = `${dir}.tar.zst`;
  const started = performance.now();
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  await pipeline(r.Body as Readable, createWriteStream(file));
  execFileSync('tar', ['-I', 'zstd', '-xf', file, '-C', dir]);
  const ms = performance.now() - started;
  execFileSync('chmod', ['-R', 'u+w', dir]);
  rmSync(dir, { recursive: true, force: true });
  rmSync(file, { force: true });
  return ms;
}

async function main(): Promise<void> {
  const real = !quick && existsSync(REAL_PROXY);
  if (!quick && !real) log('no .bench/real (run npm run bench once): using the synthetic workload');
  const world = await World.create(
    real
      ? { modules: 0, existing: { proxyDir: REAL_PROXY, project: REAL_PROJECT } }
      : { modules: quick ? 40 : 150, payloadBytes: 256 << 10 },
  );
  const s3 = await S3Server.start();
  const proxy = new S3Proxy(s3.endpoint);
  const via = await proxy.start();
  const client = new S3Client({
    endpoint: via,
    region: S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
  });
  const rows: string[] = [];
  try {
    const s3Job = (env: Record<string, string> = {}) =>
      world.job({
        inputs: { environment: ENV, ...s3.inputsFor(PREFIX, via) },
        env: { ...s3.envFor(), ...env },
      });
    log('seeding: a cold job on each store');
    const seedS3 = await s3Job();
    const seedGh = await world.job({ inputs: { environment: ENV } });
    for (const [j, what] of [
      [seedS3, 'S3 seed'],
      [seedGh, 'GitHub seed'],
    ] as const) {
      if (!j.succeeded) throw new Error(`${what} failed\n${j.log.slice(-4000)}`);
    }
    const [object] = await s3.keys(`${PREFIX}/`);
    const size = (await s3.objects(`${PREFIX}/`))[0]?.Size ?? 0;
    log(`entry ${object} (${fmtMB(size)})`);
    for (const throttled of [false, true]) {
      proxy.downloadBytesPerSecond = throttled ? THROTTLE : 0;
      world.server.throttle(throttled ? THROTTLE : undefined);
      const tag = throttled ? ' at 100 MB/s' : '';
      const onS3: number[] = [];
      const onGh: number[] = [];
      const plain: number[] = [];
      for (let i = 0; i < REPS; i++) {
        log(`warm${tag}: repetition ${i + 1} of ${REPS}`);
        const a = await s3Job();
        warmOk(a, 'S3 warm job');
        onS3.push(jobMs(a));
        const b = await world.job({ inputs: { environment: ENV } });
        warmOk(b, 'GitHub warm job');
        onGh.push(jobMs(b));
        plain.push(await plainRestore(client, s3.bucket, object!, path.join(world.root, 'plain')));
        for (const j of [a, b]) {
          execFileSync('chmod', ['-R', 'u+w', path.dirname(j.home)]);
          rmSync(path.dirname(j.home), { recursive: true, force: true });
        }
      }
      const [ms3, mgh, mplain] = [median(onS3), median(onGh), median(plain)];
      rows.push(
        `| warm exact hit${tag}, S3, verified pre+main+post vs the same on GitHub's service (emulation) | ${fmtS(ms3)} | ${fmtS(mgh)} | ${ratio(ms3, mgh)} |`,
        `| warm exact hit${tag}, S3, verified pre+main+post vs plain GetObject + tar -x of the same object (runs-on/cache) | ${fmtS(ms3)} | ${fmtS(mplain)} | ${ratio(ms3, mplain)} |`,
      );
      log(rows.slice(-2).join('\n'));
    }
    const md =
      `### S3 backend (${real ? 'real workload' : 'synthetic workload'}, entry ${fmtMB(size)}, ` +
      `${REPS} repetitions, medians)\n\n| measure | ours | baseline | ratio |\n| --- | --- | --- | --- |\n` +
      rows.join('\n') +
      '\n';
    mkdirSync(BENCH_DIR, { recursive: true });
    const out = path.join(BENCH_DIR, quick ? 'results-s3.quick.md' : 'results-s3.md');
    writeFileSync(out, md);
    console.log(md);
    log(`written to ${path.relative(REPO_ROOT, out)}`);
  } finally {
    client.destroy();
    await proxy.stop();
    await s3.stop();
    await world.dispose();
  }
}

await main();
