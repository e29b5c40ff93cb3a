/**
 * Micro-benchmark of the confined extractor (src/restore/extract.ts).
 *
 *   npx tsx scripts/bench-extract.ts [--modcache DIR] [--project DIR] [--reps N] [--gzip] [--workdir DIR]
 *
 * Archives a module cache as @actions/cache would (GNU tar --posix | zstd -T0, or gzip), then
 * compares, in the same run and interleaved:
 *   - extractArchive (decompress + confined write + sha256 of every tree file + HashZip of every
 *     zip in workers) against `tar -xf` of the same archive (no hashing, no checks), and against
 *     `tar -xf` followed by recordFromDisk (the same hashes read back from disk);
 *   - extractArchive of the entry as the action saves it (the download area alone: every module
 *     as its zip, the trees written from the zips), against the same `tar -xf`;
 *   - recordFromDisk (every tree and zip hashed) against `go mod verify` (build list only).
 * Defaults to the real workload's cache in .bench/real/modcache when it exists, else a
 * synthetic cache built with the e2e harness's module generator. Prints medians.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { extractArchive } from '../src/restore/extract.js';
import { recordFromDisk } from '../src/verify/scan.js';
import { forceRemove } from '../src/go/modcache.js';
import {
  generateModules,
  goEnv,
  publish,
  runGo,
  writeProject,
} from '../test/e2e/harness/goproxy.js';
import { median } from './stats.js';

interface Args {
  modcache?: string;
  project?: string;
  reps: number;
  gzip: boolean;
  /** Where archives and extractions go (e.g. /dev/shm to take the disk out of the numbers). */
  workdir: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { reps: 3, gzip: false, workdir: os.tmpdir() };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--modcache') a.modcache = argv[++i];
    else if (k === '--project') a.project = argv[++i];
    else if (k === '--reps') a.reps = Number(argv[++i]);
    else if (k === '--gzip') a.gzip = true;
    else if (k === '--workdir') a.workdir = argv[++i]!;
    else
      throw new Error(
        `unknown argument ${k}: use --modcache DIR --project DIR --reps N --gzip --workdir DIR`,
      );
  }
  return a;
}

const root = path.join(path.dirname(new URL(import.meta.url).pathname), '..');

/** A synthetic module cache: 150 modules, each with a 64 KiB filler file. */
function syntheticCache(work: string): { modcache: string; project: string } {
  const proxy = path.join(work, 'proxy');
  const home = path.join(work, 'home');
  const set = generateModules(150, 64 << 10);
  for (const v of set.versions) publish(proxy, v);
  const env = goEnv(proxy, home, { GOFLAGS: '-mod=mod -modcacherw' });
  const req: Record<string, string> = { ...set.special };
  for (const p of set.plain) req[p] = 'v1.1.0';
  const project = path.join(work, 'project');
  writeProject(project, 'example.com/bench', req, env);
  runGo(['mod', 'download'], project, env);
  return { modcache: String(env.GOMODCACHE), project };
}

async function timed<T>(fn: () => Promise<T> | T): Promise<[number, T]> {
  const t = performance.now();
  const v = await fn();
  return [(performance.now() - t) / 1000, v];
}

/** Runs fn, returning [wall seconds, CPU seconds of this process (all its threads)]. */
async function timedCpu<T>(fn: () => Promise<T>): Promise<[number, number, T]> {
  const c = process.cpuUsage();
  const [t, v] = await timed(fn);
  const d = process.cpuUsage(c);
  return [t, (d.user + d.system) / 1e6, v];
}

