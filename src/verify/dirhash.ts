/**
 * Go's module hashes (golang.org/x/mod/sumdb/dirhash) on the main thread: the
 * `h1:` of a module tree on disk (HashDir, for the few trees main and post
 * look at) and of a module zip's content (HashZip), both from hashcore.ts;
 * plus careful reads of single files. Bulk work goes to the worker threads of
 * src/verify/workers.ts.
 */
import { promises as fs } from 'node:fs';
import { mainThreadCore, type FileDigest } from './hashcore.js';

export type { FileDigest };

/** Go's Hash1: sha256 over the lines `<hex sha256>  <name>\n` sorted by name (as UTF-8 bytes). */
export const hash1: (files: readonly FileDigest[]) => string = mainThreadCore.hash1;

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

/** A counting semaphore: bounds how many files are open at once when many are read in parallel. */
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

/**
 * Go's HashDir(dir, prefix, Hash1): every file under dir named
 * `<prefix>/<relative path>` with forward slashes; throws naming a symlink or
 * special file in the tree. Synchronous work behind a promise: main, post and
 * repair hash a few trees one at a time, with nothing else to run meanwhile
 * (bulk hashing goes to the workers).
 */
export async function hashDirOnDisk(dir: string, prefix: string): Promise<string> {
  return mainThreadCore.treeHash(dir, prefix).h1;
}

/** The lines HashDir hashes: each file under dir as `<prefix>/<rel>` with its sha256. */
export async function dirDigests(dir: string, prefix: string): Promise<FileDigest[]> {
  return mainThreadCore.treeDigests(dir, prefix);
}

/** Go's HashZip of a zip held in memory. Throws `zip: ...` for a damaged zip. */
export function hashZipBuffer(buf: Uint8Array): string {
  return mainThreadCore.zipHash(buf);
}
