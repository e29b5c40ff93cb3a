/**
 * Confined, streaming extraction of a module cache archive (as @actions/cache's
 * saveCache makes them: GNU tar --posix, zstd or gzip, paths relative to the
 * module cache root) into an EMPTY directory, hashing every module file as it
 * streams through so that verification against go.sum needs no second read.
 *
 * Unlike `tar -xP`, every member is checked before anything is written for it:
 * only regular files and directories, no absolute names, no `..`, nothing that
 * resolves outside the destination. Directories and files are created by this
 * code alone (no links are ever made), so no member can be redirected through
 * an earlier one.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { extract as tarExtract, type ExtractEvents, type Header as TarHeader } from 'tar-stream';
import {
  escapeModulePath,
  goModHash,
  isModulePath,
  isModuleVersion,
  unescapeModulePath,
} from '../go/gosum.js';
import { hash1, readRegularFile, Limiter, type FileDigest } from '../verify/dirhash.js';
import { forceRemove } from '../go/modcache.js';
import { mainThreadCore, type RebuiltTree, type TreeTarget } from '../verify/hashcore.js';
import { TOOLCHAIN_MODULE, withoutGoModCopies } from '../verify/toolchains.js';
import { HashWorkers } from '../verify/workers.js';

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
}

export interface ExtractResult {
  record: ExtractRecord;
  /** Regular files written. */
  files: number;
  /** Bytes of file content written. */
  bytes: number;
  /** Compression found from the archive's magic bytes. */
  compression: Compression;
}

export interface ExtractOptions {
  /** Worker threads writing and hashing (as many as cores, at most 4, by default); 0 does it all on the calling thread. */
  workers?: number;
  /**
   * Refuse archives whose files add up to more than this many bytes (a
   * decompression bomb, or a cache far larger than expected). No limit by default.
   */
  maxBytes?: number;
}

/** The archive holds a member this extractor will not write (or is not a valid tar). */
export class ArchiveRejected extends Error {
  constructor(
    readonly member: string,
    readonly why: string,
  ) {
    super(
      `cache archive rejected: ${member === '' ? '(archive)' : JSON.stringify(member)}: ${why}`,
    );
    this.name = 'ArchiveRejected';
  }
}

// ---------------------------------------------------------------------------
// Pure rules: member names and where a file belongs in the module cache.

/**
 * Normalises a member name to a relative path with forward slashes (`''` for
 * the archive root `./`), or throws ArchiveRejected saying why it may not be
 * extracted.
 */
export function memberPath(name: string): string {
  const reject = (why: string): never => {
    throw new ArchiveRejected(name, why);
  };
  if (name.includes('\0')) reject('name contains a NUL byte');
  if (name.includes('\\')) reject('name contains a backslash');
  if (/^[A-Za-z]:/.test(name)) reject('name starts with a drive letter');
  // No module file or cache path holds one (Go's module.CheckFilePath refuses it); on
  // Windows 'x/D:f' would resolve to another drive and 'x/f:s' name an NTFS stream.
  if (name.includes(':')) reject('name contains a colon');
  if (name.startsWith('/')) reject('absolute name');
  const segments = name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) reject('name contains a ".." segment');
  return segments.join('/');
}

/** Resolves a normalised member path under dest, re-checking confinement. */
export function confinedPath(dest: string, rel: string, member: string): string {
  const root = path.resolve(dest);
  const abs = path.resolve(root, ...(rel === '' ? [] : rel.split('/')));
  if (abs !== root && !abs.startsWith(root + path.sep))
    throw new ArchiveRejected(member, `resolves outside ${root}`);
  return abs;
}

const DOWNLOAD_EXTS = ['.ziphash', '.zip', '.mod', '.info', '.partial'] as const;
export type DownloadExt = (typeof DOWNLOAD_EXTS)[number];

/** Where a path (relative to the module cache root) belongs. Pure. */
export type Placement =
  | {
      kind: 'tree';
      /** `<escaped path>@<escaped version>`: the tree's directory. */
      root: string;
      path: string;
      version: string;
      /** Path inside the tree ('' for the tree's own directory). */
      inner: string;
    }
  | { kind: 'download'; path: string; version: string; ext: DownloadExt }
  | { kind: 'other' };

/**
 * Classifies a module cache path: an extracted tree is identified by the first
 * segment containing '@' (`golang.org/x/tools@v0.1.0/...` and
 * `golang.org/x/tools/gopls@v0.24.0/...` are different modules); download files
 * are `cache/download/<escaped path>/@v/<escaped version><ext>`.
 */
export function placeOf(rel: string): Placement {
  if (rel === 'cache' || rel.startsWith('cache/')) return downloadPlaceOf(rel);
  // The first segment holding an '@' is the one holding the first '@'.
  const firstAt = rel.indexOf('@');
  if (firstAt < 0) return OTHER;
  const end = rel.indexOf('/', firstAt);
  const root = end < 0 ? rel : rel.slice(0, end);
  const tree = treeRootOf(root);
  if (tree === null) return OTHER;
  return {
    kind: 'tree',
    root,
    path: tree.path,
    version: tree.version,
    inner: end < 0 ? '' : rel.slice(end + 1),
  };
}

