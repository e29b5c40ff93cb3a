/**
 * Go's module hashes (golang.org/x/mod/sumdb/dirhash) on the main thread: the
 * `h1:` of a module tree on disk (HashDir, asynchronous, for the few trees
 * main and post look at) and of a module zip's content (HashZip). Bulk work
 * goes to the worker threads of src/verify/workers.ts.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { mainThreadCore, type FileDigest } from './hashcore.js';

export type { FileDigest };

/** Go's Hash1: sha256 over the lines `<hex sha256>  <name>\n` sorted by name (as UTF-8 bytes). */
export const hash1: (files: readonly FileDigest[]) => string = mainThreadCore.hash1;

const sha256hex: (data: Uint8Array) => string = mainThreadCore.sha256hex;

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

/** Go's HashZip of a zip held in memory. Throws `zip: ...` for a damaged zip. */
export function hashZipBuffer(buf: Uint8Array): string {
  return mainThreadCore.zipHash(buf);
}
