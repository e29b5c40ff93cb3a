/**
 * Go's module hashes (golang.org/x/mod/sumdb/dirhash): the `h1:` of a module
 * tree on disk (HashDir) and of a module zip's content (HashZip), plus a small
 * worker pool that hashes zips off the main thread while an archive extracts.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as zlib from 'node:zlib';

/** One line of Hash1's summary: a file's name (with its prefix) and its sha256 in hex. */
export interface FileDigest {
  name: string;
  sha256hex: string;
}

/**
 * Go's Hash1: sha256 over the lines `<hex sha256>  <name>\n` sorted by name.
 *
 * Go sorts the names as byte strings (UTF-8). JavaScript's `<` compares UTF-16
 * code units, which orders characters above U+FFFF before U+E000..U+FFFF, so
 * the names are compared as UTF-8 bytes here (src/go/gosum.ts's hash1 does
 * not, and differs for such names).
 */
export function hash1(files: readonly FileDigest[]): string {
  const keyed = files.map((f) => {
    if (f.name.includes('\n'))
      throw new Error(
        `dirhash: file name with a newline is not allowed: ${JSON.stringify(f.name)}`,
      );
    return { key: Buffer.from(f.name, 'utf8'), f };
  });
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  const h = createHash('sha256');
  for (const { f } of keyed) h.update(`${f.sha256hex}  ${f.name}\n`);
  return 'h1:' + h.digest('base64');
}

export function sha256hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Files at or below this size are read in one call; larger ones stream. */
const WHOLE_READ_LIMIT = 8 << 20;

/**
 * Opens a file for reading only if it is a regular file. O_NOFOLLOW and
 * O_NONBLOCK: a symlink or fifo (perhaps swapped in after listing) fails here
 * instead of being followed or blocking forever (both flags are 0 on Windows).
 */
async function openRegular(file: string): Promise<fs.FileHandle> {
  const { O_RDONLY = 0, O_NOFOLLOW = 0, O_NONBLOCK = 0 } = fs.constants as Record<string, number>;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP')
      throw new Error(`dirhash: ${file} is a symbolic link`, { cause: e });
    throw e;
  }
  const st = await handle.stat();
  if (!st.isFile()) {
    await handle.close();
    throw new Error(`dirhash: ${file} is not a regular file`);
  }
  return handle;
}

