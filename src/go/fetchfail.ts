/**
 * What Go prints when fetching a private module goes wrong, parsed. Pure.
 *
 * - A checksum mismatch (Go's SECURITY ERROR): `verifying <m>@<v>: checksum
 *   mismatch` followed by the downloaded hash and the one go.sum (or
 *   go.work.sum, or the checksum database) holds.
 * - A proxy or git server refusing the credentials: `401 Unauthorized`,
 *   `403 Forbidden`, or git asking for a user name it may not prompt for.
 * - A checksum database that has never seen a module: Go looks a private
 *   module up when GONOSUMDB/GOPRIVATE do not name it and go.sum lacks its
 *   line, and the lookup answers 404 Not Found or 410 Gone.
 */

export interface ChecksumMismatch {
  path: string;
  version: string;
  /** The mismatch is about the version's go.mod (`<v>/go.mod`), not its zip. */
  goMod: boolean;
  /** The hash of what was just downloaded. */
  downloaded: string;
  /** Where the expected hash comes from: `go.sum`, `go.work.sum` or a checksum database name. */
  source: string;
  /** The hash that source holds. */
  expected: string;
}

/** Every checksum mismatch Go reported, with both hashes. */
export function parseChecksumMismatches(text: string): ChecksumMismatch[] {
  const out: ChecksumMismatch[] = [];
  const re =
    /verifying (\S+?)@(v[^\s/:]+)(\/go\.mod)?: checksum mismatch\s*\n\s*downloaded: (\S+)\s*\n\s*([^\n:]+?):\s+(\S+)/g;
  for (const m of text.matchAll(re)) {
    const source = (m[5] as string).trim();
    out.push({
      path: m[1] as string,
      version: m[2] as string,
      goMod: m[3] !== undefined,
      downloaded: m[4] as string,
      source: source.split(/[\\/]/).pop() ?? source,
      expected: m[6] as string,
    });
  }
  return out;
}

export interface AuthFailure {
  status: 401 | 403 | 'git-prompt';
  /** The URL Go named (Go masks userinfo in it itself), or the git remote. */
  url: string;
}

/** A proxy or git server that wants (other) credentials; undefined when the text shows none. */
export function parseAuthFailure(text: string): AuthFailure | undefined {
  const http = /reading (\S+): (401) Unauthorized|reading (\S+): (403) Forbidden/.exec(text);
  if (http) {
    return {
      status: http[2] ? 401 : 403,
      url: (http[1] ?? http[3]) as string,
    };
  }
  const git =
    /could not read (?:Username|Password) for '([^']+)'|Authentication failed for '([^']+)'/.exec(
      text,
    );
  if (git) return { status: 'git-prompt', url: (git[1] ?? git[2]) as string };
  return undefined;
}

export interface SumdbMiss {
  /** `path@version` the checksum database has no record of. */
  module: string;
  status: 404 | 410;
}

/** A checksum database lookup that found nothing: the module is private to it. */
export function parseSumdbMiss(text: string): SumdbMiss | undefined {
  const m =
    /\/lookup\/(\S+?@v[^\s:/]+): (404) Not Found|\/lookup\/(\S+?@v[^\s:/]+): (410) Gone/.exec(text);
  if (!m) return undefined;
  return { module: (m[1] ?? m[3]) as string, status: m[2] ? 404 : 410 };
}

/**
 * The GOPRIVATE pattern to suggest for a module path: its first element (the
 * host) and, for well-known forges, the owner too, so public modules of the
 * same host keep their checksum database checks.
 */
export function privatePatternFor(modulePath: string): string {
  const parts = modulePath.split('/');
  const forge = /^(github\.com|gitlab\.com|bitbucket\.org)$/.test(parts[0] ?? '');
  return parts.slice(0, forge && parts.length > 1 ? 2 : 1).join('/');
}