const OTHER: Placement = Object.freeze({ kind: 'other' });

/** Tree roots seen, unescaped once each: an extraction asks for every file of every tree. */
const treeRoots = new Map<string, { path: string; version: string } | null>();

/** `<escaped path>@<escaped version>` → the module it names, or null when it names none. */
function treeRootOf(root: string): { path: string; version: string } | null {
  let tree = treeRoots.get(root);
  if (tree !== undefined) return tree;
  const segStart = root.lastIndexOf('/') + 1;
  const at = root.lastIndexOf('@');
  const escPath = root.slice(0, at);
  const escVersion = root.slice(at + 1);
  tree =
    at === segStart ||
    escVersion === '' ||
    !isCanonicalEscape(escPath) ||
    !isCanonicalEscape(escVersion)
      ? null
      : moduleOrNull(unescapeModulePath(escPath), unescapeModulePath(escVersion));
  if (treeRoots.size > 100_000) treeRoots.clear();
  treeRoots.set(root, tree);
  return tree;
}

/**
 * Go's escaping (module.EscapePath) never leaves an upper-case letter and
 * always puts a lower-case one after '!': 'Foo' and '!foo' would otherwise
 * both read as module Foo, one hiding the other.
 */
function isCanonicalEscape(escaped: string): boolean {
  return !/[A-Z]|![^a-z]|!$/.test(escaped);
}

/**
 * A module Go could have put in the cache, or null. Anything else is kept as a
 * plain file, never unpacked or counted as a module: a download path such as
 * `cache/download/example.com/a@v1.0.0/x/@v/v2.0.0.zip` would otherwise name
 * the tree `example.com/a@v1.0.0/x@v2.0.0`, which lies inside another
 * module's tree and would add files to it unseen by its record.
 */
function moduleOrNull(p: string, version: string): { path: string; version: string } | null {
  return isModulePath(p) && isModuleVersion(version) ? { path: p, version } : null;
}

function downloadPlaceOf(rel: string): Placement {
  const segs = rel.split('/');
  const at = segs.indexOf('@v');
  if (segs[1] !== 'download' || at < 3 || at !== segs.length - 2) return OTHER;
  const file = segs[segs.length - 1]!;
  const ext = DOWNLOAD_EXTS.find((x) => file.endsWith(x) && file.length > x.length);
  if (!ext || !isCanonicalEscape(rel)) return OTHER;
  const m = moduleOrNull(
    unescapeModulePath(segs.slice(2, at).join('/')),
    unescapeModulePath(file.slice(0, -ext.length)),
  );
  return m === null ? OTHER : { kind: 'download', ...m, ext };
}

/** placeOf for a regular file: a file standing where a tree directory belongs is just other. */
export function filePlaceOf(rel: string): Placement {
  const place = placeOf(rel);
  return place.kind === 'tree' && place.inner === '' ? OTHER : place;
}

/** Go's modes: trees read-only (files 0444, dirs 0555 once filled), the rest 0644 / 0755. */
export function fileModeFor(place: Placement): number {
  return place.kind === 'tree' ? 0o444 : 0o644;
}

// ---------------------------------------------------------------------------
// Record building, shared by extraction and recordFromDisk.

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
  return out;
}

/** Collects the facts for one module cache, then renders the sorted record. */
class RecordBuilder {
  private readonly modules = new Map<string, ModuleRecord>();
  private readonly treeFiles = new Map<string, FileDigest[]>();
  /** Trees written from their zips: what is on disk, or why it could not be written. */
  private readonly rebuilt = new Map<string, { tree?: RebuiltTree; error?: string }>();
  readonly other: string[] = [];

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
    if (ext === '.info') m.info = true;
    else if (ext === '.partial') m.partial = true;
    else if (ext === '.ziphash' && data) m.ziphash = data.toString('utf8').trim();
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
    return { modules, other: [...this.other].sort(cmp) };
  }
}

// ---------------------------------------------------------------------------
// Decompression.

export type Compression = 'zstd' | 'gzip' | 'none';

export function detectCompression(head: Uint8Array): Compression {
  if (
    head.length >= 4 &&
    head[0] === 0x28 &&
    head[1] === 0xb5 &&
    head[2] === 0x2f &&
    head[3] === 0xfd
  )
    return 'zstd';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  return 'none';
}

/** Reads the first bytes of a stream and returns them with a stream of the whole. */
/** Compressed input is handed on in pieces of at least this size (see sniff). */
const INPUT_PIECE = 4 << 20;

/**
 * Learns the first bytes of the input (to tell the compression) and hands the
 * whole input on, unread bytes included, in pieces of INPUT_PIECE bytes.
 * Network reads arrive in chunks of a few dozen KiB; each chunk handed to the
 * decompressor costs a thread-pool round trip, and each small output chunk a
 * trip through the tar parser's streams. Gathering them (one memcpy of the
 * compressed stream) cut the extraction of the real workload read in 64 KiB
 * chunks from 6.4 s to 5.8 s; 'data' events rather than async iteration saved
 * a promise per chunk.
 */
