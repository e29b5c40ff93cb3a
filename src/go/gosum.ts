/**
 * go.sum parsing and the module cache's naming rules. Pure.
 */
import { createHash } from 'node:crypto';

export interface SumLine {
  path: string;
  version: string;
  /** true for the `<version>/go.mod` line (hash of the go.mod file only). */
  goMod: boolean;
  hash: string;
}

export interface SumFile {
  lines: SumLine[];
  /** Lines that are not `<path> <version>[/go.mod] h1:<hash>`, with their 1-based number. */
  malformed: { line: number; text: string }[];
}

export function parseGoSum(text: string): SumFile {
  const lines: SumLine[] = [];
  const malformed: { line: number; text: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed === '') return;
    const fields = trimmed.split(/\s+/);
    if (fields.length !== 3) {
      malformed.push({ line: i + 1, text: raw });
      return;
    }
    const [path, rawVersion, hash] = fields as [string, string, string];
    const goMod = rawVersion.endsWith('/go.mod');
    const version = goMod ? rawVersion.slice(0, -'/go.mod'.length) : rawVersion;
    if (!/^[a-z0-9]+:/.test(hash) || version === '') {
      malformed.push({ line: i + 1, text: raw });
      return;
    }
    lines.push({ path, version, goMod, hash });
  });
  return { lines, malformed };
}

/** Expected hashes keyed by `path@version` (zip) and `path@version/go.mod`. */
export function sumIndex(files: SumFile[]): Map<string, string> {
  const index = new Map<string, string>();
  for (const f of files) {
    for (const l of f.lines) {
      if (!l.hash.startsWith('h1:')) continue;
      index.set(sumId(l.path, l.version, l.goMod), l.hash);
    }
  }
  return index;
}

export function sumId(path: string, version: string, goMod: boolean): string {
  return `${path}@${version}${goMod ? '/go.mod' : ''}`;
}

/** `path@version` back into its parts (the version is after the last '@'). */
export function splitModuleId(id: string): { path: string; version: string } {
  const at = id.lastIndexOf('@');
  return { path: id.slice(0, at), version: id.slice(at + 1) };
}

/** Module cache escaping: every upper-case letter becomes `!` plus its lower case. */
export function escapeModulePath(p: string): string {
  return p.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

export function unescapeModulePath(p: string): string {
  return p.replace(/!([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Whether `p` can be a module path in the module cache. Go escapes a module
 * path (module.EscapePath) only after module.CheckPath accepts it, and that
 * allows ASCII letters, digits and `-._~` in '/'-separated elements, none of
 * them empty or made of dots alone. What matters here is what it rules out:
 * an '@' would let a download path name a tree inside another module's tree,
 * and '.' / '..' elements would climb.
 */
export function isModulePath(p: string): boolean {
  return /^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(p) && !/(^|\/)\.+(\/|$)/.test(p);
}

/**
 * Whether `v` can be a version in the module cache: Go stores canonical
 * semantic versions only (`v1.2.3`, `v1.2.4-0.20240101000000-abcdef123456`,
 * `v2.0.0+incompatible`, toolchains' `v0.0.1-go1.26.0.linux-amd64`), so
 * letters, digits and `.+-`.
 */
export function isModuleVersion(v: string): boolean {
  return /^v[A-Za-z0-9.+-]+$/.test(v);
}

/** The `h1:` hash of a single go.mod file, as go.sum records it for `<v>/go.mod` lines. */
export function goModHash(content: Buffer | string): string {
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  const fileSum = createHash('sha256').update(data).digest('hex');
  const summary = `${fileSum}  go.mod\n`;
  return 'h1:' + createHash('sha256').update(summary).digest('base64');
}

/** Sha256 over the dependency files, each named by its path (forward slashes). */
export function hashDependencyFiles(files: { path: string; content: Buffer | string }[]): string {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const h = createHash('sha256');
  for (const f of sorted) {
    const content = typeof f.content === 'string' ? Buffer.from(f.content) : f.content;
    h.update(`${f.path.replace(/\\/g, '/')}\0${content.length}\0`);
    h.update(content);
  }
  return h.digest('hex').slice(0, 40);
}
