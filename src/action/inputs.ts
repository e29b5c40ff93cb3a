/**
 * Reads and validates the action's inputs. Parsing is pure (takes a getter),
 * so it is unit tested without the runner.
 */
import type { S3Options } from '../cache/s3/store.js';
import { parseBackend, type Backend } from './s3-inputs.js';

export type OnCorruption = 'rebuild' | 'fail';
export type SaveMode = 'auto' | 'never';
export type Mode = 'job' | 'health';
export type BuildCacheSave = 'default-branch' | 'always' | 'never';

export interface Inputs {
  keyPrefix: string;
  environment: string;
  goSumFiles: string[];
  /** true when go-sum-files is the action's default (no file found is then a warning, not an error). */
  goSumFilesIsDefault: boolean;
  workingDirectory: string;
  onCorruption: OnCorruption;
  save: SaveMode;
  lookupTimeoutMs: number;
  saveTimeoutMs: number;
  /** Entries keep the module zips (`true`) or hold trees, .ziphash, .mod and .info only. */
  saveZips: boolean;
  mode: Mode;
  /** Health mode: the environments to check (defaults to `environment`). */
  environments: string[];
  githubToken: string;
  deleteSuperseded: boolean;
  failOnUnhealthy: boolean;
  buildCache: boolean;
  buildCacheSave: BuildCacheSave;
  /** Where entries live: GitHub's cache service, or an S3 bucket (`s3` then holds its options). */
  backend: Backend;
  s3?: S3Options;
  // Dependency drift monitoring (issue 26).
  /** What drift is graded against: nothing (today's lineage explanation only), the default branch's entry, or a go.sum. */
  driftBaseline: DriftBaseline;
  failOnDrift: FailOnDrift;
}

export type DriftBaseline =
  | { kind: 'none' }
  | { kind: 'default-branch' }
  /** `path` as given, relative to working-directory. */
  | { kind: 'go.sum'; path: string };
export type FailOnDrift = 'critical' | 'warning' | 'never';

export const DEFAULT_GO_SUM_FILES = ['**/go.sum', '**/go.work.sum'];

export { InputError } from '../errors.js';
import { InputError } from '../errors.js';

type Getter = (name: string) => string;

function choice<T extends string>(get: Getter, name: string, allowed: readonly T[], dflt: T): T {
  const raw = get(name).trim().toLowerCase();
  if (raw === '') return dflt;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new InputError(
    name,
    `"${get(name).trim()}" is not one of ${allowed.map((a) => `"${a}"`).join(', ')}. ` +
      `Set '${name}: ${dflt}' (the default) or remove the input.`,
  );
}

function seconds(get: Getter, name: string, dflt: number): number {
  const raw = get(name).trim();
  if (raw === '') return dflt * 1000;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 6 * 3600) {
    throw new InputError(
      name,
      `"${raw}" is not a number of seconds between 1 and 21600. Use for example '${name}: ${dflt}'.`,
    );
  }
  return Math.round(n * 1000);
}

export function parseInputs(get: Getter): Inputs {
  const globs = get('go-sum-files')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const g of globs) {
    if (g.startsWith('/') || /^[A-Za-z]:[\\/]/.test(g) || g.split(/[\\/]/).includes('..')) {
      throw new InputError(
        'go-sum-files',
        `"${g}" must be a glob relative to working-directory (no absolute paths, no "..").`,
      );
    }
  }
  const workingDirectory = get('working-directory').trim() || '.';
  if (workingDirectory.includes('\0')) {
    throw new InputError('working-directory', 'contains a NUL character.');
  }
  const keyPrefix = get('key-prefix').trim() || 'vgc-v1';
  if (keyPrefix.length > 64) {
    throw new InputError(
      'key-prefix',
      `is ${keyPrefix.length} characters; keep it to 64 or fewer.`,
    );
  }
  const environment = get('environment').trim();
  const environments = get('environments')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const bool = (name: string, dflt: 'true' | 'false'): boolean =>
    choice(get, name, ['true', 'false'] as const, dflt) === 'true';
  return {
    keyPrefix,
    environment,
    goSumFiles: globs.length > 0 ? globs : DEFAULT_GO_SUM_FILES,
    goSumFilesIsDefault: globs.length === 0 || globs.join('\n') === DEFAULT_GO_SUM_FILES.join('\n'),
    workingDirectory,
    onCorruption: choice(get, 'on-corruption', ['rebuild', 'fail'] as const, 'rebuild'),
    save: choice(get, 'save', ['auto', 'never'] as const, 'auto'),
    lookupTimeoutMs: seconds(get, 'lookup-timeout', 30),
    saveTimeoutMs: seconds(get, 'save-timeout', 600),
    saveZips: bool('save-zips', 'true'),
    mode: choice(get, 'mode', ['job', 'health'] as const, 'job'),
    environments: environments.length > 0 ? environments : [environment],
    githubToken: get('github-token').trim(),
    deleteSuperseded: bool('delete-superseded', 'false'),
    failOnUnhealthy: bool('fail-on-unhealthy', 'false'),
    buildCache: bool('build-cache', 'false'),
    buildCacheSave: choice(
      get,
      'build-cache-save',
      ['default-branch', 'always', 'never'] as const,
      'default-branch',
    ),
    ...parseBackend(get),
    ...parseDriftInputs(get),
  };
}

/** `drift-baseline` and `fail-on-drift`. */
export function parseDriftInputs(get: Getter): Pick<Inputs, 'driftBaseline' | 'failOnDrift'> {
  const failOnDrift = choice(
    get,
    'fail-on-drift',
    ['critical', 'warning', 'never'] as const,
    'never',
  );
  const raw = get('drift-baseline').trim();
  const word = raw.toLowerCase();
  if (word === '' || word === 'none') return { driftBaseline: { kind: 'none' }, failOnDrift };
  if (word === 'default-branch') return { driftBaseline: { kind: 'default-branch' }, failOnDrift };
  if (!raw.endsWith('.sum')) {
    throw new InputError(
      'drift-baseline',
      `"${raw}" is neither "none", "default-branch" nor a path to a go.sum file. Use ` +
        "'drift-baseline: default-branch', or the path (relative to working-directory) of a go.sum " +
        "an earlier step checked out, for example 'drift-baseline: baseline/go.sum'.",
    );
  }
  if (raw.startsWith('/') || /^[A-Za-z]:[\\/]/.test(raw) || raw.includes('\0')) {
    throw new InputError(
      'drift-baseline',
      `"${raw}" must be a path relative to working-directory, for example 'baseline/go.sum'.`,
    );
  }
  return { driftBaseline: { kind: 'go.sum', path: raw }, failOnDrift };
}
