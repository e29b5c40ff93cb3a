/**
 * The real workload (bench/real-workload) the benchmark scripts share:
 * resolved once from the Go module proxy into .bench/real (git ignored) and
 * served offline from there as a file:// proxy.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../test/e2e/harness/runner.js';

export const BENCH_DIR = path.join(REPO_ROOT, '.bench');
export const REAL_DIR = path.join(BENCH_DIR, 'real');
export const REAL_PROJECT = path.join(REPO_ROOT, 'bench', 'real-workload');

/** The real workload's proxy directory: resolved once (network), offline afterwards. */
export function realProxy(log: (s: string) => void): string {
  const modcache = path.join(REAL_DIR, 'modcache');
  const env = {
    ...process.env,
    GOMODCACHE: modcache,
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    GOWORK: 'off',
  };
  // main runs `go list -m all` when it downloads, which needs every graph
  // version's .info as well: the proxy must hold what both commands read.
  for (const argv of [
    ['mod', 'download'],
    ['list', '-m', 'all'],
  ]) {
    const offline = spawnSync('go', argv, {
      cwd: REAL_PROJECT,
      env: { ...env, GOPROXY: 'off' },
      stdio: 'ignore',
    });
    if (offline.status === 0) continue;
    log(`resolving the real workload from the Go module proxy (go ${argv.join(' ')}, once)...`);
    mkdirSync(REAL_DIR, { recursive: true });
    execFileSync('go', argv, { cwd: REAL_PROJECT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return path.join(modcache, 'cache', 'download');
}
