/**
 * Keys of the build cache (GOCACHE) entry. Pure: every input is an argument.
 *
 *   <prefix>-build;<os>-<arch>;env=<environment>;go=<GOVERSION>;
 *     target=<GOOS>-<GOARCH>-cgo<0|1>;flags=<hash of GOFLAGS|none>;ref=<branch>;sum=<hash>
 *
 * The prefix differs from the module cache's (`<prefix>;...`) so that no
 * restore key of one can ever match an entry of the other: the module cache's
 * lineage ends with `<prefix>;` and the build cache's starts `<prefix>-build;`.
 *
 * Go's own action IDs already include the Go version and every setting that
 * changes compilation, so a mismatched entry is never wrong, only useless: the
 * Go version and the target are in every key (also the restore keys) because
 * an entry built by another toolchain would be restored only to be trimmed.
 * The go.sum hash is last so that a go.sum change still restores the newest
 * entry of the same branch (most packages compile the same), then of any
 * branch the cache service lets this branch read.
 */
import { createHash } from 'node:crypto';
import { MAX_KEY_LENGTH, SEPARATOR, sanitizePart, type KeyParts } from '../cache/key.js';

/** What `go env` says about the compilation, as far as it selects a build cache. */
export interface BuildSettings {
  goVersion: string;
  goos: string;
  goarch: string;
  cgoEnabled: string;
  goflags: string;
}

export interface BuildKeyPlan {
  /** The key this job's entry is saved under (plus a generation suffix). */
  exact: string;
  /** Restore keys, most specific first. Never crosses environments, Go versions or targets. */
  lineage: string[];
}

/**
 * GOFLAGS as a key part: `none` when empty, else a short hash of the flags in
 * the order given (reordering flags is rare and only costs a cold build).
 */
export function flagsPart(goflags: string): string {
  const flags = goflags.trim().split(/\s+/).filter(Boolean).join(' ');
  if (flags === '') return 'none';
  return createHash('sha256').update(flags, 'utf8').digest('hex').slice(0, 12);
}

function targetPart(s: BuildSettings): string {
  const cgo = s.cgoEnabled.trim() === '1' ? '1' : '0';
  return `${sanitizePart(s.goos, 'unknown')}-${sanitizePart(s.goarch, 'unknown')}-cgo${cgo}`;
}

/**
 * Derives the build cache's exact key and its lineage. `dependencyHash` is the
 * same go.sum hash the module cache's key uses.
 */
export function deriveBuildKeys(
  parts: KeyParts,
  settings: BuildSettings,
  dependencyHash: string,
): BuildKeyPlan {
  if (!/^[0-9a-f]{16,64}$/.test(dependencyHash)) {
    throw new Error(`dependency hash must be hex, got "${dependencyHash}"`);
  }
  if (settings.goVersion.trim() === '') {
    throw new Error("'go env GOVERSION' is empty: the build cache needs the Go version in its key");
  }
  const prefix = `${sanitizePart(parts.prefix, 'vgc-v1')}-build`;
  const platform = `${sanitizePart(parts.os, 'unknown')}-${sanitizePart(parts.arch, 'unknown')}`;
  const envScope =
    [
      prefix,
      platform,
      `env=${sanitizePart(parts.environment, 'default')}`,
      `go=${sanitizePart(settings.goVersion, 'unknown')}`,
      `target=${targetPart(settings)}`,
      `flags=${flagsPart(settings.goflags)}`,
    ].join(SEPARATOR) + SEPARATOR;
  const branchScope = `${envScope}ref=${sanitizePart(parts.branch, 'detached')}${SEPARATOR}`;
  const exact = `${branchScope}sum=${dependencyHash}`;
  // Room for the generation suffix generationKey() appends.
  if (exact.length > MAX_KEY_LENGTH - 40) {
    throw new Error(
      `build cache key is too long (${exact.length} characters); shorten key-prefix or environment`,
    );
  }
  return { exact, lineage: [branchScope, envScope] };
}
