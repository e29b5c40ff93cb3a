/**
 * Helpers the benchmark scripts share for jobs in a test World: result rows,
 * checks on a job's outcome, the entries a job saved, scratch runners and
 * bare @actions/cache restores (scripts/bench.ts, scripts/bench-generations.ts).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { MODCACHE_SPEC, type World } from '../test/e2e/harness/world.js';
import { ratio } from './stats.js';

const execFileAsync = promisify(execFile);

/** One line of a results table. */
export interface Row {
  measure: string;
  ours: string;
  baseline: string;
  ratio: string;
  /** e.g. '≤ 1.15x'; met/missed is computed from `limit`. */
  target?: string;
  limit?: number;
  value?: number;
}

/** A row comparing `a` (ours) with `b` (the baseline): the ratio a/b. */
export function makeRow(r: Omit<Row, 'ratio' | 'value'> & { a: number; b: number }): Row {
  const { a, b, ...rest } = r;
  return { ...rest, ratio: ratio(a, b), value: a / b };
}

/** The target column: the target and whether the value meets its limit. */
export function verdict(r: Row): string {
  if (r.limit === undefined || r.value === undefined) return r.target ?? '';
  return `${r.target} ${r.value <= r.limit ? 'met' : '**missed**'}`;
}

/** Rows as a markdown table. */
export function rowsTable(rows: readonly Row[]): string {
  return (
    '| measure | verified-go-cache | baseline | ratio | target |\n|---|---|---|---|---|\n' +
    rows
      .map((r) => `| ${r.measure} | ${r.ours} | ${r.baseline} | ${r.ratio} | ${verdict(r)} |`)
      .join('\n')
  );
}

export type Job = Awaited<ReturnType<World['job']>>;

/** A job's time: pre + main + post. */
export function jobMs(j: Job): number {
  return (j.pre?.ms ?? 0) + j.main.ms + j.post.ms;
}

export function ensureOk(j: { succeeded: boolean; log: string }, what: string): void {
  if (!j.succeeded) throw new Error(`${what} failed:\n${j.log.slice(-4000)}`);
}

/** A warm job must be an exact, verified hit that found nothing to repair: else its time is not a warm hit's. */
export function cleanExactHit(j: Job, what: string): void {
  const o = j.outputs;
  if (
    o['hit-kind'] !== 'exact' ||
    o['verified'] !== 'true' ||
    o['rebuilt'] !== 'false' ||
    (o['corrupt-modules'] ?? '') !== ''
  ) {
    throw new Error(
      `${what}: hit-kind ${o['hit-kind']}, verified ${o['verified']}, rebuilt ${o['rebuilt']}, ` +
        `corrupt-modules ${JSON.stringify(o['corrupt-modules'])}`,
    );
  }
}

/** The key the job's post saved (the newest entry under its cache-key). */
export function savedKey(world: World, j: Job): string {
  const prefix = j.outputs['cache-key'] ?? '';
  const e = world.server
    .finalized()
    .filter((x) => prefix !== '' && x.key.startsWith(prefix))
    .sort((a, b) => b.seq - a.seq)[0];
  if (!e) throw new Error(`no entry saved under ${prefix}`);
  return e.key;
}

/** The archive size of the entry `key`. */
export function entrySize(world: World, key: string): number {
  const e = world.server.finalized().find((x) => x.key === key);
  if (!e) throw new Error(`no entry ${key}`);
  return e.size;
}

/** A fresh runner folder for the baselines (home beside work/repo, like a job). */
export function runnerDir(world: World): string {
  const dir = mkdtempSync(path.join(world.root, 'bench-runner-'));
  mkdirSync(path.join(dir, 'home'), { recursive: true });
  return dir;
}

/**
 * Removes finished runners (every job and baseline folder except `keep`):
 * a section on the real workload writes more than a tmpfs can hold at once.
 */
export function sweep(world: World, keep: readonly string[] = []): void {
  const kept = new Set(keep.map((k) => path.resolve(k)));
  for (const name of readdirSync(world.root)) {
    if (!/^(job-|bench-runner-|plant-|clone-)/.test(name)) continue;
    const dir = path.join(world.root, name);
    if (kept.has(path.resolve(dir))) continue;
    execFileSync('chmod', ['-R', 'u+w', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs `go <argv>` in `dir` with a job's environment for `home`; returns its
 * wall time in ms. Asynchronous: an HTTP GOPROXY it may fetch from (the
 * harness's HttpGoProxy) answers from this process, which a synchronous exec
 * would block.
 */
export async function goIn(
  dir: string,
  world: World,
  home: string,
  argv: string[],
  extra: Record<string, string> = {},
): Promise<number> {
  const started = Date.now();
  await execFileAsync('go', argv, {
    cwd: dir,
    env: { ...world.jobEnv(home, 'main'), ...extra },
    maxBuffer: 64 * 1024 * 1024,
  });
  return Date.now() - started;
}

/**
 * Restores `key` with the plain @actions/cache client, with `paths` relative
 * to `dir` (an entry of paths ['.'], as ours are saved, by default); returns
 * the client's wall time in ms.
 */
export async function clientRestoreInto(
  world: World,
  key: string,
  dir: string,
  paths: string[] = ['.'],
): Promise<number> {
  const r = runnerDir(world);
  mkdirSync(dir, { recursive: true });
  const res = await world.cacheClient(r, ['restore', key, ...paths], 'main', dir);
  if (res.code !== 0) throw new Error(`bare restore of ${key} failed: ${res.output}`);
  return res.ms;
}

/** A fresh runner with `project` checked out in its workspace (`work/repo`). */
export function runnerWith(
  world: World,
  project: string,
): { runner: string; home: string; ws: string } {
  const runner = runnerDir(world);
  const ws = path.join(runner, 'work', 'repo');
  mkdirSync(ws, { recursive: true });
  execFileSync('cp', ['-r', `${project}/.`, ws]);
  return { runner, home: path.join(runner, 'home'), ws };
}

/**
 * One run of the common restore-keys recipe on a fresh runner: restore `key`
 * or else the newest entry under `prefix`, `go mod download`, save the whole
 * module cache as `key`. Returns the key restored ('none' on a miss).
 */
export async function restoreKeysRecipe(
  world: World,
  project: string,
  key: string,
  prefix: string,
): Promise<string> {
  const { runner, home, ws } = runnerWith(world, project);
  const restore = await world.cacheClient(runner, [
    'restore',
    key,
    '--restore-key',
    prefix,
    MODCACHE_SPEC,
  ]);
  await goIn(ws, world, home, ['mod', 'download']);
  const r = await world.cacheClient(runner, ['save', key, MODCACHE_SPEC]);
  if (r.code !== 0) throw new Error(r.output);
  return /^restored (\S+)$/m.exec(restore.output)?.[1] ?? 'none';
}
