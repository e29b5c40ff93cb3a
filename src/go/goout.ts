/**
 * Parsers for what the go command prints. Pure.
 */
import {
  parseAuthFailure,
  parseChecksumMismatches,
  parseSumdbMiss,
  privatePatternFor,
  type AuthFailure,
  type ChecksumMismatch,
  type SumdbMiss,
} from './fetchfail.js';

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
    /dial tcp|no such host|connection refused|i\/o timeout|TLS handshake|network is unreachable|GOPROXY=off|module lookup disabled|unrecognized import path|Get "https?:|reading file:\/\/|40[0134] (?:Bad Request|Not Found|Forbidden|Unauthorized)|410 Gone|terminal prompts disabled/.test(
      text,
    )
  ) {
    return { kind: 'network', message: text };
  }
  return { kind: 'other', message: text };
}

/**
 * What a failed go command means for the cache:
 * - `security`: Go's SECURITY ERROR; fresh content disagrees with go.sum.
 * - `corruption`: cached bytes disagree with what Go recorded; the only kind a rebuild heals.
 * - `version`: go.mod or go.work needs a newer Go than the one installed.
 * - `project`: go.mod, go.work, go.sum or the checkout needs fixing.
 * - `auth`: a proxy or git server wants (other) credentials (401, 403, a git prompt).
 * - `sumdb`: the checksum database has no record of a module: a private one GOPRIVATE misses.
 * - `network`: the proxy or the network refused or failed.
 * - `other`: none of these; never treated as corruption.
 */
export type GoFailureKind =
  'security' | 'corruption' | 'version' | 'project' | 'auth' | 'sumdb' | 'network' | 'other';

export interface GoFailure {
  kind: GoFailureKind;
  /** User-facing: what is wrong, where, and how to fix it, followed by Go's own words. */
  message: string;
  /** `path@version` of the modules Go named (security and corruption). */
  modules: string[];
  /** For `version`: the file that asks for the newer Go, that version and the installed one. */
  needs?: { file: string; version: string; running: string };
  /** For `security`: each mismatch Go reported, with both hashes. */
  mismatches?: ChecksumMismatch[];
}

/** Where the failed command ran, so the message can name what to fix. */
export interface FailureContext {
  /** The command as shown to the user, e.g. `go mod download`. */
  command: string;
  /** Directory the command ran in. */
  dir: string;
  /** go.mod or go.work files that define the modules of `dir`; named in project problems. */
  files: string[];
  /** The input that put `dir` in scope, e.g. `working-directory` or `go-sum-files glob 'x'`. */
  why?: string;
  /** `file:line` of each local replace directive, keyed by the absolute directory it points at. */
  replaceSites?: Record<string, string>;
  /** The credential sources the job hands to Go, named (src/go/credentials.ts), never values. */
  credentials?: string[];
  /** GOPRIVATE, GONOSUMDB, GOPROXY... as the job sets them, userinfo masked; for the fixes. */
  goEnv?: Record<string, string>;
}

const NOT_CORRUPTION =
  'This is not module cache corruption: the cache is left as it is and not rebuilt.';

interface Problem {
  what: string;
  fix: string;
}

