/**
 * Our client of the GitHub Actions cache service, for the restore side:
 * which protocol the runner offers, the entry `version` @actions/cache stamps
 * on what it saves, and the compression it will use for that save.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { RetryTuning } from './http.js';
import type { CacheService } from './types.js';
import { V1CacheService } from './v1.js';
import { V2CacheService } from './v2.js';

export type { CacheEntryRef, CacheService, LookupOptions, LookupOutcome } from './types.js';
export { checkKeys, READ_DENIED_PREFIX } from './common.js';
export type { RetryTuning } from './http.js';
export { V1CacheService } from './v1.js';
export { V2CacheService } from './v2.js';

export type Compression = 'zstd-without-long' | 'gzip';

/** Salt @actions/cache adds to every version (bumped there on breaking archive changes). */
const VERSION_SALT = '1.0';

type Env = Record<string, string | undefined>;

/**
 * GHES, by @actions/cache's rule: a server URL that is neither github.com nor
 * *.ghe.com nor *.localhost. GHES has no v2 service.
 */
export function isGhes(env: Env): boolean {
  const host = new URL(env['GITHUB_SERVER_URL'] || 'https://github.com').hostname
    .trimEnd()
    .toUpperCase();
  return !(host === 'GITHUB.COM' || host.endsWith('.GHE.COM') || host.endsWith('.LOCALHOST'));
}

/** The protocol @actions/cache would speak in this environment. */
export function protocolFromEnv(env: Env): 'v1' | 'v2' {
  if (isGhes(env)) return 'v1';
  return env['ACTIONS_CACHE_SERVICE_V2'] ? 'v2' : 'v1';
}

/**
 * The cache service of this job, or undefined when the runner gave no URL (or,
 * for v2, no token: outside Actions, or a step without the runtime variables): callers
 * then treat the cache as unavailable. URLs are chosen as @actions/cache does:
 * v2 `ACTIONS_RESULTS_URL`; v1 `ACTIONS_CACHE_URL`, else `ACTIONS_RESULTS_URL`.
 */
export function cacheServiceFromEnv(
  env: Env = process.env,
  tuning?: RetryTuning,
): CacheService | undefined {
  const token = env['ACTIONS_RUNTIME_TOKEN'] ?? '';
  const protocol = protocolFromEnv(env);
  // v2 needs the runtime token; a v1 service may not (nektos/act's gives none,
  // and @actions/cache's v1 client goes on without it).
  if (!token && protocol === 'v2') return undefined;
  const baseUrl =
    protocol === 'v2'
      ? env['ACTIONS_RESULTS_URL']
      : env['ACTIONS_CACHE_URL'] || env['ACTIONS_RESULTS_URL'];
  if (!baseUrl) return undefined;
  const config = { baseUrl, token, cacheMode: env['ACTIONS_CACHE_MODE'], tuning };
  return protocol === 'v2' ? new V2CacheService(config) : new V1CacheService(config);
}

/**
 * The entry version @actions/cache computes for `paths` (as given, not
 * resolved): sha256 of the paths, the compression method, `windows-only` on a
 * win32 runner unless cross-OS archives are enabled, and the salt, joined by
 * `|`. A lookup must send exactly what the saving client stamped.
 */
export function entryVersion(
  paths: readonly string[],
  compression: Compression | 'zstd' | undefined,
  platform: NodeJS.Platform,
  crossOs = false,
): string {
  const parts = [...paths];
  if (compression) parts.push(compression);
  if (platform === 'win32' && !crossOs) parts.push('windows-only');
  parts.push(VERSION_SALT);
  return createHash('sha256').update(parts.join('|')).digest('hex');
}

/** Output of `<command> --quiet --version` (stdout and stderr), '' when it cannot run. */
function versionOutput(command: string): Promise<string> {
  return new Promise((resolve) => {
    try {
      execFile(command, ['--quiet', '--version'], { timeout: 10_000 }, (error, stdout, stderr) => {
        const out = `${stdout ?? ''}${stderr ?? ''}`.trim();
        // The toolkit ignores the exit code; only a command that cannot start yields ''.
        resolve(error && (error as NodeJS.ErrnoException).code === 'ENOENT' ? '' : out);
      });
    } catch {
      resolve('');
    }
  });
}

const compressionCache = new Map<string, Promise<Compression>>();

/**
 * The compression @actions/cache will pick when it saves on this machine:
 * `zstd-without-long` when `zstd --quiet --version` prints anything, else
 * `gzip`. Asked once per process (per command, for tests).
 */
export function compressionForSave(zstdCommand = 'zstd'): Promise<Compression> {
  let known = compressionCache.get(zstdCommand);
  if (!known) {
    known = versionOutput(zstdCommand).then((out) => (out === '' ? 'gzip' : 'zstd-without-long'));
    compressionCache.set(zstdCommand, known);
  }
  return known;
}