function sniff(input: Readable): Promise<{ head: Buffer; whole: Readable }> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  let paused = false;
  const take = (): Buffer => {
    const out = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
    held = [];
    heldBytes = 0;
    return out;
  };
  const whole = new Readable({
    highWaterMark: INPUT_PIECE,
    read() {
      if (paused) {
        paused = false;
        input.resume();
      }
    },
    destroy(e, cb) {
      input.destroy();
      cb(e);
    },
  });
  return new Promise((resolve) => {
    let told = false;
    const tell = () => {
      if (told) return;
      told = true;
      resolve({ head: Buffer.concat(held, heldBytes).subarray(0, 4), whole });
    };
    input.on('data', (c: Buffer | string) => {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      held.push(b);
      heldBytes += b.length;
      if (!told && heldBytes >= 4) tell();
      if (heldBytes >= INPUT_PIECE && !whole.push(take())) {
        paused = true;
        input.pause();
      }
    });
    input.on('end', () => {
      tell();
      if (heldBytes > 0) whole.push(take());
      whole.push(null);
    });
    input.on('error', (e) => {
      if (told) {
        whole.destroy(e);
        return;
      }
      // The caller attaches its listeners once the promise settles: fail
      // `whole` after that, or its error would go unheard.
      tell();
      setImmediate(() => whole.destroy(e));
    });
  });
}

interface TarStream {
  tar: Readable;
  compression: Compression;
  /** Resolves once the decompressor finished cleanly; rejects with its error. */
  done: Promise<void>;
  /** Stops everything upstream (input, decompressor). */
  abort(): void;
}

/** Decompressed chunk size: large chunks mean few thread-pool round trips (4 MiB halves zstd's wall time against 256 KiB). */
const CHUNK = 4 << 20;

/** zstd through Node's zlib (22.15+ / 24), else through the system `zstd -d`. */
function zstdStream(whole: Readable): { out: Readable; done: Promise<void>; abort(): void } {
  const z = zlib as unknown as { createZstdDecompress?: (o?: object) => NodeJS.ReadWriteStream };
  if (typeof z.createZstdDecompress === 'function') {
    const d = z.createZstdDecompress({ chunkSize: CHUNK }) as unknown as zlib.Gunzip;
    return pipeDecompressor(whole, d, 'zstd');
  }
  const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < 4000) stderr += s;
  });
  let aborted = false;
  let inputError: Error | undefined;
  let failInput: (e: Error) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    // The input's own failure (a dropped download) is the error to report, not zstd's.
    failInput = (e) => {
      if (!aborted) reject(e);
    };
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT'
          ? new Error(
              'zstd is not on PATH and this Node has no zlib zstd: install zstd (apt-get install zstd) or run on Node >= 22.15',
            )
          : e,
      ),
    );
    child.on('close', (code, signal) => {
      if (inputError && !aborted) reject(inputError);
      else if (code === 0 || aborted) resolve();
      else
        reject(
          new ArchiveRejected(
            '',
            `zstd -d failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no message'}`,
          ),
        );
    });
  });
  whole.on('error', (e) => {
    inputError = e;
    failInput(e);
    child.kill();
  });
  child.stdin.on('error', () => undefined); // EPIPE when zstd stops early; its exit code tells why
  whole.pipe(child.stdin);
  return {
    out: child.stdout,
    done,
    abort() {
      aborted = true;
      whole.destroy();
      child.kill();
    },
  };
}

function pipeDecompressor(
  whole: Readable,
  d: zlib.Gunzip,
  what: string,
): { out: Readable; done: Promise<void>; abort(): void } {
  let aborted = false;
  const done = new Promise<void>((resolve, reject) => {
    d.on('end', () => resolve());
    d.on('error', (e) =>
      aborted ? resolve() : reject(new ArchiveRejected('', `${what}: ${e.message}`)),
    );
    whole.on('error', (e) => (aborted ? resolve() : reject(e)));
  });
  whole.pipe(d);
  return {
    out: d,
    done,
    abort() {
      aborted = true;
      whole.unpipe(d);
      whole.destroy();
      d.destroy();
    },
  };
}

async function openTarStream(input: Readable): Promise<TarStream> {
  const { head, whole } = await sniff(input);
  const compression = detectCompression(head);
  if (compression === 'none') {
    let aborted = false;
    const done = new Promise<void>((resolve, reject) => {
      whole.on('end', () => resolve());
      whole.on('error', (e) => (aborted ? resolve() : reject(e)));
    });
    return {
      tar: whole,
      compression,
      done,
      abort() {
        aborted = true;
        whole.destroy();
      },
    };
  }
  const s =
    compression === 'gzip'
      ? pipeDecompressor(whole, zlib.createGunzip({ chunkSize: CHUNK }), 'gzip')
      : zstdStream(whole);
  return { tar: s.out, compression, done: s.done, abort: s.abort };
}

// ---------------------------------------------------------------------------
// Extraction.

/**
 * Files up to this size are buffered and handed to a worker, which writes and
 * hashes them; larger ones stream to disk from the main thread (zips, `.mod`
 * and `.ziphash` files are always buffered: their content is needed whole).
 */
