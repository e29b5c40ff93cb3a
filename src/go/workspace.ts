/**
 * Pure helpers for go.mod and go.work: the shapes `go mod edit -json` and
 * `go work edit -json` print, finding the line of a directive Go has already
 * parsed, Go's rules for which directories never hold packages, and Go's
 * version ordering.
 *
 * The files themselves are parsed by Go (see project.ts). `go mod edit -json`
 * reports no line numbers, so `locateDirective` looks for the directive's
 * tokens in the file text to point an annotation at the right line. It only
 * locates; when it cannot find the tokens the annotation names the file alone.
 */

/** A module path and optional version, as `go mod edit -json` prints them. */
export interface ModVersion {
  Path: string;
  Version?: string;
}

export interface ReplaceJson {
  Old: ModVersion;
  New: ModVersion;
}

/** What `go mod edit -json` prints (the fields this action reads). */
export interface ModFileJson {
  Module?: { Path: string };
  Go?: string;
  Toolchain?: string;
  Require?: (ModVersion & { Indirect?: boolean })[] | null;
  Replace?: ReplaceJson[] | null;
}

/** What `go work edit -json` prints (the fields this action reads). */
export interface WorkFileJson {
  Go?: string;
  Toolchain?: string;
  Use?: { DiskPath: string; ModulePath?: string }[] | null;
  Replace?: ReplaceJson[] | null;
}

/** A replacement whose target has no version is a directory on disk. */
export function isLocalReplacement(r: ReplaceJson): boolean {
  return r.New.Version === undefined || r.New.Version === '';
}

/** `path` or `path@version`, the way Go names a module in its messages. */
export function moduleLabel(m: ModVersion): string {
  return m.Version ? `${m.Path}@${m.Version}` : m.Path;
}

/**
 * Go skips directories named `testdata` or `vendor` and any whose name starts
 * with `.` or `_` when it expands `./...`; modules below them are fixtures or
 * copies, never part of the project's build. `relDir` is relative to the
 * working directory, with either separator.
 */
export function isIgnoredByGo(relDir: string): boolean {
  return relDir
    .split(/[\\/]/)
    .filter((c) => c !== '' && c !== '.' && c !== '..')
    .some((c) => c === 'testdata' || c === 'vendor' || c.startsWith('.') || c.startsWith('_'));
}

/** Drops a `//` comment that is not inside a quoted string. */
function stripComment(line: string): string {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== '') {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === '`') {
      quote = c;
    } else if (c === '/' && line[i + 1] === '/') {
      return line.slice(0, i);
    }
  }
  return line;
}

function unquote(token: string): string {
  if (token.length >= 2 && token.startsWith('`') && token.endsWith('`')) return token.slice(1, -1);
  if (token.length >= 2 && token.startsWith('"') && token.endsWith('"')) {
    try {
      return JSON.parse(token) as string;
    } catch {
      return token.slice(1, -1);
    }
  }
  return token;
}

/** Splits a go.mod line into its words, with `=>` always a word of its own. */
export function lineTokens(line: string): string[] {
  const words = stripComment(line).match(/"(?:[^"\\]|\\.)*"|`[^`]*`|=>|[^\s"`]+?(?==>|\s|$)/g);
  return (words ?? []).map(unquote);
}

/**
 * The 1-based line of the directive `verb args...` in a go.mod or go.work
 * text, in its single-line form (`replace a => ../a`) or inside a block
 * (`replace (` ... `)`). `args` are the directive's words as Go parsed them
 * (undefined entries, such as a missing version, are skipped).
 */
export function locateDirective(
  text: string,
  verb: string,
  args: (string | undefined)[],
): number | undefined {
  const want = args.filter((a): a is string => a !== undefined && a !== '');
  let inBlock = false;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const tokens = lineTokens(lines[i] ?? '');
    if (tokens.length === 0) continue;
    let rest: string[] | undefined;
    if (inBlock) {
      if (tokens[0] === ')') {
        inBlock = false;
        continue;
      }
      rest = tokens;
    } else if (tokens[0] === verb) {
      if (tokens[1] === '(') {
        inBlock = true;
        continue;
      }
      rest = tokens.slice(1);
    }
    if (rest && want.every((w, j) => rest[j] === w)) return i + 1;
  }
  return undefined;
}

/** The directive words of a replace line, as Go wrote them. */
export function replaceArgs(r: ReplaceJson): (string | undefined)[] {
  return [r.Old.Path, r.Old.Version, '=>', r.New.Path, r.New.Version];
}

interface GoVersion {
  major: number;
  minor: number;
  /** -1 when the version has no patch number (a language version or a prerelease). */
  patch: number;
  /** '' for a language version or a release; else 'alpha', 'beta' or 'rc'. */
  kind: string;
  pre: number;
}

/** Parses `1.21`, `1.21.3`, `1.22rc1` (with or without a leading `go`). */
export function parseGoVersion(v: string): GoVersion | undefined {
  const m = /^(?:go)?(\d+)(?:\.(\d+))?(?:\.(\d+)|(alpha|beta|rc)(\d*))?$/.exec(v.trim());
  if (!m) return undefined;
  return {
    major: Number(m[1]),
    minor: m[2] === undefined ? 0 : Number(m[2]),
    patch: m[3] === undefined ? -1 : Number(m[3]),
    kind: m[4] ?? '',
    pre: m[5] ? Number(m[5]) : 0,
  };
}

const KIND_ORDER = ['', 'alpha', 'beta', 'rc'];

/**
 * Go's version order: 1.21 < 1.21rc1 < 1.21.0 < 1.21.1 < 1.22. Returns <0, 0
 * or >0, or undefined when either is not a Go version (for example a `devel`
 * toolchain, which this action does not second-guess).
 */
export function compareGoVersions(a: string, b: string): number | undefined {
  const x = parseGoVersion(a);
  const y = parseGoVersion(b);
  if (!x || !y) return undefined;
  return (
    x.major - y.major ||
    x.minor - y.minor ||
    x.patch - y.patch ||
    KIND_ORDER.indexOf(x.kind) - KIND_ORDER.indexOf(y.kind) ||
    x.pre - y.pre
  );
}

/** `go1.26.8` or `go1.26.8 X:nocoverageredesign` -> `1.26.8`; undefined for devel builds. */
export function installedGoVersion(goVersion: string): string | undefined {
  const first = goVersion.trim().split(/\s+/)[0] ?? '';
  const m = /^go(\d[\w.]*)$/.exec(first);
  return m && parseGoVersion(m[1] as string) ? (m[1] as string) : undefined;
}