/** Recognises Go's messages about a project that cannot load; undefined when none matches. */
function projectProblem(text: string, ctx: FailureContext): Problem | undefined {
  const files = ctx.files.length > 0 ? ctx.files.join(' and ') : `the go.mod in ${ctx.dir}`;
  const replaced =
    /\(replaced by ([^)]+)\): reading \S+: open (\S+?)[\\/]go\.mod: no such file or directory/.exec(
      text,
    );
  if (replaced) {
    const target = (replaced[1] as string).trim();
    const site = ctx.replaceSites?.[replaced[2] as string];
    return {
      what: `the local replacement ${target} (replace directive in ${site ?? files}) is not in the checkout or has no go.mod`,
      fix: `check that directory out before this step (it must hold a go.mod), or remove the replace directive from ${site ?? files}`,
    };
  }
  const use = /cannot load module (\S+) listed in go\.work file/.exec(text);
  if (use) {
    return {
      what: `go.work uses ${use[1] as string}, which is not in the checkout or has no go.mod`,
      fix: `check it out before this step, or remove it from the use directive of ${files}`,
    };
  }
  const parse = /errors parsing (go\.mod|go\.work):\s*\n?\s*(\S.*)/.exec(text);
  if (parse) {
    return {
      what: `${parse[1] as string} does not parse (${parse[2] as string})`,
      fix: `fix ${files}`,
    };
  }
  const declares = /module declares its path as: (\S+)\s+but was required as: (\S+)/.exec(text);
  if (declares) {
    return {
      what: `a module declares its path as ${declares[1] as string} but is required as ${declares[2] as string}`,
      fix: `point the replace directive in ${files} at the directory of ${declares[2] as string}, or fix that module's module line`,
    };
  }
  if (/missing go\.sum entry/.test(text)) {
    return {
      what: 'go.sum lacks hashes Go needs',
      fix: `run 'go mod tidy' next to ${files} and commit go.sum`,
    };
  }
  if (/updates to go\.mod needed|go: inconsistent vendoring/.test(text)) {
    return {
      what: 'go.mod (or vendor/modules.txt) is out of date',
      fix: `run 'go mod tidy' (and 'go mod vendor' if the module vendors) for ${files} and commit the result`,
    };
  }
  if (
    /is not one of the workspace modules|go\.mod file not found|cannot find main module/.test(text)
  ) {
    return {
      what: `${ctx.dir} is not a module Go can load here`,
      fix: 'set working-directory to the folder of go.mod or go.work, or fix go-sum-files',
    };
  }
  if (/unknown revision|invalid version|malformed module path|invalid module path/.test(text)) {
    return {
      what: 'go.mod names a module version that does not exist or is malformed',
      fix: `fix the require or replace directive in ${files} ('go mod tidy' reports which)`,
    };
  }
  return undefined;
}

function where(ctx: FailureContext): string {
  return `${ctx.command} failed in ${ctx.dir}${ctx.why ? ` (in scope through ${ctx.why})` : ''}`;
}

/**
 * Turns the stderr of a failed go command into one of the kinds above with a
 * message that says what is wrong and how to fix it. Pure. Only `corruption`
 * may lead to a rebuild of the cache.
 */
export function classifyGoFailure(stderr: string, ctx: FailureContext): GoFailure {
  const text = stderr.replace(ANSI, '').trim();
  const goSaid = `\nGo said:\n${text}`;
  const download = classifyDownloadFailure(text);
  if (download.kind === 'security') {
    const mismatches = parseChecksumMismatches(text);
    return {
      kind: 'security',
      modules: download.modules,
      mismatches,
      message:
        `${where(ctx)}: checksum mismatch against go.sum (Go's SECURITY ERROR). ` +
        (mismatches.length > 0
          ? mismatchText(mismatches)
          : 'The content served now is not what go.sum recorded; find out whether the version ' +
            'changed upstream or go.sum was edited before trusting it. ') +
        `${NOT_CORRUPTION}${goSaid}`,
    };
  }
  const version =
    /(go\.mod|go\.work) requires go >= (\S+) \(running go (\S+?); GOTOOLCHAIN=\w+\)/.exec(text);
  if (version || /toolchain not available/.test(text)) {
    const needs = version
      ? { file: version[1] as string, version: version[2] as string, running: version[3] as string }
      : undefined;
    return {
      kind: 'version',
      modules: [],
      ...(needs ? { needs } : {}),
      message:
        `${where(ctx)}: ` +
        (needs
          ? `${needs.file} needs Go >= ${needs.version}, but the installed Go is ${needs.running}. `
          : 'the Go toolchain this project asks for is not available. ') +
        "Fix: install that version with actions/setup-go and 'go-version-file: go.mod' (or " +
        'go.work), or set GOTOOLCHAIN=auto so Go fetches it. The module cache is not incomplete ' +
        `and is not rebuilt.${goSaid}`,
    };
  }
  const verify = parseVerifyOutput(text);
  if (
    verify.bad.length > 0 ||
    /zip: not a valid zip file|missing ziphash|dir has been modified|zip has been modified/.test(
      text,
    )
  ) {
    return {
      kind: 'corruption',
      modules: verify.bad.map((b) => b.module),
      message: `${where(ctx)}: cached modules disagree with what Go recorded for them.${goSaid}`,
    };
  }
  const sumdb = parseSumdbMiss(text);
  if (sumdb) {
    return { kind: 'sumdb', modules: [sumdb.module], message: sumdbText(sumdb, ctx, goSaid) };
  }
  const auth = parseAuthFailure(text);
  if (auth) return { kind: 'auth', modules: [], message: authText(auth, ctx, goSaid) };
  const problem = projectProblem(text, ctx);
  if (problem) {
    return {
      kind: 'project',
      modules: [],
      message: `${where(ctx)}: ${problem.what}. Fix: ${problem.fix}. ${NOT_CORRUPTION}${goSaid}`,
    };
  }
  if (download.kind === 'network') {
    return {
      kind: 'network',
      modules: [],
      message:
        `${where(ctx)}: Go could not fetch modules (network or GOPROXY problem). Check GOPROXY, ` +
        'GOPRIVATE/GONOSUMDB and the network; if the module is a fixture or not yours, keep it ' +
        `out of scope (go-sum-files). ${NOT_CORRUPTION}${goSaid}`,
    };
  }
  return { kind: 'other', modules: [], message: `${where(ctx)}. ${NOT_CORRUPTION}${goSaid}` };
}

