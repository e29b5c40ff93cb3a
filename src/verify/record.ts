/**
 * The record of a module cache: per module version, the hashes of its tree,
 * zip, `.ziphash` and `.mod` as computed from the bytes (while a restore
 * extracts, or from disk), which main compares with go.sum. JSON-serialisable.
 */
import { goModHash } from '../go/gosum.js';
import { infoTimeOf, shortName, type DownloadExt } from '../go/layout.js';
import { hash1, type FileDigest } from './dirhash.js';
import type { RebuiltTree } from './hashcore.js';
import { TOOLCHAIN_MODULE, withoutGoModCopies } from './toolchains.js';

/** What one module version looks like in a module cache (extracted or scanned). */
export interface ModuleRecord {
  /** Module path, unescaped. */
  path: string;
  /** Version, unescaped. */
  version: string;
  /** Go's HashDir of the extracted tree `<path>@<version>/`, when there is one. */
  treeH1?: string;
  treeFiles?: number;
  /** Why the tree could not be hashed (a symlink or other non-regular file in it). */
  treeError?: string;
  /** Go's HashZip of `cache/download/.../@v/<v>.zip`, when there is one. */
  zipH1?: string;
  /** Why the zip could not be hashed (not a zip, damaged entry). */
  zipError?: string;
  /** The `.ziphash` file's text, trimmed. */
  ziphash?: string;
  /** h1 of the `.mod` file, comparable with go.sum's `<v>/go.mod` line. */
  modH1?: string;
  /** A `.info` file exists. */
  info: boolean;
  /** Its `Time`, when it is a valid RFC 3339 time: all a restore keeps of it. */
  infoTime?: string;
  /** A `.partial` marker exists: Go was interrupted while extracting this tree. */
  partial: boolean;
}

/** JSON-serialisable: it travels between stages through the runner's state file. */
export interface ExtractRecord {
  /** Sorted by path, then version. */
  modules: ModuleRecord[];
  /**
   * Files outside that scheme (sumdb tiles, `.lock`, `list`, vcs data, stray
   * files), relative to the module cache root, sorted.
   */
  other: string[];
  /**
   * Files a closed-layout restore did not write (src/go/layout.ts,
   * closedLayoutKeeps): how many, and the first few names (groups such as
   * `cache/vcs/` once each, then single files in archive order).
   */
  dropped?: Dropped;
}

export interface Dropped {
  count: number;
  names: string[];
}

/** How many dropped names a record keeps. */
export const DROPPED_NAMES = 10;

/**
 * What Go keeps in a module cache that is never part of an entry, named once
 * each (before single files) however many files they hold: `cache/vcs/` is
 * where a planted repository would hide; Go's lock and list files of an old
 * entry would otherwise hide everything else.
 */
const DROPPED_GROUPS: { name: string; holds: (rel: string) => boolean }[] = [
  { name: 'cache/vcs/', holds: (r) => r.startsWith('cache/vcs/') },
  { name: 'cache/download/sumdb/', holds: (r) => r.startsWith('cache/download/sumdb/') },
  {
    name: 'cache/download/**/*.lock',
    holds: (r) => r.startsWith('cache/download/') && r.endsWith('.lock'),
  },
  {
    name: 'cache/download/**/@v/list',
    holds: (r) => r.startsWith('cache/download/') && r.endsWith('/@v/list'),
  },
];

/** Fixed key order and no undefined fields, so equal records serialise equally. */
function normalised(m: ModuleRecord): ModuleRecord {
  const out: ModuleRecord = { path: m.path, version: m.version, info: m.info, partial: m.partial };
  if (m.treeH1 !== undefined) out.treeH1 = m.treeH1;
  if (m.treeFiles !== undefined) out.treeFiles = m.treeFiles;
  if (m.treeError !== undefined) out.treeError = m.treeError;
  if (m.zipH1 !== undefined) out.zipH1 = m.zipH1;
  if (m.zipError !== undefined) out.zipError = m.zipError;
  if (m.ziphash !== undefined) out.ziphash = m.ziphash;
  if (m.modH1 !== undefined) out.modH1 = m.modH1;
  if (m.infoTime !== undefined) out.infoTime = m.infoTime;
  return out;
}

/** Collects the facts for one module cache, then renders the sorted record. */
export class RecordBuilder {
  private readonly modules = new Map<string, ModuleRecord>();
  private readonly treeFiles = new Map<string, FileDigest[]>();
  /** Trees written from their zips: what is on disk, or why it could not be written. */
  private readonly rebuilt = new Map<string, { tree?: RebuiltTree; error?: string }>();
  readonly other: string[] = [];
  private dropped = 0;
  private readonly droppedAreas: string[] = [];
  private readonly droppedFiles: string[] = [];

