/**
 * Worker threads for the heavy part of restoring and checking a module cache:
 * writing extracted files and hashing them, inflating and hashing zips, hashing
 * whole trees on disk. Each job is synchronous inside its worker (no libuv
 * round trip per file), and the jobs of one extraction or one scan spread over
 * every core while the main thread decompresses and parses the archive.
 *
 * The workers run hashCore's source text (see src/verify/hashcore.ts); with
 * `size` 0 the same functions run on the calling thread.
 */
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  hashCore,
  mainThreadCore,
  type ModuleHashes,
  type WriteBatch,
  type WriteOutcome,
  type ZipPartJob,
  type ZipPartOutcome,
} from './hashcore.js';

/**
 * The worker's source: node built-ins only, so the single-file bundle needs no
 * extra file. `__name` stands in for the helper esbuild (tsx) inserts into
 * function bodies it compiles with keepNames.
 */
function workerSource(): string {
  return `
const { parentPort } = require('node:worker_threads');
const __name = (f) => f;
const hashCore = ${hashCore.toString()};
const core = hashCore({
  fs: require('node:fs'),
  path: require('node:path'),
  createHash: require('node:crypto').createHash,
  oneShot: require('node:crypto').hash,
  zlib: require('node:zlib'),
});
parentPort.on('message', async ({ id, op, args }) => {
  try {
    parentPort.postMessage({ id, value: await core[op](...args) });
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message ? e.message : e) });
  }
});
`;
}

type Op = 'zipHash' | 'zipFileHash' | 'treeHash' | 'moduleHash' | 'writeFiles' | 'zipPart';

interface Job {
  id: number;
  op: Op;
  args: unknown[];
  transfer: ArrayBuffer[];
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** As many workers as cores, at most four (the main thread's tar parsing shares the cores with them). */
export function defaultWorkers(): number {
  const cpus =
    typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, cpus));
}

/** Memory of its own for a view, so that it can move to a worker without detaching its owner. */
function owned(buf: Uint8Array, transfer: boolean): Uint8Array {
  const whole = buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength;
  return transfer && whole && !(buf.buffer instanceof SharedArrayBuffer)
    ? buf
    : new Uint8Array(buf);
}

export class HashWorkers {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly running = new Map<Worker, Job>();
  private nextId = 0;
  private closed = false;
  private lastCrash: Error | undefined;

  /**
   * `heapMb` caps each worker's JavaScript heap (V8's old generation), so
   * that what a worker lets go of is collected soon instead of piling up by
   * the hundred megabytes. A worker that needs more than its cap stops, and
   * its jobs fail.
   */
  constructor(
    readonly size: number = defaultWorkers(),
    heapMb?: number,
  ) {
    const source = size > 0 ? workerSource() : '';
    const resourceLimits = heapMb === undefined ? undefined : { maxOldGenerationSizeMb: heapMb };
    for (let i = 0; i < size; i++) {
      const w = new Worker(source, { eval: true, resourceLimits });
      w.on('message', (m: { id: number; value?: unknown; error?: string }) => this.done(w, m));
      w.on('error', (e) => this.crashed(w, e));
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  /**
   * HashZip of a zip in memory. With `transfer` the buffer's memory moves to
   * the worker when the view covers all of it; the caller must not use it again.
   */
  hashZip(buf: Uint8Array, transfer = false): Promise<string> {
    const b = owned(buf, transfer);
    return this.run('zipHash', [b], [b.buffer as ArrayBuffer]) as Promise<string>;
  }

  /** HashZip of a zip file, refusing anything that is not a regular file. */
  hashZipFile(file: string): Promise<string> {
    return this.run('zipFileHash', [file], []) as Promise<string>;
  }

  /** HashDir of a tree on disk; rejects naming a symlink or special file inside it. */
  hashTree(dir: string, prefix: string): Promise<{ h1: string; files: number }> {
    return this.run('treeHash', [dir, prefix], []) as Promise<{ h1: string; files: number }>;
  }

  /**
   * HashDir of a module's tree and HashZip of its zip in one job, sharing the
   * sha256 of every file the two hold byte for byte alike. Never rejects for
   * what it finds: each side reports its hash or its error.
   */
  hashModule(dir: string, prefix: string, zipFile: string): Promise<ModuleHashes> {
    return this.run('moduleHash', [dir, prefix, zipFile], []) as Promise<ModuleHashes>;
  }

  /** Writes a batch of files (its buffers move to the worker), hashing those asked for. */
  writeFiles(batch: WriteBatch): Promise<WriteOutcome> {
    return this.run(
      'writeFiles',
      [batch],
      [batch.data, batch.meta.buffer as ArrayBuffer],
    ) as Promise<WriteOutcome>;
  }

  /**
   * One part of the work on a zip (see ZipPartJob), in memory or in a file
   * (its path: the worker reads what it needs with positioned reads). A
   * buffer backed by a SharedArrayBuffer is shared with the worker (parts of
   * one zip run at once); any other must own its memory, which moves to the worker.
   */
  zipPart(buf: Uint8Array | string, job: ZipPartJob): Promise<ZipPartOutcome> {
    if (typeof buf === 'string')
      return this.run('zipPart', [buf, job], []) as Promise<ZipPartOutcome>;
    const shared = buf.buffer instanceof SharedArrayBuffer;
    const b = shared ? buf : owned(buf, true);
    return this.run(
      'zipPart',
      [b, job],
      shared ? [] : [b.buffer as ArrayBuffer],
    ) as Promise<ZipPartOutcome>;
  }

  private run(op: Op, args: unknown[], transfer: ArrayBuffer[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('HashWorkers is closed'));
    // Every worker crashed (out of memory, say): fail now rather than queue for nobody.
    if (this.size > 0 && this.workers.length === 0)
      return Promise.reject(this.lastCrash ?? new Error('every hashing worker has stopped'));
    if (this.size === 0) {
      try {
        const fn = mainThreadCore[op] as (...a: unknown[]) => unknown;
        return Promise.resolve(fn(...args));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, op, args, transfer, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.running.set(w, job);
      w.postMessage({ id: job.id, op: job.op, args: job.args }, job.transfer);
    }
  }

  private done(w: Worker, m: { id: number; value?: unknown; error?: string }): void {
    const job = this.running.get(w);
    this.running.delete(w);
    this.idle.push(w);
    if (job && job.id === m.id) {
      if (m.error === undefined) job.resolve(m.value);
      else job.reject(new Error(m.error));
    }
    this.pump();
  }

  private crashed(w: Worker, e: Error): void {
    this.lastCrash = e;
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
    for (const j of this.queue.splice(0)) j.reject(new Error('HashWorkers closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