const BUFFERED_FILE = 16 << 20;
/** A zip is shared by one worker job per this many bytes of it, up to MAX_ZIP_PARTS jobs. */
const ZIP_PART_BYTES = 4 << 20;
const MAX_ZIP_PARTS = 8;
/** Small files travel to the workers in batches of about this many bytes or files. */
const BATCH_BYTES = 4 << 20;
const BATCH_FILES = 1024;
/** Bytes held by unfinished writes and zip hashes before reading pauses. */
const MAX_PENDING_BYTES = 64 << 20;
const MAX_PENDING_OPS = 64;

/** What a worker does with a batched file (hashcore's writeFiles). */
const WRITE = 0;
const WRITE_AND_HASH = 1;
const HASH_ONLY = 2;

/** Small files gathered for one trip to a worker, with what to record once each is written. */
interface Batch {
  rels: string[];
  data: Uint8Array[];
  /** Per file: length, mode, hash it (1) or not (0). */
  meta: number[];
  /** Called with the file's sha256 ('' when not asked for) once it is on disk. */
  onWritten: ((digest: string) => void)[];
  bytes: number;
}

const emptyBatch = (): Batch => ({ rels: [], data: [], meta: [], onWritten: [], bytes: 0 });

/** tar-stream's names for regular files (typeflags '0', NUL and '7'). */
const ACCEPTED_FILE_TYPES = new Set(['file', 'contiguous-file']);

/** How a rejection names each member type tar-stream reports (null: a typeflag it does not know). */
const TYPE_WORDS: Record<string, string> = {
  symlink: 'symbolic link',
  link: 'hard link',
  fifo: 'fifo',
  'character-device': 'character device',
  'block-device': 'block device',
};

/** One member's content as tar-stream hands it over (a streamx Readable of Buffers). */
type MemberBody = ExtractEvents['entry'][1];

async function ensureEmptyDir(dest: string): Promise<void> {
  await fs.mkdir(dest, { recursive: true });
  const entries = await fs.readdir(dest);
  if (entries.length > 0)
    throw new Error(
      `extraction target ${dest} is not empty (${entries.length} entries): extract into an empty directory and move it into place`,
    );
}

/** Receives the parser's entries, validates, writes and hashes them. */
class Extractor {
  readonly record = new RecordBuilder();
  files = 0;
  bytes = 0;
  /** Members seen, directories included: an archive without any is not one. */
  members = 0;
  /** Members handed over whose body is not consumed yet. */
  private open = 0;
  private onIdle: (() => void) | undefined;
  error: Error | undefined;
  /** Called with the first error so the reading side stops. */
  onFail: (e: Error) => void = () => undefined;

  private readonly root: string;
  private readonly dirs = new Set<string>(['']);
  private readonly fileNames = new Set<string>();
  /** Directories inside module trees, made read-only at the end. */
  private readonly treeDirs: string[] = [];
  /**
   * Tree roots (`<escaped path>@<escaped version>`) written from their zips.
   * Tree members the archive holds for them are hashed and compared, never written.
   */
  private readonly fromZip = new Set<string>();
  /** Tree roots the archive's own members started: their zips are hashed, not unpacked. */
  private readonly fromMembers = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private pendingBytes = 0;
  private waiter: (() => void) | undefined;
  private batch = emptyBatch();

  constructor(
    dest: string,
    private readonly workers: HashWorkers,
    private readonly maxBytes = Infinity,
  ) {
    this.root = path.resolve(dest);
  }

