/**
 * Confined, streaming extraction of a cache archive (as @actions/cache's
 * saveCache makes them: GNU tar --posix, zstd or gzip, paths relative to the
 * saved directory) into an EMPTY directory, hashing every module file as it
 * streams through so that verification against go.sum needs no second read.
 *
 * Unlike `tar -xP`, every member is checked before anything is written for it:
 * only regular files and directories, no absolute names, no `..`, nothing that
 * resolves outside the destination. Directories and files are created by this
 * code alone (no links are ever made), so no member can be redirected through
 * an earlier one.
 *
 * This file is over 500 lines because the Extractor is one state machine (the
 * parser's back-pressure, the batches in flight, the trees written from zips);
 * the pure parts live in ./tar.ts, ../go/layout.ts and ../verify/record.ts.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, mkdirSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { extract as tarExtract, type ExtractEvents, type Header as TarHeader } from 'tar-stream';
import { escapeModulePath } from '../go/gosum.js';
import {
  closedLayoutKeeps,
  fileModeFor,
  filePlaceOf,
  placeOf,
  type Placement,
} from '../go/layout.js';
import { forceRemove } from '../go/modcache.js';
import { MAX_MODULE_ZIP, mainThreadCore, type TreeTarget } from '../verify/hashcore.js';
import { RecordBuilder, type ExtractRecord, type ModuleRecord } from '../verify/record.js';
import { HashWorkers } from '../verify/workers.js';
import {
  ArchiveRejected,
  confinedPath,
  memberPath,
  openTarStream,
  type Compression,
  type TarStream,
} from './tar.js';

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
  /** Refuse archives of more members than this (MAX_MEMBERS by default). */
  maxMembers?: number;
  /**
   * 'modules' (the default): the closed layout of a module cache, where only
   * module versions' trees and download files are written and every other
   * member is drained and counted in the record's `dropped`
   * (closedLayoutKeeps in src/go/layout.ts). 'open': every confined member
   * is written (a build cache, whose layout is Go's business alone).
   */
  layout?: ExtractLayout;
}

export type ExtractLayout = 'modules' | 'open';

/**
 * Files up to this size are buffered and handed to a worker, which writes and
 * hashes them; larger ones stream to disk from the main thread, hashed on the
 * way (a zip then goes to the workers as its file: see spoolZip). No member
 * is ever held whole above this size.
 */
const BUFFERED_FILE = 16 << 20;
/**
 * Zips above this size are spooled (see spoolZip) rather than buffered: the
 * workers read them back from the page cache, and the main thread keeps no
 * copy of them.
 */
const SPOOLED_ZIP = 4 << 20;
/** A zip is shared by one worker job per this many bytes of it, up to MAX_ZIP_PARTS jobs. */
const ZIP_PART_BYTES = 4 << 20;
const MAX_ZIP_PARTS = 8;
/** Small files travel to the workers in batches of about this many bytes or files. */
const BATCH_BYTES = 4 << 20;
const BATCH_FILES = 1024;
/** Bytes held by unfinished writes and zip hashes before reading pauses. */
const MAX_PENDING_BYTES = 32 << 20;
const MAX_PENDING_OPS = 64;
/**
 * The workers' heap cap (HashWorkers' heapMb): a worker holds a batch, or one
 * zip's index (a few hundred bytes per entry: about 100,000 entries fit) and
 * its entries up to STREAMED_ENTRY at a time. At the default cap (a quarter of
 * the machine's memory) each worker kept about 130 MB of dropped buffers on
 * the real workload; 64 MB instead of 32 changed neither pre's CPU time nor
 * its peak measurably (BENCHMARKS.md, "Memory"). A zip whose index does not
 * fit stops its worker: the restore fails as a whole, and the job goes on
 * without the entry.
 */
const WORKER_HEAP_MB = 32;

/**
 * Most members one archive may hold. The real workload's lean entry (trees,
 * no zips) holds 53,000; a monorepo's perhaps ten times that.
 */
