/**
 * The two sides of a drift comparison: a baseline (an entry's record, a
 * go.sum and maybe its go.mod's replace directives) and the job's current
 * state (go.sum lines, go.mod requirements and replacements with their
 * places). Pure: the caller reads the files and entries.
 */
import type { Requirement } from '../go/requires.js';
import { TOOLCHAIN_MODULE as TOOLCHAIN } from '../verify/toolchains.js';
import type { EntryModule } from './drift.js';

/** A module version the baseline holds, with the checksums it is known by. */
export interface BaselineModule {
  path: string;
  version: string;
  /** The version's content hash (go.sum's `h1:`), when known and trustworthy. */
  h1?: string;
  /** Its go.mod hash (go.sum's `/go.mod` line), when known. */
  modH1?: string;
  /** false: only its go.mod is part of the baseline (module graph), not its content. */
  content: boolean;
}

export interface ReplaceRule {
  from: string;
  fromVersion?: string;
  to: string;
  toVersion?: string;
}

/** Where a change shows in the files of the job: an annotation's file and line. */
export interface Site {
  file: string;
  line?: number;
}

export interface Baseline {
  /** What it is, for people: the entry's key or the go.sum's path. */
  label: string;
  modules: BaselineModule[];
  /** Its replace directives; undefined when it cannot know them (an entry holds no go.mod). */
  replaces?: ReplaceRule[];
}

export interface Current {
  /** `path@version` and `path@version/go.mod` -> `h1:...`, as loadSums returns them. */
  sums: Map<string, string>;
  /** Every require line of the go.mod files in scope, with the file it is in. */
  requires: (Requirement & { file: string })[];
  replaces: (ReplaceRule & { file: string; line?: number })[];
  /** Lines of go.sum, by `path@version` or `path@version/go.mod`: sites for what go.mod does not name. */
  sumSites?: Map<string, Site>;
}

/** The content hash an entry's record vouches for: its hashes must agree, or it vouches for none. */
function recordedH1(m: EntryModule): string | undefined {
  const seen = [m.treeH1, m.zipH1, m.ziphash].filter((h): h is string => h !== undefined);
  if (seen.length === 0 || seen.some((h) => !h.startsWith('h1:') || h !== seen[0]))
    return undefined;
  return seen[0];
}

/**
 * A baseline from an entry's record (or scan): the versions it holds, each
 * with the checksum its bytes hash to. A version whose tree, zip and
 * `.ziphash` disagree (a damaged entry) keeps no checksum: damage is the
 * verifier's business, not drift.
 */
export function baselineFromEntry(
  label: string,
  rows: (EntryModule & { modH1?: string })[],
): Baseline {
  const modules: BaselineModule[] = [];
  for (const r of rows) {
    if (r.path === TOOLCHAIN) continue;
    const content =
      r.treeH1 !== undefined ||
      r.zipH1 !== undefined ||
      r.ziphash !== undefined ||
      r.hasZip === true;
    const h1 = recordedH1(r);
    modules.push({
      path: r.path,
      version: r.version,
      content,
      ...(h1 ? { h1 } : {}),
      ...(r.modH1 ? { modH1: r.modH1 } : {}),
    });
  }
  return { label, modules };
}

/** A baseline from go.sum lines (`loadSums`' map), and the replace directives of its go.mod if known. */
export function baselineFromSums(
  label: string,
  sums: Map<string, string>,
  replaces?: ReplaceRule[],
): Baseline {
  const byId = new Map<string, BaselineModule>();
  for (const [key, hash] of sums) {
    const goMod = key.endsWith('/go.mod');
    const id = goMod ? key.slice(0, -'/go.mod'.length) : key;
    const at = id.lastIndexOf('@');
    if (at <= 0) continue;
    const m = byId.get(id) ?? {
      path: id.slice(0, at),
      version: id.slice(at + 1),
      content: false,
    };
    if (goMod) m.modH1 = hash;
    else {
      m.h1 = hash;
      m.content = true;
    }
    byId.set(id, m);
  }
  return { label, modules: [...byId.values()], ...(replaces ? { replaces } : {}) };
}

/** go.sum lines for a set of module versions: how an entry is compared as the "current" side. */
export function sumsOf(modules: BaselineModule[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of modules) {
    const id = `${m.path}@${m.version}`;
    if (m.content) out.set(id, m.h1 ?? '');
    if (m.modH1) out.set(`${id}/go.mod`, m.modH1);
  }
  return out;
}

/** The line of each go.sum entry (`path@version` and `path@version/go.mod`) of one file. */
export function sumSitesOf(file: string, text: string): Map<string, Site> {
  const out = new Map<string, Site>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (fields.length !== 3) return;
    const id = `${fields[0]}@${fields[1]}`;
    if (!out.has(id)) out.set(id, { file, line: i + 1 });
  });
  return out;
}