/** One version that disagrees with go.sum: which, both hashes, what it means, how to decide. */
function mismatchText(mismatches: ChecksumMismatch[]): string {
  const lines = mismatches.map(
    (m) =>
      `${m.path}@${m.version}${m.goMod ? ' (its go.mod)' : ''}: ${m.source} holds ${m.expected}, ` +
      `the download now hashes to ${m.downloaded}`,
  );
  const first = mismatches[0]!;
  return (
    `${lines.join('; ')}. The same version now has other content: either the proxy (or the ` +
    'origin repository) re-published it with other content, which a version must never have, ' +
    'or go.sum was edited. To decide, fetch it alone from the proxy with an empty module cache ' +
    `(GOMODCACHE=$(mktemp -d) go mod download -json ${first.path}@${first.version}) and compare ` +
    "its Sum with go.sum and with the last verified cache entry (its .ziphash); ask the module's " +
    'publisher which content is the released one. Do not update go.sum until you know. ' +
    'Nothing is repaired or saved. '
  );
}

function envShown(ctx: FailureContext, name: string): string {
  const v = ctx.goEnv?.[name];
  return v ? `${name}=${v}` : `${name} unset`;
}

function sumdbText(miss: SumdbMiss, ctx: FailureContext, goSaid: string): string {
  const at = miss.module.lastIndexOf('@');
  const modPath = at > 0 ? miss.module.slice(0, at) : miss.module;
  const pattern = privatePatternFor(modPath);
  return (
    `${where(ctx)}: the checksum database has no record of ${miss.module} (${miss.status} ` +
    `${miss.status === 404 ? 'Not Found' : 'Gone'}): it is a private module, and neither ` +
    `GOPRIVATE nor GONOSUMDB names it (${envShown(ctx, 'GOPRIVATE')}, ` +
    `${envShown(ctx, 'GONOSUMDB')}). Fix: set GOPRIVATE: ${pattern} (or GONOSUMDB: ${pattern} ` +
    "if the company proxy should still serve it) in the job's env, and commit go.sum lines for " +
    `it ('go mod tidy'), which are what verifies it then. ${NOT_CORRUPTION}${goSaid}`
  );
}

function authText(a: AuthFailure, ctx: FailureContext, goSaid: string): string {
  const sources = ctx.credentials ?? [];
  const seen =
    sources.length > 0
      ? `The job hands Go credentials through: ${sources.join('; ')}.`
      : 'The job hands Go no credentials: no NETRC, no .netrc in HOME, no GOAUTH, no userinfo ' +
        'in GOPROXY.';
  const host = /^[a-z]+:\/\/(?:[^@/]*@)?([^/]+)/i.exec(a.url)?.[1] ?? a.url;
  const what =
    a.status === 401
      ? `${a.url} answered 401 Unauthorized: it wants credentials and got none it accepts`
      : a.status === 403
        ? `${a.url} answered 403 Forbidden: it refused the credentials (wrong or expired, or ` +
          'without access to this module)'
        : `git needs credentials for ${a.url} and may not prompt for them`;
  return (
    `${where(ctx)}: ${what}. ${seen} ${envShown(ctx, 'GOPROXY')}. Fix: write a .netrc from a ` +
    `secret before this step (machine ${host} login <user> password <token>; Go matches the ` +
    'host with its port), or set GOAUTH, or put the token in GOPROXY from a secret; Go sends ' +
    'credentials only over https.' +
    (a.status === 'git-prompt'
      ? ' For git, a credential helper or a url.<https://token@host/>.insteadOf rule also works.'
      : '') +
    ` ${NOT_CORRUPTION}${goSaid}`
  );
}
