/**
 * The `require` and `replace` directives of a go.mod text, each with its line
 * and, for a requirement, whether it carries Go's `// indirect` comment.
 * readProject (./project.ts) has Go parse the files; this reader exists for
 * what `go mod edit -json` leaves out: line numbers (an annotation points at
 * the line) and a baseline's go.mod that is not part of the project. Go
 * writes these directives in a small regular syntax (a line, or a block in
 * parentheses), which is all this reads. Pure.
 */
import { lineTokens } from './workspace.js';

export interface Requirement {
  path: string;
  version: string;
  /** The line ends in `// indirect`: no package of the main module imports it. */
  indirect: boolean;
  /** 1-based line of the requirement. */
  line: number;
}

export interface Replacement {
  from: string;
  /** Set when only that version is replaced. */
  fromVersion?: string;
  /** A module path, or a directory when `toVersion` is absent. */
  to: string;
  toVersion?: string;
  line: number;
}

export interface ModDirectives {
  requires: Requirement[];
  replaces: Replacement[];
}

/** `// indirect` as Go writes it: the comment's first word, alone or before `;`. */
function isIndirect(raw: string): boolean {
  const at = raw.indexOf('//');
  if (at < 0) return false;
  return /^\/\/\s*indirect\s*(?:;|$)/.test(raw.slice(at).trim());
}

function replacement(words: string[], line: number): Replacement | undefined {
  const arrow = words.indexOf('=>');
  if (arrow !== 1 && arrow !== 2) return undefined;
  const to = words[arrow + 1];
  if (to === undefined) return undefined;
  return {
    from: words[0]!,
    ...(arrow === 2 ? { fromVersion: words[1]! } : {}),
    to,
    ...(words[arrow + 2] !== undefined ? { toVersion: words[arrow + 2]! } : {}),
    line,
  };
}

/** The requirements and replacements of a go.mod text, in file order. */
export function parseModDirectives(text: string): ModDirectives {
  const out: ModDirectives = { requires: [], replaces: [] };
  let block: string | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const tokens = lineTokens(raw);
    if (tokens.length === 0) continue;
    let verb = block;
    let words = tokens;
    if (block !== undefined) {
      if (tokens[0] === ')') {
        block = undefined;
        continue;
      }
    } else {
      verb = tokens[0];
      if (tokens[1] === '(') {
        block = verb;
        continue;
      }
      words = tokens.slice(1);
    }
    if (verb === 'require' && words.length >= 2) {
      out.requires.push({
        path: words[0]!,
        version: words[1]!,
        indirect: isIndirect(raw),
        line: i + 1,
      });
    } else if (verb === 'replace') {
      const r = replacement(words, i + 1);
      if (r) out.replaces.push(r);
    }
  }
  return out;
}