/** Runs a shell command under bash's `time`: [wall seconds, CPU seconds of it and its children, stdout]. */
function shCpu(cmd: string, env?: NodeJS.ProcessEnv, cwd?: string): [number, number, string] {
  const t = performance.now();
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S'; time { ${cmd}; }`], {
    env,
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  const [u, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return [(performance.now() - t) / 1000, u! + sys!, r.stdout];
}

function sh(cmd: string, env?: NodeJS.ProcessEnv, cwd?: string): string {
  return execFileSync('sh', ['-c', cmd], { env, cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** Samples the process's resident set and Buffer memory while fn runs. */
async function peakRss<T>(fn: () => Promise<T>): Promise<[{ rss: number; buffers: number }, T]> {
  const peak = { rss: 0, buffers: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.buffers = Math.max(peak.buffers, m.arrayBuffers);
  };
  const timer = setInterval(sample, 50);
  try {
    const v = await fn();
    sample();
    return [peak, v];
  } finally {
    clearInterval(timer);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  console.log(`node ${process.versions.node}`);
  const work = mkdtempSync(path.join(args.workdir, 'bench-extract-'));
  let modcache = args.modcache;
  let project = args.project;
  const real = path.join(root, '.bench', 'real', 'modcache');
  if (!modcache && existsSync(real)) {
    modcache = real;
    project ??= path.join(root, 'bench', 'real-workload');
  }
  if (!modcache) ({ modcache, project } = syntheticCache(work));
  const mc = modcache;
  const compress = args.gzip ? 'gzip -c' : 'zstd -q -T0';
  const file = path.join(work, args.gzip ? 'cache.tgz' : 'cache.tzst');
  const [tArchive] = await timed(() =>
    sh(`tar --posix -cf - -C '${mc}' . | ${compress} > '${file}'`),
  );
  const archiveBytes = statSync(file).size;
  // The action's own entries hold a module with a verified zip as the zip alone.
  const zipsFile = path.join(work, args.gzip ? 'zips.tgz' : 'zips.tzst');
  sh(`tar --posix -cf - -C '${mc}' cache | ${compress} > '${zipsFile}'`);
  const zipsBytes = statSync(zipsFile).size;
  console.log(
    `module cache ${mc}\narchive ${(archiveBytes / 2 ** 20).toFixed(1)} MiB (made in ${tArchive.toFixed(1)} s); ` +
      `as the action saves it (zips, no trees) ${(zipsBytes / 2 ** 20).toFixed(1)} MiB`,
  );

  const ours: number[] = [];
  const oursCpu: number[] = [];
  const zipsOurs: number[] = [];
  const zipsCpu: number[] = [];
  const zipsRss: number[] = [];
  const tarX: number[] = [];
  const tarCpu: number[] = [];
  const tarThenRecord: number[] = [];
  const rss: number[] = [];
  const buffers: number[] = [];
  let files = 0;
  let bytes = 0;
  let modules = 0;
  const unzip = args.gzip ? '-z' : '--use-compress-program unzstd';
  for (let i = 0; i < args.reps; i++) {
    const d1 = path.join(work, `ours${i}`);
    const [peak, [t1, c1, res]] = await peakRss(() =>
      timedCpu(() => extractArchive(createReadStream(file), d1)),
    );
    ours.push(t1);
    oursCpu.push(c1);
    rss.push(peak.rss);
    buffers.push(peak.buffers);
    files = res.files;
    bytes = res.bytes;
    modules = res.record.modules.filter((m) => m.treeH1 || m.zipH1).length;
    await forceRemove(d1);

    const dz = path.join(work, `zips${i}`);
    const [zpeak, [tz, cz, zres]] = await peakRss(() =>
      timedCpu(() => extractArchive(createReadStream(zipsFile), dz)),
    );
    zipsOurs.push(tz);
    zipsCpu.push(cz);
    zipsRss.push(zpeak.rss);
    if (JSON.stringify(zres.record) !== JSON.stringify(res.record))
      throw new Error('the entry of zips alone gave another record than the whole cache');
    await forceRemove(dz);

    const d2 = path.join(work, `tar${i}`);
    mkdirSync(d2);
    const [t2, c2] = shCpu(`tar ${unzip} -xf '${file}' -C '${d2}'`);
    tarX.push(t2);
    tarCpu.push(c2);
    const [t3] = await timed(() => recordFromDisk(d2));
    tarThenRecord.push(t2 + t3);
    await forceRemove(d2);
    console.log(
      `rep ${i + 1}: ours ${t1.toFixed(2)} s (CPU ${c1.toFixed(2)} s), zips alone ${tz.toFixed(2)} s (CPU ${cz.toFixed(2)} s), tar -xf ${t2.toFixed(2)} s (CPU ${c2.toFixed(2)} s), tar -xf + recordFromDisk ${(t2 + t3).toFixed(2)} s`,
    );
  }

  const rec: number[] = [];
  const recCpu: number[] = [];
  const verify: number[] = [];
  const verifyCpu: number[] = [];
  let verifyOut = '';
  for (let i = 0; i < args.reps; i++) {
    const [t1, c1] = await timedCpu(() => recordFromDisk(mc));
    rec.push(t1);
    recCpu.push(c1);
    if (project) {
      const env = {
        ...process.env,
        GOMODCACHE: mc,
        GOFLAGS: '-mod=mod',
        GOPROXY: 'off',
        GOSUMDB: 'off',
        GOTOOLCHAIN: 'local',
        GOWORK: 'off',
      };
      const [t2, c2, out] = shCpu('go mod verify 2>&1', env, project);
      verify.push(t2);
      verifyCpu.push(c2);
      verifyOut = out.trim().split('\n').slice(-1)[0] ?? '';
    }
  }
  await forceRemove(work);

  const mib = bytes / 2 ** 20;
  const m = median(ours);
  console.log(`
extracted: ${files} files, ${mib.toFixed(0)} MiB, ${modules} module versions with a tree or zip
| measure (median of ${args.reps})                  | seconds | CPU seconds | MiB/s written | archive MiB/s |
| ------------------------------------------------- | ------- | ----------- | ------------- | ------------- |
| extractArchive (confined, hashes everything)      | ${m.toFixed(2)} | ${median(oursCpu).toFixed(2)} | ${(mib / m).toFixed(0)} | ${(archiveBytes / 2 ** 20 / m).toFixed(0)} |
| extractArchive, the action's entry (zips; trees written from them) | ${median(zipsOurs).toFixed(2)} | ${median(zipsCpu).toFixed(2)} | ${(mib / median(zipsOurs)).toFixed(0)} | ${(zipsBytes / 2 ** 20 / median(zipsOurs)).toFixed(0)} |
| tar -xf (no checks, no hashes)                    | ${median(tarX).toFixed(2)} | ${median(tarCpu).toFixed(2)} | ${(mib / median(tarX)).toFixed(0)} | ${(archiveBytes / 2 ** 20 / median(tarX)).toFixed(0)} |
| tar -xf, then recordFromDisk                      | ${median(tarThenRecord).toFixed(2)} | | ${(mib / median(tarThenRecord)).toFixed(0)} | |
| recordFromDisk of the cache (trees + zips)        | ${median(rec).toFixed(2)} | ${median(recCpu).toFixed(2)} | ${(mib / median(rec)).toFixed(0)} | |
| go mod verify (build list; "${verifyOut}")  | ${verify.length ? median(verify).toFixed(2) : 'n/a'} | ${verifyCpu.length ? median(verifyCpu).toFixed(2) : 'n/a'} | | |
peak during extractArchive: RSS ${(median(rss) / 2 ** 20).toFixed(0)} MiB, Buffers ${(median(buffers) / 2 ** 20).toFixed(0)} MiB; of the action's entry: RSS ${(median(zipsRss) / 2 ** 20).toFixed(0)} MiB`);
}

await main();