  /**
   * Resolves once every member handed over has been consumed. Without
   * end-of-archive blocks the parser finishes while the last member may still
   * wait for room.
   */
  allConsumed(): Promise<void> {
    if (this.open === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.onIdle = resolve;
    });
  }

  fail(e: unknown): void {
    if (this.error) return;
    this.error = e instanceof Error ? e : new Error(String(e));
    this.onFail(this.error);
  }

  /**
   * The parser's 'entry' handler: validates the member, then consumes its body
   * (now, or once writes in flight leave room) and calls `next` when done.
   * After a failure `next` is never called: the whole extraction is stopping.
   */
  onEntry(h: TarHeader, body: MemberBody, parserNext: () => void): void {
    if (this.error) return;
    this.members++;
    this.open++;
    const next = () => {
      this.open--;
      if (this.error) return;
      parserNext();
      if (this.open === 0) this.onIdle?.();
    };
    // A body fails only when the parser does; the parser's own error says why.
    body.on('error', () => undefined);
    const name = h.name;
    try {
      const rel = memberPath(name);
      if (h.type === 'directory') {
        // A size would make the parser read the directory's data as members.
        if (h.size !== 0)
          throw new ArchiveRejected(name, `a directory member with ${h.size} bytes of data`);
        body.resume();
        const place = placeOf(rel);
        // A directory of a tree written from its zip: Go's hashes cover files only.
        if (place.kind === 'tree' && this.fromZip.has(place.root)) {
          next();
          return;
        }
        this.ensureDir(rel, name);
        if (place.kind === 'tree') {
          this.fromMembers.add(place.root);
          this.record.tree(place.path, place.version);
        }
        next();
        return;
      }
      if (!ACCEPTED_FILE_TYPES.has(h.type))
        throw new ArchiveRejected(
          name,
          `${TYPE_WORDS[h.type] ?? 'unknown-type'} members are not allowed (only regular files and directories)`,
        );
      if (rel === '') throw new ArchiveRejected(name, 'a file cannot be the archive root');
      if (this.fileNames.has(rel) || this.dirs.has(rel))
        throw new ArchiveRejected(name, 'appears twice in the archive');
      this.fileNames.add(rel);
      const place = filePlaceOf(rel);
      if (place.kind === 'tree' && this.fromZip.has(place.root)) {
        this.whenRoom(() => this.consumeShadow(body, h.size, rel, place, next));
        return;
      }
      if (place.kind === 'tree') this.fromMembers.add(place.root);
      // The parent is made (and checked against the root) here; the file's own
      // name is one segment that memberPath has already refused as '', '.' or '..'.
      const slash = rel.lastIndexOf('/');
      this.ensureDir(slash < 0 ? '' : rel.slice(0, slash), name);
      // Files written from here (zips, large files) are resolved and checked now.
      const abs =
        (place.kind === 'download' && place.ext === '.zip') || h.size > BUFFERED_FILE
          ? confinedPath(this.root, rel, name)
          : '';
      this.whenRoom(() => this.consumeFile(body, h.size, rel, abs, place, next));
    } catch (e) {
      this.fail(e);
    }
  }

  /** Creates a directory and its parents, each checked against what this extraction made. */
  private ensureDir(rel: string, member: string): void {
    if (this.dirs.has(rel)) return;
    if (this.fileNames.has(rel))
      throw new ArchiveRejected(member, `${rel} is both a file and a directory in the archive`);
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    this.ensureDir(parent, member);
    const abs = confinedPath(this.root, rel, member);
    try {
      mkdirSync(abs, { mode: 0o755 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR')
        throw new ArchiveRejected(
          member,
          `${rel} already exists and was not made by this extraction`,
        );
      throw e;
    }
    this.dirs.add(rel);
    const place = placeOf(rel);
    if (place.kind === 'tree') this.treeDirs.push(abs);
  }

  /** Runs fn now when few writes are in flight, else once some finish. */
  private whenRoom(fn: () => void): void {
    const room = () =>
      this.pending.size === 0 ||
      (this.pendingBytes < MAX_PENDING_BYTES && this.pending.size < MAX_PENDING_OPS);
    if (room()) {
      fn();
      return;
    }
    this.waiter = () => {
      if (!room()) return;
      this.waiter = undefined;
      fn();
    };
  }

  private track(p: Promise<void>, bytes: number, rel = ''): void {
    this.pendingBytes += bytes;
    const tracked: Promise<void> = p
      .catch((e: unknown) => this.fail(translateWriteError(e, rel)))
      .finally(() => {
        this.pending.delete(tracked);
        this.pendingBytes -= bytes;
        this.waiter?.();
      });
    this.pending.add(tracked);
  }

  private consumeFile(
    body: MemberBody,
    size: number,
    rel: string,
    abs: string,
    place: Placement,
    next: () => void,
  ): void {
    if (this.error) return;
    const mode = fileModeFor(place);
    this.files++;
    this.bytes += size;
    if (this.bytes > this.maxBytes) {
      this.fail(
        new ArchiveRejected(rel, `the archive's files exceed the ${this.maxBytes}-byte limit`),
      );
      return;
    }
    const keep = place.kind === 'download' && place.ext !== '.info' && place.ext !== '.partial';
    if (size > BUFFERED_FILE && !keep) {
      this.streamFile(body, rel, abs, mode, place, next);
      return;
    }
    const chunks: Buffer[] = [];
    body.on('data', (c) => chunks.push(c as Buffer));
    body.on('end', () => {
      this.takeFile(rel, abs, mode, place, chunks, size);
      next();
    });
  }

  /**
   * A file of a tree that is being written from its zip: hashed (by a worker,
   * with the batch), never written; the record compares the two trees.
   */
  private consumeShadow(
    body: MemberBody,
    size: number,
    rel: string,
    place: Extract<Placement, { kind: 'tree' }>,
    next: () => void,
  ): void {
    if (this.error) return;
    const record = (digest: string) =>
      this.record.treeFile(place.path, place.version, place.inner, digest);
    if (size > BUFFERED_FILE) {
      const hash = createHash('sha256');
      body.on('data', (c) => hash.update(c as Buffer));
      body.on('end', () => {
        record(hash.digest('hex'));
        next();
      });
      return;
    }
    const chunks: Buffer[] = [];
    body.on('data', (c) => chunks.push(c as Buffer));
    body.on('end', () => {
      if (!this.error) {
        const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
        this.addToBatch(rel, data, 0, record, HASH_ONLY);
      }
      next();
    });
  }

  /** A buffered file, whole: a zip goes to a worker of its own, anything else into a batch. */
  private takeFile(
    rel: string,
    abs: string,
    mode: number,
    place: Placement,
    chunks: Buffer[],
    size: number,
  ): void {
    if (this.error) return;
    if (place.kind === 'download' && place.ext === '.zip') {
      this.writeZip(place.path, place.version, rel, abs, chunks, size);
      return;
    }
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    if (place.kind === 'tree') {
      this.addToBatch(rel, data, mode, (digest) =>
        this.record.treeFile(place.path, place.version, place.inner, digest),
      );
      return;
    }
    if (place.kind === 'download')
      this.record.downloadFile(place.path, place.version, place.ext, data);
    else this.record.other.push(rel);
    this.addToBatch(rel, data, mode);
  }

  /** Large tree or other files: written as they arrive, hashed on the way. */
  private streamFile(
    body: MemberBody,
    rel: string,
    abs: string,
    mode: number,
    place: Placement,
    next: () => void,
  ): void {
    const hash = place.kind === 'tree' ? createHash('sha256') : undefined;
    const out = createWriteStream(abs, { flags: 'wx', mode });
    const finished = new Promise<void>((resolve, reject) => {
      out.on('error', (e) => reject(e));
      out.on('close', () => resolve());
    });
    body.on('data', (data) => {
      const c = data as Buffer;
      hash?.update(c);
      if (!out.write(c)) {
        body.pause();
        out.once('drain', () => body.resume());
      }
    });
    let ended = false;
    body.on('end', () => {
      ended = true;
      out.end();
      if (place.kind === 'tree')
        this.record.treeFile(place.path, place.version, place.inner, hash!.digest('hex'));
      else this.record.other.push(rel);
      next();
    });
    // The parser stopped (truncated archive, failure elsewhere) with this file
    // half written: close it, or the extraction would wait for it forever.
    body.on('close', () => {
      if (!ended) out.destroy(new Error(`${rel}: the archive stopped in the middle of it`));
    });
    this.track(finished, 0, rel);
  }

  /**
   * Small files are written without waiting: they gather into a batch that a
   * worker writes (and hashes, for tree files) while the main thread parses
   * the next members, within MAX_PENDING_BYTES and MAX_PENDING_OPS in flight.
   */
  private addToBatch(
    rel: string,
    data: Uint8Array,
    mode: number,
    onWritten?: (digest: string) => void,
    how: number = onWritten ? WRITE_AND_HASH : WRITE,
  ): void {
    const b = this.batch;
    b.rels.push(rel);
    b.data.push(data);
    b.meta.push(data.length, mode, how);
    b.onWritten.push(onWritten ?? (() => undefined));
    b.bytes += data.length;
    if (b.bytes >= BATCH_BYTES || b.rels.length >= BATCH_FILES) this.flushBatch();
  }

  /** Sends the gathered files to a worker in buffers of their own. */
  private flushBatch(): void {
    const b = this.batch;
    if (b.rels.length === 0) return;
    this.batch = emptyBatch();
    const data = new Uint8Array(new ArrayBuffer(b.bytes));
    let at = 0;
    for (const d of b.data) {
      data.set(d, at);
      at += d.length;
    }
    const batch = {
      root: this.root,
      names: b.rels.join('\0'),
      meta: Uint32Array.from(b.meta),
      data: data.buffer,
    };
    const written = this.workers.writeFiles(batch).then((o) => {
      o.digests.forEach((digest, i) => b.onWritten[i]!(digest));
      if (o.failed) throw errnoError(o.failed, b.rels[o.failed.index]!);
    });
    this.track(written, b.bytes);
  }

  /**
   * Workers write the zip, then compute its HashZip: inflating overlaps the
   * extraction. Unless the archive's own members started the module's tree,
   * they also write the tree from the zip as Go's Unzip does, hashing each
   * file as they write it: an entry need not hold a module's files twice. A
   * large zip is shared by several parts so that no worker is left alone with it.
   */
  private writeZip(
    p: string,
    v: string,
    rel: string,
    abs: string,
    chunks: Buffer[],
    size: number,
  ): void {
    const m = this.record.module(p, v);
    const root = `${escapeModulePath(p)}@${escapeModulePath(v)}`;
    let tree: TreeTarget | undefined;
    if (!this.fromMembers.has(root)) {
      try {
        // The tree must be a tree root of its own, never a directory inside
        // another module's tree (downloadPlaceOf already refuses such names).
        const own = placeOf(root);
        if (own.kind !== 'tree' || own.root !== root || own.inner !== '')
          throw new ArchiveRejected(rel, `its module tree ${root} would not be a tree of its own`);
        this.ensureDir(root, rel);
        tree = { dir: confinedPath(this.root, root, rel), prefix: `${p}@${v}` };
      } catch (e) {
        this.fail(e);
        return;
      }
      this.fromZip.add(root);
    }
    const parts = Math.min(MAX_ZIP_PARTS, Math.max(1, Math.floor(size / ZIP_PART_BYTES)));
    const data = ownedCopy(chunks, size, parts > 1);
    const jobs = Array.from({ length: parts }, (_, part) =>
      this.workers.zipPart(data, {
        write: part === 0 ? { abs, mode: 0o644 } : undefined,
        tree,
        part,
        parts,
      }),
    );
    const done = Promise.all(jobs).then((outcomes) => {
      const failed = outcomes.find((o) => o.writeFailed)?.writeFailed;
      if (failed) throw errnoError(failed, rel);
      const r = mainThreadCore.zipResult(outcomes, tree !== undefined);
      // A zip that cannot be read is recorded, not thrown: the judge reports it.
      if (r.h1 !== undefined) m.zipH1 = r.h1;
      if (r.zipError !== undefined) m.zipError = r.zipError;
      if (tree === undefined) return;
      this.record.rebuiltTree(p, v, { tree: r.tree, error: r.treeError });
      if (r.tree) {
        this.treeDirs.push(...r.tree.dirs);
        this.files += r.tree.files;
        this.bytes += r.tree.bytes;
      }
    });
    this.track(done, size, rel);
  }

  /**
   * Waits for every write and hash, removes the trees an entry contradicts
   * (its tree files differ from its zip), then makes module trees read-only as Go does.
   */
  async finish(): Promise<void> {
    this.flushBatch();
    await this.settle();
    if (this.error) throw this.error;
    for (const m of this.record.disagreeing()) {
      const root = `${escapeModulePath(m.path)}@${escapeModulePath(m.version)}`;
      await forceRemove(confinedPath(this.root, root, root));
    }
    this.treeDirs.sort((a, b) => b.length - a.length);
    for (const d of this.treeDirs) {
      await fs.chmod(d, 0o555).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
  }

  /** Resolves once nothing is in flight (so a caller may clean up safely). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

/** A worker's report of a failed write, as the error fs would have thrown, translated. */
function errnoError(f: { code?: string; message: string }, rel: string): Error {
  return translateWriteError(Object.assign(new Error(f.message), { code: f.code }), rel);
}

/**
 * The chunks copied into memory of their own, safe to transfer to a worker,
 * or shared (a SharedArrayBuffer) when several workers read it at once.
 */
function ownedCopy(chunks: Buffer[], size: number, shared = false): Uint8Array {
  const out = new Uint8Array(shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A write that collides with another member is the archive's fault; anything else (ENOSPC...) is not. */
function translateWriteError(e: unknown, rel: string): Error {
  const err = e as NodeJS.ErrnoException;
  if (err && (err.code === 'EEXIST' || err.code === 'EISDIR' || err.code === 'ENOTDIR'))
    return new ArchiveRejected(rel, `conflicts with another member (${err.code})`);
  return err instanceof Error ? err : new Error(String(e));
}

/** Turns tar-stream's errors (bad checksum, unknown format, truncation) into rejections. */
function parserError(e: Error): Error {
  if (e instanceof ArchiveRejected) return e;
  return new ArchiveRejected('', `not a valid tar stream: ${e.message}`);
}

/**
 * Extracts a module cache archive from a stream into an empty (or missing)
 * directory `dest`. Compression is found from magic bytes (zstd, gzip, or
 * none). Every member is validated before it is written; the first bad one
 * throws ArchiveRejected, after all writes in flight have settled. Removing
 * the half-written `dest` is the caller's job (trees are read-only: see
 * forceRemove in src/go/modcache.ts).
 */
export async function extractArchive(
  input: Readable,
  dest: string,
  o: ExtractOptions = {},
): Promise<ExtractResult> {
  await ensureEmptyDir(dest);
  const workers = new HashWorkers(o.workers);
  const ex = new Extractor(dest, workers, o.maxBytes);
  let stream: TarStream | undefined;
  try {
    stream = await openTarStream(input);
    const s = stream;
    const parser = tarExtract();
    parser.on('entry', (h, body, next) => ex.onEntry(h, body, () => next()));
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const stop = (e: Error) => {
        if (settled) return;
        settled = true;
        s.abort();
        parser.destroy();
        reject(e);
      };
      ex.onFail = stop;
      let tarEnded = false;
      parser.on('error', (e: Error) => {
        if (settled) return;
        // At the end of the stream a truncated tar usually means a truncated
        // download: the decompressor's own error says so better.
        if (!tarEnded) ex.fail(parserError(e));
        else
          s.done.then(
            () => ex.fail(parserError(e)),
            (d: Error) => ex.fail(d),
          );
      });
      s.done.catch((e: Error) => ex.fail(e));
      // The tar stream's errors also settle s.done, which names them better.
      s.tar.on('error', () => undefined);
      let draining = false;
      s.tar.on('data', (chunk: Buffer) => {
        if (settled) return;
        if (!parser.write(chunk) && !draining) {
          draining = true;
          s.tar.pause();
          parser.once('drain', () => {
            draining = false;
            s.tar.resume();
          });
        }
      });
      s.tar.on('end', () => {
        tarEnded = true;
        parser.end(undefined);
      });
      parser.on('finish', () => {
        s.done
          .then(() => ex.allConsumed())
          .then(
            () => {
              if (ex.members === 0)
                ex.fail(new ArchiveRejected('', 'not a valid tar stream: it holds no members'));
              if (!settled) {
                settled = true;
                resolve();
              }
            },
            () => undefined,
          );
      });
    });
    await ex.finish();
    return {
      record: ex.record.build(),
      files: ex.files,
      bytes: ex.bytes,
      compression: stream.compression,
    };
  } catch (e) {
    stream?.abort();
    await ex.settle();
    throw ex.error ?? e;
  } finally {
    await workers.close();
  }
}

// ---------------------------------------------------------------------------
// The same record from a module cache already on disk.

/** Lists files (relative, forward slashes) under dir; directories that are module trees are reported apart. */
async function walk(
  root: string,
  rel: string,
  onTree: (rel: string) => void,
  onFile: (rel: string) => void,
  onOdd: (rel: string) => void,
): Promise<void> {
  const entries = await fs.readdir(rel === '' ? root : path.join(root, ...rel.split('/')), {
    withFileTypes: true,
  });
  await Promise.all(
    entries.map(async (e) => {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      const place = placeOf(child);
      if (e.isDirectory()) {
        if (place.kind === 'tree' && place.inner === '') onTree(child);
        else await walk(root, child, onTree, onFile, onOdd);
      } else if (e.isFile()) onFile(child);
      else onOdd(child);
    }),
  );
}

/**
 * The ExtractRecord of a module cache already on disk: each tree hashed with
 * HashDir, each zip with HashZip (in the worker pool), `.ziphash`/`.mod` read.
 * For caches restored earlier, after repairs, and as a cross-check of
 * extractArchive. Trees and zips are processed in parallel.
 */
export async function recordFromDisk(
  modCache: string,
  o: ExtractOptions = {},
): Promise<ExtractRecord> {
  const root = path.resolve(modCache);
  const rb = new RecordBuilder();
  const trees: string[] = [];
  const files: string[] = [];
  // Symlinks, fifos and devices outside trees are only listed: Go never makes them, and
  // reading one could leave the cache or block.
  await walk(
    root,
    '',
    (t) => trees.push(t),
    (f) => files.push(f),
    (odd) => rb.other.push(odd),
  );
  const workers = new HashWorkers(o.workers);
  const limiter = new Limiter(16);
  const abs = (rel: string) => path.join(root, ...rel.split('/'));
  try {
    /** Zips by module, with the module's record. */
    const zipOf = new Map<string, { zip: string; m: ModuleRecord }>();
    const smallJobs: Promise<void>[] = [];
    for (const f of files) {
      const place = filePlaceOf(f);
      if (place.kind !== 'download') {
        rb.other.push(f);
        continue;
      }
      if (place.ext === '.info' || place.ext === '.partial') {
        rb.downloadFile(place.path, place.version, place.ext);
        continue;
      }
      if (place.ext === '.zip') {
        zipOf.set(`${place.path}@${place.version}`, {
          zip: f,
          m: rb.module(place.path, place.version),
        });
        continue;
      }
      smallJobs.push(
        limiter
          .run(() => readRegularFile(abs(f)))
          .then((data) => rb.downloadFile(place.path, place.version, place.ext, data)),
      );
    }
    // A tree with its zip is one job (one sha256 per file the two share); the
    // biggest zips go first so that no large module is left running alone at the end.
    type TreeJob = { m: ModuleRecord; prefix: string; tree: string };
    const pairs: (TreeJob & { zip: string; size: number })[] = [];
    const treesAlone: TreeJob[] = [];
    for (const t of trees) {
      const place = placeOf(t);
      if (place.kind !== 'tree') continue;
      const prefix = `${place.path}@${place.version}`;
      const job = { m: rb.module(place.path, place.version), prefix, tree: t };
      const zip = zipOf.get(prefix);
      if (zip === undefined) treesAlone.push(job);
      else {
        zipOf.delete(prefix);
        pairs.push({ ...job, zip: zip.zip, size: 0 });
      }
    }
    await Promise.all(
      pairs.map(async (p) => {
        p.size = await fs.stat(abs(p.zip)).then(
          (st) => st.size,
          () => 0,
        );
      }),
    );
    pairs.sort((a, b) => b.size - a.size);
    const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
    const pairJobs = pairs.map(async ({ m, prefix, tree, zip }) => {
      try {
        const r = await workers.hashModule(abs(tree), prefix, abs(zip));
        if (r.tree) {
          m.treeH1 = r.tree.h1;
          m.treeFiles = r.tree.files;
        }
        if (r.treeError !== undefined) m.treeError = r.treeError;
        if (r.zipH1 !== undefined) m.zipH1 = r.zipH1;
        if (r.zipError !== undefined) m.zipError = r.zipError;
      } catch (e) {
        m.treeError = m.zipError = message(e);
      }
    });
    const zipJobs = [...zipOf.values()].map(async ({ zip, m }) => {
      try {
        m.zipH1 = await workers.hashZipFile(abs(zip));
      } catch (e) {
        m.zipError = message(e);
      }
    });
    const treeJobs = treesAlone.map(async ({ m, prefix, tree }) => {
      try {
        const { h1, files: n } = await workers.hashTree(abs(tree), prefix);
        m.treeH1 = h1;
        m.treeFiles = n;
      } catch (e) {
        m.treeError = message(e);
      }
    });
    await Promise.all([...pairJobs, ...zipJobs, ...treeJobs, ...smallJobs]);
  } finally {
    await workers.close();
  }
  return rb.build();
}