/** A regular file's bytes; throws for symlinks, fifos, devices (see openRegular). */
export async function readRegularFile(file: string): Promise<Buffer> {
  const handle = await openRegular(file);
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** sha256 of one file's bytes, refusing anything that is not a regular file. */
async function hashFile(file: string): Promise<string> {
  const handle = await openRegular(file);
  try {
    const st = await handle.stat();
    if (st.size <= WHOLE_READ_LIMIT) return sha256hex(await handle.readFile());
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
    return h.digest('hex');
  } finally {
    await handle.close();
  }
}

/**
 * A counting semaphore: bounds how many files are open at once when many
 * trees are hashed in parallel.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter.
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

const defaultReadLimiter = new Limiter(16);

/** Relative paths (forward slashes) of every non-directory under dir. */
async function listFiles(dir: string, rel: string, out: string[]): Promise<void> {
  const entries = await fs.readdir(rel === '' ? dir : path.join(dir, rel), {
    withFileTypes: true,
  });
  await Promise.all(
    entries.map(async (e) => {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await listFiles(dir, child, out);
      else if (e.isFile()) out.push(child);
      else
        throw new Error(
          `dirhash: ${path.join(dir, child)} is ${e.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}: Go's extraction never creates one, so the tree was changed`,
        );
    }),
  );
}

/**
 * Go's HashDir(dir, prefix, Hash1): every file under dir named
 * `<prefix>/<relative path>` with forward slashes. Go would follow a symlink
 * and hash its target; Go's own extraction never creates one, so a tree that
 * holds one (or a device, a socket) was tampered with and this throws, naming it.
 */
export async function hashDirOnDisk(
  dir: string,
  prefix: string,
  limiter: Limiter = defaultReadLimiter,
): Promise<string> {
  return hash1(await dirDigests(dir, prefix, limiter));
}

/** The lines HashDir hashes: each file under dir as `<prefix>/<rel>` with its sha256. */
export async function dirDigests(
  dir: string,
  prefix: string,
  limiter: Limiter = defaultReadLimiter,
): Promise<FileDigest[]> {
  const rels: string[] = [];
  await listFiles(dir, '', rels);
  return Promise.all(
    rels.map(async (rel) => ({
      name: `${prefix}/${rel}`,
      sha256hex: await limiter.run(() => hashFile(path.join(dir, ...rel.split('/')))),
    })),
  );
}

/** The helpers zipHashCore needs, passed in so that it can run in an eval'd worker. */
interface ZipHashDeps {
  inflateRaw: (data: Uint8Array) => Uint8Array;
  sha256hex: (data: Uint8Array) => string;
  hash1: (files: { name: string; sha256hex: string }[]) => string;
}

/**
 * Go's HashZip over an in-memory zip: every entry's name and the sha256 of its
 * inflated content (stored or deflate; zip64 included). Self-contained (no
 * imports, no closures) because its source text also runs in a worker.
 * Go's reader also checks each entry's CRC-32; here a damaged entry shows up as
 * a different hash or an inflate/size error instead.
 */
function zipHashCore(buf: Uint8Array, deps: ZipHashDeps): string {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);
  const u64 = (o: number) => Number(dv.getBigUint64(o, true));
  const fail = (why: string): never => {
    throw new Error(`zip: ${why}`);
  };
  let eocd = -1;
  for (let i = buf.length - 22; i >= 0 && i >= buf.length - 22 - 0xffff; i--) {
    if (u32(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('no end of central directory record (not a zip file)');
  let count = u16(eocd + 10);
  let cdOffset = u32(eocd + 16);
  if (
    (count === 0xffff || cdOffset === 0xffffffff) &&
    eocd >= 20 &&
    u32(eocd - 20) === 0x07064b50
  ) {
    const z64 = u64(eocd - 20 + 8);
    if (z64 + 56 > buf.length || u32(z64) !== 0x06064b50) fail('bad zip64 end record');
    count = u64(z64 + 32);
    cdOffset = u64(z64 + 48);
  }
  const names: string[] = [];
  const content = new Map<
    string,
    { method: number; csize: number; usize: number; local: number }
  >();
  const decoder = new TextDecoder('utf-8');
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > buf.length || u32(p) !== 0x02014b50) fail(`bad central directory entry ${n}`);
    const method = u16(p + 10);
    let csize = u32(p + 20);
    let usize = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    let local = u32(p + 42);
    const name = decoder.decode(buf.subarray(p + 46, p + 46 + nameLen));
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = u16(e);
      const size = u16(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (usize === 0xffffffff) {
          usize = u64(q);
          q += 8;
        }
        if (csize === 0xffffffff) {
          csize = u64(q);
          q += 8;
        }
        if (local === 0xffffffff) local = u64(q);
      }
      e += 4 + size;
    }
    names.push(name);
    content.set(name, { method, csize, usize, local });
    p = extraEnd + commentLen;
  }
  const files = names.map((name) => {
    const f = content.get(name)!;
    if (f.local + 30 > buf.length || u32(f.local) !== 0x04034b50)
      fail(`bad local header for ${name}`);
    const start = f.local + 30 + u16(f.local + 26) + u16(f.local + 28);
    if (start + f.csize > buf.length) fail(`entry ${name} runs past the end of the zip`);
    const raw = buf.subarray(start, start + f.csize);
    let data: Uint8Array;
    if (f.method === 0) data = raw;
    else if (f.method === 8) data = deps.inflateRaw(raw);
    else data = fail(`entry ${name} uses unsupported compression method ${f.method}`);
    if (data.length !== f.usize)
      fail(`entry ${name} has ${data.length} bytes, header says ${f.usize}`);
    return { name, sha256hex: deps.sha256hex(data) };
  });
  return deps.hash1(files);
}

const mainThreadDeps: ZipHashDeps = {
  inflateRaw: (d) => zlib.inflateRawSync(d),
  sha256hex,
  hash1,
};

/** Go's HashZip of a zip held in memory. Throws `zip: ...` for a damaged zip. */
export function hashZipBuffer(buf: Uint8Array): string {
  return zipHashCore(buf, mainThreadDeps);
}

