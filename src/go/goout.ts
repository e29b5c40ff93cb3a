/**
 * Parsers for what the go command prints. Pure.
 */

export interface BadModule {
  /** `path@version` */
  module: string;
  reason: string;
}

// eslint-disable-next-line no-control-regex -- strips terminal colour codes
const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * Parses `go mod verify` output. Failures are lines `<path> <version>: <reason>`
 * on stderr; success prints `all modules verified`. Lines that are neither are
 * returned as `other` (for example `go: ...` errors loading the module graph).
 */
export function parseVerifyOutput(output: string): {
  allVerified: boolean;
  bad: BadModule[];
  other: string[];
} {
  const bad: BadModule[] = [];
  const other: string[] = [];
  let allVerified = false;
  for (const raw of output.replace(ANSI, '').split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line === 'all modules verified') {
      allVerified = true;
      continue;
    }
    const m = /^(\S+) (v\S+?): (.+)$/.exec(line);
    if (m) {
      bad.push({ module: `${m[1]}@${m[2]}`, reason: describeVerifyReason(m[3] as string) });
    } else {
      other.push(line);
    }
  }
  return { allVerified: allVerified && bad.length === 0, bad, other };
}

function describeVerifyReason(reason: string): string {
  if (reason.startsWith('dir has been modified')) return 'extracted files differ from the ziphash';
  if (reason.startsWith('zip has been modified')) return 'zip differs from the ziphash';
  if (reason.startsWith('missing ziphash')) return 'missing ziphash';
  if (/not a valid zip file|unexpected EOF|zip: /.test(reason)) return `unreadable zip (${reason})`;
  return reason;
}

export type DownloadFailure =
  | { kind: 'security'; modules: string[]; message: string }
  | { kind: 'network'; message: string }
  | { kind: 'other'; message: string };

/**
 * Classifies a failed `go mod download` (or any go command that fetched modules).
 * A checksum mismatch against go.sum is Go's SECURITY ERROR: the content served
 * is not what go.sum recorded. That is never cache corruption.
 */
export function classifyDownloadFailure(stderr: string): DownloadFailure {
  const text = stderr.replace(ANSI, '').trim();
  if (/SECURITY ERROR/.test(text) || /checksum mismatch/.test(text)) {
    const modules = new Set<string>();
    for (const m of text.matchAll(/verifying (\S+?)(?:\/go\.mod)?: checksum mismatch/g)) {
      modules.add(m[1] as string);
    }
    return { kind: 'security', modules: [...modules], message: text };
  }
  if (
    /dial tcp|no such host|connection refused|i\/o timeout|TLS handshake|network is unreachable|GOPROXY=off|module lookup disabled|unrecognized import path|Get "https?:|reading file:\/\/|404 Not Found|410 Gone/.test(
      text,
    )
  ) {
    return { kind: 'network', message: text };
  }
  return { kind: 'other', message: text };
}