export const MAX_MEMBERS = 1_000_000;

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
    private readonly closed = true,
    private readonly maxMembers = MAX_MEMBERS,
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
    if (this.members > this.maxMembers) {
      // Every member costs a name in memory however small its data: a cap keeps
      // an entry of millions of empty files from exhausting the runner.
      this.fail(
        new ArchiveRejected(h.name, `the archive holds more than ${this.maxMembers} members`),
      );
      return;
    }
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
        // Outside trees the closed layout makes only the parents of files it writes.
        if (
          (place.kind === 'tree' && this.fromZip.has(place.root)) ||
          (this.closed && place.kind !== 'tree')
        ) {
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
      const place = filePlaceOf(rel);
      if (this.closed && !closedLayoutKeeps(place, h.size)) {
        this.drain(body, rel, next);
        return;
      }
      if (this.fileNames.has(rel) || this.dirs.has(rel))
        throw new ArchiveRejected(name, 'appears twice in the archive');
      this.fileNames.add(rel);
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

  /** A member the closed layout does not write: read past, never buffered, and counted. */
  private drain(body: MemberBody, rel: string, next: () => void): void {
    this.record.drop(rel);
    body.on('end', next);
    body.resume();
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
    const zip = place.kind === 'download' && place.ext === '.zip';
    if (zip && size > SPOOLED_ZIP) {
      if (size > MAX_MODULE_ZIP) this.refuseZip(body, place, rel, size, next);
      else this.spoolZip(body, rel, abs, place, size, next);
      return;
    }
    if (size > BUFFERED_FILE) {
      this.track(this.streamFile(body, rel, abs, mode, place, next), 0, rel);
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

  /**
   * Large files: written as they arrive, tree files and `.mod` files hashed on
   * the way (a `.ziphash` this large is not Go's: its text is not recorded).
   * Resolves once the file is closed.
   */
  private streamFile(
    body: MemberBody,
    rel: string,
    abs: string,
    mode: number,
    place: Placement,
    next: () => void,
  ): Promise<void> {
    const hashed = place.kind === 'tree' || (place.kind === 'download' && place.ext === '.mod');
    const hash = hashed ? createHash('sha256') : undefined;
    return this.writeBody(body, rel, abs, mode, hash, () => {
      if (place.kind === 'tree')
        this.record.treeFile(place.path, place.version, place.inner, hash!.digest('hex'));
      else if (place.kind === 'download') {
        this.record.downloadFile(place.path, place.version, place.ext);
        // Go's hash of a go.mod is Hash1 of the one file named go.mod (gosum's goModHash).
        if (hash)
          this.record.module(place.path, place.version).modH1 = mainThreadCore.hash1([
            { name: 'go.mod', sha256hex: hash.digest('hex') },
          ]);
      } else this.record.other.push(rel);
      next();
    });
  }

  /**
   * Writes a member's body to a new file as it arrives (reading pauses while
   * the disk catches up), feeding `hash` on the way; `ended` runs once the
   * body is all read. Resolves once the file is closed.
   */
  private writeBody(
    body: MemberBody,
    rel: string,
    abs: string,
    mode: number,
    hash: Hash | undefined,
    ended: () => void,
  ): Promise<void> {
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
    let done = false;
    body.on('end', () => {
      done = true;
      out.end();
      ended();
    });
    // The parser stopped (truncated archive, failure elsewhere) with this file
    // half written: close it, or the extraction would wait for it forever.
    body.on('close', () => {
      if (!done) out.destroy(new Error(`${rel}: the archive stopped in the middle of it`));
    });
    return finished;
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
    const target = this.zipTarget(p, v, rel);
    if (!target) return;
    const parts = zipParts(size);
    this.track(
      this.zipJobs(target, ownedCopy(chunks, size, parts > 1), parts, abs, rel),
      size,
      rel,
    );
  }

  /**
   * A zip too large to hold (above SPOOLED_ZIP): written to its file as it
   * arrives, then read back by the workers with positioned reads, entry by
   * entry, large entries inflated in pieces; the same strict reader and the
   * same tree as writeZip. Nothing of it is held in memory meanwhile.
   */
  private spoolZip(
    body: MemberBody,
    rel: string,
    abs: string,
    place: Extract<Placement, { kind: 'download' }>,
    size: number,
    next: () => void,
  ): void {
    const target = this.zipTarget(place.path, place.version, rel);
    if (!target) return;
    const written = this.writeBody(body, rel, abs, 0o644, undefined, next);
    this.track(
      written.then(() =>
        this.error ? undefined : this.zipJobs(target, abs, zipParts(size), '', rel),
      ),
      0,
      rel,
    );
  }

  /**
   * A zip larger than Go accepts for a module (MAX_MODULE_ZIP): read through,
   * never written or inflated; its module is recorded as having a bad zip
   * (and, when its tree was to come from it, no tree), so the judge has Go
   * fetch it again when go.sum names it.
   */
  private refuseZip(
    body: MemberBody,
    place: Extract<Placement, { kind: 'download' }>,
    rel: string,
    size: number,
    next: () => void,
  ): void {
    const target = this.zipTarget(place.path, place.version, rel);
    if (!target) return;
    const why = `zip: ${size} bytes, more than a module zip may hold (${MAX_MODULE_ZIP} bytes)`;
    target.m.zipError = why;
    if (target.tree) this.record.rebuiltTree(place.path, place.version, { error: why });
    body.on('end', next);
    body.resume();
  }

  /**
   * The module a zip belongs to, and the tree to write from it unless the
   * archive's own members started that tree; undefined once it has failed.
   */
  private zipTarget(
    p: string,
    v: string,
    rel: string,
  ): { p: string; v: string; m: ModuleRecord; tree: TreeTarget | undefined } | undefined {
    const m = this.record.module(p, v);
    const root = `${escapeModulePath(p)}@${escapeModulePath(v)}`;
    if (this.fromMembers.has(root)) return { p, v, m, tree: undefined };
    try {
      // The tree must be a tree root of its own, never a directory inside
      // another module's tree (downloadPlaceOf already refuses such names).
      const own = placeOf(root);
      if (own.kind !== 'tree' || own.root !== root || own.inner !== '')
        throw new ArchiveRejected(rel, `its module tree ${root} would not be a tree of its own`);
      this.ensureDir(root, rel);
      this.fromZip.add(root);
      return { p, v, m, tree: { dir: confinedPath(this.root, root, rel), prefix: `${p}@${v}` } };
    } catch (e) {
      this.fail(e);
      return undefined;
    }
  }

  /**
   * The worker jobs on one zip, in memory or in its file (`abs`: part 0
   * writes a zip that came in memory there), and what they found, recorded.
   */
  private zipJobs(
    target: { p: string; v: string; m: ModuleRecord; tree: TreeTarget | undefined },
    data: Uint8Array | string,
    parts: number,
    abs: string,
    rel: string,
  ): Promise<void> {
    const { p, v, m, tree } = target;
    const jobs = Array.from({ length: parts }, (_, part) =>
      this.workers.zipPart(data, {
        write: part === 0 && abs !== '' ? { abs, mode: 0o644 } : undefined,
        tree,
        part,
        parts,
      }),
    );
    return Promise.all(jobs).then((outcomes) => {
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

/** How many worker jobs share a zip of `size` bytes. */
function zipParts(size: number): number {
  return Math.min(MAX_ZIP_PARTS, Math.max(1, Math.floor(size / ZIP_PART_BYTES)));
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
  const workers = new HashWorkers(o.workers, WORKER_HEAP_MB);
  const ex = new Extractor(
    dest,
    workers,
    o.maxBytes,
    (o.layout ?? 'modules') === 'modules',
    o.maxMembers,
  );
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