  /** A member the closed layout does not write. */
  drop(rel: string): void {
    this.dropped++;
    const group = DROPPED_GROUPS.find((g) => g.holds(rel))?.name;
    if (group === undefined) {
      if (this.droppedFiles.length < DROPPED_NAMES) this.droppedFiles.push(shortName(rel));
    } else if (!this.droppedAreas.includes(group)) this.droppedAreas.push(group);
  }

  module(p: string, v: string): ModuleRecord {
    const id = `${p}@${v}`;
    let m = this.modules.get(id);
    if (!m) {
      m = { path: p, version: v, info: false, partial: false };
      this.modules.set(id, m);
    }
    return m;
  }

  /** A tree directory exists (possibly empty). */
  tree(p: string, v: string): void {
    const id = `${p}@${v}`;
    this.module(p, v);
    if (!this.treeFiles.has(id)) this.treeFiles.set(id, []);
  }

  treeFile(p: string, v: string, inner: string, digest: string): void {
    this.tree(p, v);
    this.treeFiles.get(`${p}@${v}`)!.push({ name: `${p}@${v}/${inner}`, sha256hex: digest });
  }

  /** A tree written from its zip (or why it could not be). */
  rebuiltTree(p: string, v: string, r: { tree?: RebuiltTree; error?: string }): void {
    this.module(p, v);
    this.rebuilt.set(`${p}@${v}`, r);
  }

  /** Small download files whose content the record needs. */
  downloadFile(p: string, v: string, ext: DownloadExt, data?: Buffer): void {
    const m = this.module(p, v);
    if (ext === '.info') {
      m.info = true;
      const time = data ? infoTimeOf(data) : undefined;
      if (time !== undefined) m.infoTime = time;
    } else if (ext === '.partial') m.partial = true;
    // A `.ziphash` is one `h1:` line of 47 bytes: a longer one can only mismatch,
    // and is kept short so that a hostile entry cannot grow the record.
    else if (ext === '.ziphash' && data) m.ziphash = data.toString('utf8').trim().slice(0, 100);
    else if (ext === '.mod' && data) m.modH1 = goModHash(data);
  }

  /**
   * Does the archive hold files for this module's tree besides its zip, and
   * differ from the tree the zip gave? (For a toolchain, Go's own go.mod copies
   * of `_go.mod` files are not a difference: see withoutGoModCopies.)
   */
  private heldDiffers(id: string, rebuilt: RebuiltTree): string | undefined {
    const held = this.treeFiles.get(id);
    if (held === undefined) return undefined;
    const m = this.modules.get(id)!;
    const h = hash1(m.path === TOOLCHAIN_MODULE ? withoutGoModCopies(held) : held);
    return h === rebuilt.h1 ? undefined : h;
  }

  /** Modules whose tree files in the archive differ from the tree written from their zip. */
  disagreeing(): { path: string; version: string }[] {
    const out: { path: string; version: string }[] = [];
    for (const [id, r] of this.rebuilt) {
      if (r.tree !== undefined && this.heldDiffers(id, r.tree) !== undefined) {
        const m = this.modules.get(id)!;
        out.push({ path: m.path, version: m.version });
      }
    }
    return out;
  }

  build(): ExtractRecord {
    for (const [id, files] of this.treeFiles) {
      if (this.rebuilt.has(id)) continue;
      const m = this.modules.get(id)!;
      if (m.treeError === undefined) {
        m.treeH1 = hash1(files);
        m.treeFiles = files.length;
      }
    }
    for (const [id, r] of this.rebuilt) {
      const m = this.modules.get(id)!;
      // Tree files the archive also held for it were hashed, not written. When
      // they differ from the tree the zip gave, the entry contradicts itself:
      // the extraction removed that tree, and the record says why.
      const differs = r.tree === undefined ? undefined : this.heldDiffers(id, r.tree);
      if (r.tree === undefined)
        m.treeError = `its tree could not be written from its zip: ${r.error ?? 'unknown error'}`;
      else if (differs !== undefined)
        m.treeError = `the archive holds files for its tree (${differs}) that differ from its zip; the tree was removed`;
      else {
        m.treeH1 = r.tree.h1;
        m.treeFiles = r.tree.files;
      }
    }
    const cmp = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
    const modules = [...this.modules.values()]
      .map(normalised)
      .sort((a, b) => cmp(a.path, b.path) || cmp(a.version, b.version));
    const out: ExtractRecord = { modules, other: [...this.other].sort(cmp) };
    if (this.dropped > 0) {
      const names = [...this.droppedAreas, ...this.droppedFiles].slice(0, DROPPED_NAMES);
      out.dropped = { count: this.dropped, names };
    }
    return out;
  }
}
