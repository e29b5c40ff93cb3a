/**
 * Cache key derivation. Pure: every input arrives as an argument.
 *
 * A key is a `;`-separated list of labelled parts:
 *
 *   <prefix>;<os>-<arch>;env=<environment>;ref=<branch>;sum=<hash>
 *
 * and an entry is SAVED under that exact key plus a generation suffix
 * (`;gen=<run id>.<attempt>`). The cache service matches a key first exactly,
 * then as a prefix of newer entries, then each restore key as a prefix.
 * Because no entry is ever stored under the bare exact key, a lookup of the
 * exact key always lands on the NEWEST generation built from this go.sum:
 * a rebuilt entry therefore wins over the corrupt one it replaces, although
 * entries are immutable.
 *
 * Every part is sanitised to characters that cannot include the separator, so
 * environment "prod" can never read a key of environment "prod;x" or "prod-eu"
 * (the restore keys end with the separator).
 *
 * Keys are lower case by construction. GitHub's service treats keys that
 * differ only in case as one, actions/cache compares matched keys without
 * regard to case, and nektos/act lower-cases keys when it saves: a key with a
 * capital letter would never be found again as written. A part that had
 * capitals is lower-cased and gets a hash of its raw value, so "Prod" and
 * "prod" stay two environments after any case folding.
 */
import { createHash, randomBytes } from 'node:crypto';

export const SEPARATOR = ';';
/** GitHub rejects keys longer than this. */
export const MAX_KEY_LENGTH = 512;
const MAX_PART = 64;
const SAFE = /[^a-z0-9._\-/@+]/g;

export interface KeyParts {
  prefix: string;
  os: string;
  arch: string;
  environment: string;
  branch: string;
}

export interface KeyPlan {
  /** Exact key for this go.sum, or undefined when the hash is not known yet (pre before checkout). */
  exact?: string;
  /** Restore keys, most specific first. Never crosses environments. */
  lineage: string[];
}

function shortHash(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 8);
}

/**
 * Makes one key part safe. Returns the value unchanged when it is already safe
 * and short; otherwise replaces unsafe characters, truncates, and appends a
 * hash of the raw value so two different raw values never share a part.
 */
export function sanitizePart(raw: string, fallback: string): string {
  const value = raw.trim();
  if (value === '') return fallback;
  const safe = value.toLowerCase().replace(SAFE, '_');
  if (safe === value && value.length <= MAX_PART) return value;
  return `${safe.slice(0, MAX_PART - 9)}~${shortHash(value)}`;
}

/** The branch a job's cache belongs to: the head branch of a pull request, else the ref name. */
export function branchFromEnv(env: NodeJS.ProcessEnv): string {
  const head = env['GITHUB_HEAD_REF'];
  if (head) return head;
  const refName = env['GITHUB_REF_NAME'];
  if (refName) return refName;
  const ref = env['GITHUB_REF'] ?? '';
  return ref.replace(/^refs\/(heads|tags)\//, '');
}

/** Normalised runner OS and arch: `RUNNER_OS`/`RUNNER_ARCH` when set, else Node's view. */
export function platformFromEnv(
  env: NodeJS.ProcessEnv,
  nodePlatform: string,
  nodeArch: string,
): { os: string; arch: string } {
  const os = (env['RUNNER_OS'] ?? '') || nodePlatform;
  const arch = (env['RUNNER_ARCH'] ?? '') || nodeArch;
  return { os: os.toLowerCase(), arch: arch.toLowerCase() };
}

export function lineagePrefixes(parts: KeyParts): string[] {
  const prefix = sanitizePart(parts.prefix, 'vgc-v1');
  const platform = `${sanitizePart(parts.os, 'unknown')}-${sanitizePart(parts.arch, 'unknown')}`;
  const env = `env=${sanitizePart(parts.environment, 'default')}`;
  const ref = `ref=${sanitizePart(parts.branch, 'detached')}`;
  const envScope = [prefix, platform, env].join(SEPARATOR) + SEPARATOR;
  return [`${envScope}${ref}${SEPARATOR}`, envScope];
}

/**
 * Derives the exact key (when the dependency hash is known) and the restore
 * lineage: same environment and branch with any go.sum, then the same
 * environment on any branch the service lets this branch read.
 */
export function deriveKeys(parts: KeyParts, dependencyHash?: string): KeyPlan {
  const [branchScope, envScope] = lineagePrefixes(parts) as [string, string];
  const plan: KeyPlan = { lineage: [branchScope, envScope] };
  if (dependencyHash !== undefined) {
    if (!/^[0-9a-f]{16,64}$/.test(dependencyHash)) {
      throw new Error(`dependency hash must be hex, got "${dependencyHash}"`);
    }
    plan.exact = `${branchScope}sum=${dependencyHash}`;
  }
  for (const key of [plan.exact, ...plan.lineage]) {
    if (key !== undefined && key.length > MAX_KEY_LENGTH - 40) {
      throw new Error(`derived key is too long (${key.length} characters)`);
    }
  }
  return plan;
}

/**
 * Key under which a verified module cache is saved: the exact key plus a
 * generation. Run id and attempt alone are not unique (nektos/act gives every
 * run id 1; two jobs of one run may share an environment), and an entry can
 * never be saved twice, so the generation also carries the save time and a
 * random tail. The service returns the newest entry under a prefix, so the
 * newest verified generation wins whatever its name.
 */
/**
 * Key of the first entry for a go.sum (after a miss or a lineage hit): run id
 * and attempt only, so matrix siblings of one run that build the same go.sum
 * collide on it and exactly one of them saves. An entry that REPLACES one (a
 * repair, a completed incomplete entry) uses `generationKey`, which never
 * collides with the entry it replaces, even where run ids repeat.
 */
export function firstGenerationKey(exact: string, runId: string, runAttempt: string): string {
  return `${exact}${SEPARATOR}gen=${sanitizePart(runId, '0')}.${sanitizePart(runAttempt, '1')}`;
}

export function generationKey(
  exact: string,
  runId: string,
  runAttempt: string,
  now: number = Date.now(),
  nonce: string = randomBytes(3).toString('hex'),
): string {
  const gen = `${sanitizePart(runId, '0')}.${sanitizePart(runAttempt, '1')}.${now.toString(36)}${nonce}`;
  return `${exact}${SEPARATOR}gen=${gen}`;
}

/** `incomplete`: an exact entry that lacked modules go.sum names (they were downloaded). */
export type HitKind = 'exact' | 'incomplete' | 'lineage' | 'local' | 'miss';

/**
 * Classifies a matched key against the exact key: an entry saved under a
 * generation of this exact key is an exact hit; any other match is a lineage hit.
 */
export function classifyMatch(exact: string, matched: string | undefined): HitKind {
  if (!matched) return 'miss';
  const m = matched.toLowerCase();
  const e = exact.toLowerCase();
  if (m === e || m.startsWith(e + SEPARATOR)) return 'exact';
  return 'lineage';
}

export { hashDependencyFiles } from '../go/gosum.js';