/**
 * The worker's source: node built-ins only, so the single-file ncc bundle
 * needs no extra file on disk. zipHashCore's text is reused as is (it uses no
 * imports, which bundlers rename); hash1 and sha256hex are restated in plain
 * JavaScript for the same reason, and tests compare both threads' results.
 * `__name` is a no-op stand-in for the helper esbuild (tsx) inserts into
 * function bodies it compiles with keepNames.
 */
function workerSource(): string {
  return `
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
const { createHash } = require('node:crypto');
const __name = (f) => f;
const sha256hex = (d) => createHash('sha256').update(d).digest('hex');
const hash1 = (files) => {
  const keyed = files.map((f) => {
    if (f.name.includes('\\n')) throw new Error('dirhash: file name with a newline is not allowed: ' + JSON.stringify(f.name));
    return { key: Buffer.from(f.name, 'utf8'), f };
  });
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  const h = createHash('sha256');
  for (const { f } of keyed) h.update(f.sha256hex + '  ' + f.name + '\\n');
  return 'h1:' + h.digest('base64');
};
const zipHashCore = ${zipHashCore.toString()};
const deps = { inflateRaw: (d) => zlib.inflateRawSync(d), sha256hex, hash1 };
parentPort.on('message', ({ id, buf }) => {
  try {
    parentPort.postMessage({ id, h1: zipHashCore(buf, deps) });
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message ? e.message : e) });
  }
});
`;
}

interface Job {
  id: number;
  buf: Uint8Array;
  transfer: boolean;
  resolve: (h1: string) => void;
  reject: (e: Error) => void;
}

/** Workers a machine can spare for zip hashing while the main thread extracts. */
export function defaultZipWorkers(): number {
  const cpus =
    typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, cpus - 1));
}

/**
 * A few worker threads that compute HashZip, so inflating zips overlaps the
 * extraction's own work. With `size` 0 it hashes on the calling thread.
 * Buffers are transferred when they own their memory, copied otherwise.
 */
export class ZipHashPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly running = new Map<Worker, Job>();
  private nextId = 0;
  private closed = false;

  constructor(readonly size: number = defaultZipWorkers()) {
    const source = size > 0 ? workerSource() : '';
    for (let i = 0; i < size; i++) {
      const w = new Worker(source, { eval: true });
      w.on('message', (m: { id: number; h1?: string; error?: string }) => this.done(w, m));
      w.on('error', (e) => this.crashed(w, e));
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  /**
   * Hashes a zip. With `transfer` the buffer's memory moves to the worker (no
   * copy) when the view covers all of it; the caller must not use it again.
   * Never transfer a view into memory someone else still reads (stream chunks).
   */
  hash(buf: Uint8Array, transfer = false): Promise<string> {
    if (this.closed) return Promise.reject(new Error('ZipHashPool is closed'));
    if (this.size === 0) {
      try {
        return Promise.resolve(hashZipBuffer(buf));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, buf, transfer, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.running.set(w, job);
      const owns =
        job.transfer &&
        job.buf.byteOffset === 0 &&
        job.buf.byteLength === job.buf.buffer.byteLength;
      // A copy of its own (Buffer#slice would share memory, and transferring it would detach the owner's).
      const buf = owns ? job.buf : new Uint8Array(job.buf);
      w.postMessage({ id: job.id, buf }, [buf.buffer as ArrayBuffer]);
    }
  }

  private done(w: Worker, m: { id: number; h1?: string; error?: string }): void {
    const job = this.running.get(w);
    this.running.delete(w);
    this.idle.push(w);
    if (job && job.id === m.id) {
      if (m.h1 !== undefined) job.resolve(m.h1);
      else job.reject(new Error(m.error ?? 'zip hashing failed'));
    }
    this.pump();
  }

  private crashed(w: Worker, e: Error): void {
    const job = this.running.get(w);
    this.running.delete(w);
    job?.reject(e);
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    if (this.workers.length === 0) {
      for (const j of this.queue.splice(0)) j.reject(e);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.queue.splice(0)) j.reject(new Error('ZipHashPool closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
