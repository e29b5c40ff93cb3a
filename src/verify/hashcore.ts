/**
 * The synchronous core of Go's module hashes (golang.org/x/mod/sumdb/dirhash)
 * and of writing extracted files, written once for two homes: the main thread
 * (src/verify/dirhash.ts) and the worker threads that write and hash while an
 * archive extracts or a cache is checked (src/verify/workers.ts).
 *
 * `hashCore` is self-contained on purpose: no imports, no references outside
 * its own body. The single-file ncc bundle has no separate worker file, so the
 * workers run this function's source text, given Node's modules as `deps`.
 * That is also why this file is over 500 lines: the strict zip reader, the
 * streaming inflater and the writers must all live inside that one function.
 */
import * as NodeCrypto from 'node:crypto';
import * as NodeFs from 'node:fs';
import * as NodePath from 'node:path';
import * as NodeZlib from 'node:zlib';

export interface HashCoreDeps {
  fs: typeof NodeFs;
  path: typeof NodePath;
  createHash: typeof NodeCrypto.createHash;
  /** crypto.hash, the one-shot digest (Node >= 21.7), when the runtime has it. */
  oneShot?: (algorithm: string, data: Uint8Array, encoding: 'hex') => string;
  zlib: typeof NodeZlib;
}

/** One line of Hash1's summary: a file's name (with its prefix) and its sha256 in hex. */
export interface FileDigest {
  name: string;
  sha256hex: string;
}

/**
 * Files for one worker to write, packed so that a message carries few objects:
 * names relative to `root` joined by NUL (no member name may hold one), for
 * each file `[length, mode, 0 write | 1 write and hash | 2 hash only]` in `meta`, and the files' bytes
 * one after another in `data`.
 */
export interface WriteBatch {
  root: string;
  names: string;
  meta: Uint32Array;
  data: ArrayBuffer;
}

/** What a write batch did: the sha256 of each item asked for ('' otherwise), up to the first failure. */
export interface WriteOutcome {
  digests: string[];
  failed?: { index: number; code?: string; message: string };
}

/**
 * One share of the work on a zip that arrived in an archive: the zip written
 * (by part 0, when it came in memory), the HashZip lines of the entries in
 * this part's range, and, with `tree`, those entries written into the
 * module's tree as Go's Unzip writes them. A large zip is split into parts by
 * the sizes its central directory announces, so that every worker takes a
 * share of it.
 */
export interface ZipPartJob {
  write?: { abs: string; mode: number };
  tree?: TreeTarget;
  part: number;
  parts: number;
  /**
   * Entries announcing more bytes than this (compressed or not) are inflated
   * as a stream, in pieces, never whole in memory. STREAMED_ENTRY by default;
   * tests lower it to read small zips the streaming way.
   */
  streamAbove?: number;
}

/**
 * The most a module zip may hold (golang.org/x/mod/zip's MaxZipFile, which
 * bounds both the zip file and its files' total uncompressed size).
 */
export const MAX_MODULE_ZIP = 500 << 20;

/** Zip entries above this size are inflated and hashed as a stream (see ZipPartJob.streamAbove). */
export const STREAMED_ENTRY = 8 << 20;

/** What one part did. */
export interface ZipPartOutcome {
  /** The names this part covered, in the zip's order, with the sha256 of each one's content. */
  names: string[];
  digests: string[];
  /** The tree's Hash1 lines for the files this part wrote, their bytes, the directories it made. */
  files: FileDigest[];
  bytes: number;
  dirs: string[];
  zipError?: string;
  /**
   * Why the tree could not be written (a name Go would refuse, a collision, a
   * damaged entry); the part then stops, with zipError set as well.
   */
  treeError?: string;
  /** The file system failed (ENOSPC...), not the zip. */
  writeFailed?: { code?: string; message: string };
}

/** A zip's parts put together: its HashZip and, when it was unpacked, its tree's HashDir. */
export interface ZipResult {
  h1?: string;
  zipError?: string;
  tree?: RebuiltTree;
  treeError?: string;
}

/** A tree written from its zip, as Go's Unzip writes it. */
export interface RebuiltTree {
  h1: string;
  files: number;
  bytes: number;
  /** Directories made inside the tree (absolute), to be made read-only once it is complete. */
  dirs: string[];
}

/** Where to rebuild a module's tree from its zip: an empty directory, and `<path>@<version>` (unescaped). */
export interface TreeTarget {
  dir: string;
  prefix: string;
}

/** A module's tree and zip hashed together: each side's hash, or why that side could not be hashed. */
export interface ModuleHashes {
  tree?: { h1: string; files: number };
  treeError?: string;
  zipH1?: string;
  zipError?: string;
}

export function hashCore(d: HashCoreDeps) {
  const { fs, path, createHash, zlib, oneShot } = d;

  /**
   * Inflates one zip entry into a buffer sized from the length its header
   * announces (one byte more, so that a well-formed entry takes a single zlib
   * call instead of one per 16 KiB), and no output beyond that length.
   */
  const inflate = (raw: Uint8Array, size: number): Uint8Array =>
    zlib.inflateRawSync(raw, {
      chunkSize: Math.min(Math.max(size + 1, 64), 64 << 20),
      maxOutputLength: size + 1,
    });

  /**
   * The most a module zip may hold (MAX_MODULE_ZIP, repeated: this body may
   * not refer outside itself): an entry announcing more is refused before
   * anything is inflated, so a zip bomb costs no memory.
   */
  const MAX_UNCOMPRESSED = 500 << 20;
  /** STREAMED_ENTRY, repeated for the same reason. */
  const STREAM_ABOVE = 8 << 20;
  /** Compressed bytes read at a time from a streamed entry; inflated output comes in pieces of the same size. */
  const PIECE = 1 << 20;

  const sha256hex = oneShot
    ? (data: Uint8Array): string => oneShot('sha256', data, 'hex')
    : (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

  /**
   * Go's Hash1: sha256 over the lines `<hex sha256>  <name>\n` sorted by name,
   * names compared as UTF-8 bytes as Go does (JavaScript's `<` compares UTF-16
   * code units, which orders characters above U+FFFF differently).
   */
  const hash1 = (files: readonly FileDigest[]): string => {
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
  };

  /** CRC-32 as zip stores it (zlib.crc32 where the runtime has it: Node >= 20.15). */
  const crcTable: Uint32Array | undefined =
    typeof zlib.crc32 === 'function'
      ? undefined
      : Uint32Array.from({ length: 256 }, (_, n) => {
          let c = n;
          for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
          return c >>> 0;
        });
  /** The CRC-32 of data, continuing from `prev` (the CRC of the bytes before it). */
  const crc32 = (data: Uint8Array, prev = 0): number => {
    if (crcTable === undefined) return zlib.crc32(data, prev) >>> 0;
    let c = (prev ^ 0xffffffff) >>> 0;
    for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };

  /**
   * Where a zip's bytes are read from: memory, or a file read piece by piece
   * with positioned reads (a zip spooled to disk is never read whole).
   */
  interface ZipSource {
    size: number;
    read(pos: number, length: number): Uint8Array;
  }

  const bufferSource = (buf: Uint8Array): ZipSource => ({
    size: buf.length,
    read: (pos, length) => buf.subarray(pos, pos + length),
  });

  const fileSource = (fd: number, size: number): ZipSource => ({
    size,
    read: (pos, length) => {
      const b = Buffer.allocUnsafe(length);
      let n = 0;
      while (n < length) {
        const r = fs.readSync(fd, b, n, length - n, pos + n);
        if (r === 0) throw new Error('zip: the file is shorter than it was');
        n += r;
      }
      return b;
    },
  });

  /** Little-endian reads from bytes that sit at offset `base` of the zip. */
  const fieldsAt = (b: Uint8Array, base: number) => {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return {
      u16: (o: number) => dv.getUint16(o - base, true),
      u32: (o: number) => dv.getUint32(o - base, true),
      u64: (o: number) => Number(dv.getBigUint64(o - base, true)),
    };
  };

  /**
   * A zip's central directory, read for Go's HashZip: every entry's name in
   * directory order, and `content(name)` that inflates (or, stored, returns)
   * the last entry carrying that name, as Go's HashZip reads it; `stream`
   * does the same in pieces, for entries too large to hold.
   *
   * Strict where Go's archive/zip is lenient, so that no zip can read one way
   * here and another way to Go (a hash that matches go.sum here while Go
   * unpacks other files): one end record ending the file, a central directory
   * that fills exactly the space up to it (Go reads headers until a bad one and
   * checks the count only modulo 65536), zip64 only where Go would read it and
   * on one disk, names that are valid UTF-8 kept byte for byte (no BOM
   * dropped), extra fields inside their entry, and every entry's CRC-32. Any
   * other zip is refused: its module is bad, and repair has Go fetch it again.
   *
   * Refused as well, before anything is inflated, what Go's modfetch refuses
   * or Go's zip writer never writes and a bomb needs: two entries of one name
   * (golang.org/x/mod/zip's CheckZip), entries whose local headers and data
   * overlap (Go writes each entry after the previous one's data, the central
   * directory after the last), a zip larger than MaxZipFile, and entries
   * announcing more than MaxZipFile bytes together. Each entry is then
   * inflated at most once per reading, to at most the size it announces.
   * The source is read only where these need it: the end records, the
   * central directory, and each entry's header and data.
   */
  const zipIndex = (src: ZipSource) => {
    const fail = (why: string): never => {
      throw new Error(`zip: ${why}`);
    };
    const size = src.size;
    if (size > MAX_UNCOMPRESSED)
      fail(`the zip is ${size} bytes, more than a module zip may be (${MAX_UNCOMPRESSED})`);
    // The end record (with its comment) and the zip64 locator and record before it.
    const tailStart = Math.max(0, size - (22 + 0xffff + 20 + 56));
    const { u16, u32, u64 } = fieldsAt(src.read(tailStart, size - tailStart), tailStart);
    let eocd = -1;
    for (let i = size - 22; i >= tailStart && i >= size - 22 - 0xffff; i--) {
      if (u32(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) fail('no end of central directory record (not a zip file)');
    if (eocd + 22 + u16(eocd + 20) !== size)
      fail('the end of central directory record does not end the file');
    if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0 || u16(eocd + 8) !== u16(eocd + 10))
      fail('a zip spanning several disks');
    let count = u16(eocd + 10);
    let cdSize = u32(eocd + 12);
    let cdOffset = u32(eocd + 16);
    /** Where the central directory must end: the (zip64) end record. */
    let cdEnd = eocd;
    // Go's readDirectoryEnd looks for zip64 on exactly these values.
    const zip64 = count === 0xffff || cdSize === 0xffff || cdOffset === 0xffffffff;
    const locator = eocd - 20;
    if (zip64 && locator >= 0 && u32(locator) === 0x07064b50) {
      if (u32(locator + 4) !== 0 || u32(locator + 16) !== 1) fail('a zip64 spanning several disks');
      const z64 = u64(locator + 8);
      if (z64 + 56 !== locator || u32(z64) !== 0x06064b50 || u64(z64 + 4) !== 44)
        fail('bad zip64 end record');
      if (u32(z64 + 16) !== 0 || u32(z64 + 20) !== 0 || u64(z64 + 24) !== u64(z64 + 32))
        fail('a zip64 spanning several disks');
      count = u64(z64 + 32);
      cdSize = u64(z64 + 40);
      cdOffset = u64(z64 + 48);
      cdEnd = z64;
    }
    if (cdOffset + cdSize !== cdEnd)
      fail('the central directory does not end where the end record begins');
    const cd = src.read(cdOffset, cdSize);
    const c = fieldsAt(cd, cdOffset);
    const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    interface Entry {
      method: number;
      csize: number;
      usize: number;
      local: number;
      crc: number;
      /** Where the entry's data starts, after its local header. */
      start: number;
    }
    const names: string[] = [];
    /** The uncompressed size each entry announces, in directory order. */
    const sizes: number[] = [];
    const entries = new Map<string, Entry>();
    /** The uncompressed bytes announced so far. */
    let declared = 0;
    let p = cdOffset;
    for (let n = 0; n < count; n++) {
      if (p + 46 > cdEnd || c.u32(p) !== 0x02014b50) fail(`bad central directory entry ${n}`);
      const method = c.u16(p + 10);
      const crc = c.u32(p + 16);
      let csize = c.u32(p + 20);
      let usize = c.u32(p + 24);
      const nameLen = c.u16(p + 28);
      const extraLen = c.u16(p + 30);
      const commentLen = c.u16(p + 32);
      let local = c.u32(p + 42);
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      if (extraEnd + commentLen > cdEnd) fail(`central directory entry ${n} runs past its end`);
      let name = '';
      try {
        name = decoder.decode(cd.subarray(p - cdOffset + 46, p - cdOffset + 46 + nameLen));
      } catch {
        fail(`central directory entry ${n} has a name that is not UTF-8`);
      }
      let zip64Extra = false;
      while (e < extraEnd) {
        if (e + 4 > extraEnd) fail(`entry ${name} has a truncated extra field`);
        const id = c.u16(e);
        const size = c.u16(e + 2);
        const end = e + 4 + size;
        if (end > extraEnd) fail(`entry ${name} has an extra field running past its entry`);
        if (id === 0x0001) {
          if (zip64Extra) fail(`entry ${name} has two zip64 extra fields`);
          zip64Extra = true;
          let q = e + 4;
          const take = (): number => {
            if (q + 8 > end) fail(`entry ${name} has a short zip64 extra field`);
            q += 8;
            return c.u64(q - 8);
          };
          if (usize === 0xffffffff) usize = take();
          if (csize === 0xffffffff) csize = take();
          if (local === 0xffffffff) local = take();
        }
        e = end;
      }
      if (usize === 0xffffffff || csize === 0xffffffff || local === 0xffffffff)
        fail(`entry ${name} has zip64 sizes without a zip64 extra field`);
      p = extraEnd + commentLen;
      if (entries.has(name))
        fail(`two entries are named ${name} (Go refuses a module zip with duplicate names)`);
      if (usize > MAX_UNCOMPRESSED)
        fail(`entry ${name} announces ${usize} bytes, more than a module zip may hold`);
      if (method !== 0 && method !== 8)
        fail(`entry ${name} uses unsupported compression method ${method}`);
      declared += usize;
      if (declared > MAX_UNCOMPRESSED)
        fail(
          `the entries announce more than ${MAX_UNCOMPRESSED} bytes together, more than a module zip may hold`,
        );
      names.push(name);
      sizes.push(usize);
      entries.set(name, { method, csize, usize, local, crc, start: 0 });
    }
    if (p !== cdEnd) fail('the central directory holds more entries than the end record counts');
    // Every entry's local header and data, each in its own space before the
    // central directory: no header or byte of data shared by two entries.
    const byOffset = [...entries].sort((a, b) => a[1].local - b[1].local);
    let free = 0;
    for (const [name, entry] of byOffset) {
      const { local, csize } = entry;
      if (local < free) fail(`entry ${name} overlaps the entry before it`);
      if (local + 30 > cdOffset) fail(`bad local header for ${name}`);
      const h = fieldsAt(src.read(local, 30), local);
      if (h.u32(local) !== 0x04034b50) fail(`bad local header for ${name}`);
      entry.start = local + 30 + h.u16(local + 26) + h.u16(local + 28);
      free = entry.start + csize;
      if (free > cdOffset) fail(`entry ${name} runs into the central directory`);
    }
    /** The entry: its data's place and its limits checked when the directory was read. */
    const locate = (name: string): Entry => entries.get(name)!;
    const checked = (name: string, e: Entry, length: number, crc: number): void => {
      if (length !== e.usize) fail(`entry ${name} has ${length} bytes, header says ${e.usize}`);
      if (crc !== e.crc) fail(`entry ${name} does not match its CRC-32`);
    };
    const inflateFailed = (name: string, e: Entry, err: unknown): never =>
      fail(`entry ${name} does not inflate to its ${e.usize} bytes: ${(err as Error).message}`);
    const content = (name: string): Uint8Array => {
      const e = locate(name);
      const raw = src.read(e.start, e.csize);
      let data: Uint8Array = raw;
      if (e.method === 8) {
        try {
          data = inflate(raw, e.usize);
        } catch (err) {
          data = inflateFailed(name, e, err);
        }
      }
      checked(name, e, data.length, crc32(data));
      return data;
    };
    /**
     * The entry's content handed to `sink` in pieces of at most PIECE bytes
     * (inflated by a zlib stream fed PIECE compressed bytes at a time), with
     * the same checks as content: more output than announced stops it at once.
     */
    const stream = async (name: string, sink: (piece: Uint8Array) => void): Promise<void> => {
      const e = locate(name);
      const end = e.start + e.csize;
      let length = 0;
      let crc = 0;
      const take = (piece: Uint8Array): void => {
        length += piece.length;
        if (length > e.usize) fail(`entry ${name} has more bytes than its header's ${e.usize}`);
        crc = crc32(piece, crc);
        sink(piece);
      };
      if (e.method === 0) {
        for (let pos = e.start; pos < end; pos += PIECE)
          take(src.read(pos, Math.min(PIECE, end - pos)));
      } else {
        const inflater = zlib.createInflateRaw({ chunkSize: PIECE });
        await new Promise<void>((resolve, reject) => {
          let failed = false;
          const stop = (err: unknown): void => {
            if (failed) return;
            failed = true;
            inflater.destroy();
            reject(err);
          };
          inflater.on('data', (piece: Buffer) => {
            try {
              take(piece);
            } catch (err) {
              stop(err);
            }
          });
          inflater.on('error', (err) => {
            try {
              inflateFailed(name, e, err);
            } catch (described) {
              stop(described);
            }
          });
          inflater.on('end', () => resolve());
          let pos = e.start;
          const feed = (): void => {
            try {
              while (pos < end && !failed) {
                const piece = src.read(pos, Math.min(PIECE, end - pos));
                pos += piece.length;
                if (!inflater.write(piece)) {
                  inflater.once('drain', feed);
                  return;
                }
              }
              if (!failed) inflater.end();
            } catch (err) {
              stop(err);
            }
          };
          feed();
        });
      }
      checked(name, e, length, crc);
    };
    /** Does the entry announce more than `limit` bytes, compressed or not (so it is streamed)? */
    const large = (name: string, limit: number): boolean => {
      const e = entries.get(name)!;
      return e.usize > limit || e.csize > limit;
    };
    return { names, sizes, has: (name: string) => entries.has(name), content, stream, large };
  };

  /** Go's HashZip of a zip index, with digests already known for some names. */
  const zipH1 = (zip: ReturnType<typeof zipIndex>, known: Map<string, string>): string => {
    const digestOf = (name: string): string => {
      let d = known.get(name);
      if (d === undefined) {
        d = sha256hex(zip.content(name));
        known.set(name, d);
      }
      return d;
    };
    return hash1(zip.names.map((name) => ({ name, sha256hex: digestOf(name) })));
  };

  /** Go's HashZip over an in-memory zip. */
  const zipHash = (buf: Uint8Array): string => zipH1(zipIndex(bufferSource(buf)), new Map());

  const { O_RDONLY = 0, O_NOFOLLOW = 0, O_NONBLOCK = 0 } = fs.constants as Record<string, number>;

  /**
   * A regular file's bytes. O_NOFOLLOW and O_NONBLOCK: a symlink or fifo
   * (perhaps swapped in after listing) fails here instead of being followed
   * or blocking forever (both flags are 0 on Windows).
   */
  const openRegular = (file: string): { fd: number; size: number } => {
    let fd: number;
    try {
      fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ELOOP')
        throw new Error(`dirhash: ${file} is a symbolic link`, { cause: e });
      throw e;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new Error(`dirhash: ${file} is not a regular file`);
      return { fd, size: st.size };
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  };

  const readRegular = (file: string): Buffer => {
    const { fd, size } = openRegular(file);
    try {
      // The size fstat gave, in one read (readFileSync(fd) would fstat and read twice more).
      const buf = Buffer.allocUnsafe(size);
      let n = 0;
      while (n < buf.length) {
        const r = fs.readSync(fd, buf, n, buf.length - n, null);
        if (r === 0) break;
        n += r;
      }
      return n === buf.length ? buf : buf.subarray(0, n);
    } finally {
      fs.closeSync(fd);
    }
  };

  /**
   * The lines Go's HashDir(dir, prefix, Hash1) hashes for a tree on disk: each
   * file as `<prefix>/<relative path>` with its sha256. A symlink, device or
   * socket in the tree throws, naming it: Go's extraction never creates one
   * (Go's HashDir would follow a link and hash its target).
   */
  const treeDigests = (
    dir: string,
    prefix: string,
    digest: (name: string, data: Uint8Array) => string = (_name, data) => sha256hex(data),
  ): FileDigest[] => {
    const files: FileDigest[] = [];
    const visit = (rel: string): void => {
      const here = rel === '' ? dir : path.join(dir, rel);
      for (const e of fs.readdirSync(here, { withFileTypes: true })) {
        const child = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) visit(child);
        else if (e.isFile()) {
          const name = `${prefix}/${child}`;
          files.push({ name, sha256hex: digest(name, readRegular(path.join(dir, child))) });
        } else
          throw new Error(
            `dirhash: ${path.join(dir, child)} is ${e.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}: Go's extraction never creates one, so the tree was changed`,
          );
      }
    };
    visit('');
    return files;
  };

  /** Go's HashDir of a tree on disk, with the number of files it covers. */
  const treeHash = (dir: string, prefix: string): { h1: string; files: number } => {
    const files = treeDigests(dir, prefix);
    return { h1: hash1(files), files: files.length };
  };

  /**
   * HashDir of a module's tree and HashZip of its zip in one pass: each zip
   * entry is inflated and compared byte for byte with the tree file of the
   * same name, and when the two are equal one sha256 serves both (equal bytes,
   * equal digest). Anything that differs or exists on one side only is hashed
   * on its own, so both results are exactly what treeHash and zipFileHash give.
   */
  const moduleHash = (dir: string, prefix: string, zipFile: string): ModuleHashes => {
    const out: ModuleHashes = {};
    const message = (e: unknown) => errInfo(e).message;
    let zip: ReturnType<typeof zipIndex> | undefined;
    try {
      zip = zipIndex(bufferSource(readRegular(zipFile)));
    } catch (e) {
      out.zipError = message(e);
    }
    const zipDigests = new Map<string, string>();
    const digest = (name: string, data: Uint8Array): string => {
      const d = sha256hex(data);
      if (zip === undefined || out.zipError !== undefined || !zip.has(name)) return d;
      if (zipDigests.has(name)) return d;
      let z: Uint8Array;
      try {
        z = zip.content(name);
      } catch (e) {
        out.zipError = message(e);
        return d;
      }
      const same = z.length === data.length && Buffer.compare(z, data) === 0;
      zipDigests.set(name, same ? d : sha256hex(z));
      return d;
    };
    try {
      const files = treeDigests(dir, prefix, digest);
      out.tree = { h1: hash1(files), files: files.length };
    } catch (e) {
      out.treeError = message(e);
    }
    if (zip !== undefined && out.zipError === undefined) {
      try {
        out.zipH1 = zipH1(zip, zipDigests);
      } catch (e) {
        out.zipError = message(e);
      }
    }
    return out;
  };

  const errInfo = (e: unknown): { code?: string; message: string } => {
    const err = e as NodeJS.ErrnoException;
    return { code: err?.code, message: err?.message ?? String(e) };
  };

  /** A batch item's third field: 0 write it, 1 write and hash it, 2 hash it without writing it. */
  const HASH_ONLY = 2;

  /** Creates each file exclusively ('wx': never over an existing path or through a link). */
  const writeFiles = (batch: WriteBatch): WriteOutcome => {
    const bytes = new Uint8Array(batch.data);
    const names = batch.names.split('\0');
    const digests: string[] = [];
    let offset = 0;
    for (let i = 0; i < names.length; i++) {
      const length = batch.meta[3 * i]!;
      const view = bytes.subarray(offset, offset + length);
      offset += length;
      const hash = batch.meta[3 * i + 2]!;
      try {
        if (hash !== HASH_ONLY)
          fs.writeFileSync(path.join(batch.root, names[i]!), view, {
            flag: 'wx',
            mode: batch.meta[3 * i + 1]!,
          });
      } catch (e) {
        // Object.assign, not a spread: this text runs as is in the workers, with no helpers.
        return { digests, failed: Object.assign({ index: i }, errInfo(e)) };
      }
      digests.push(hash ? sha256hex(view) : '');
    }
    return { digests };
  };

  /** Windows reserves these names (before any dot) in every directory; Go's module.CheckFilePath refuses them. */
  const WINDOWS_RESERVED = new Set(
    'con prn aux nul com1 com2 com3 com4 com5 com6 com7 com8 com9 com\u00b9 com\u00b2 com\u00b3 lpt1 lpt2 lpt3 lpt4 lpt5 lpt6 lpt7 lpt8 lpt9 lpt\u00b9 lpt\u00b2 lpt\u00b3'.split(
      ' ',
    ),
  );

  /**
   * Why a file name inside a module zip may not be written into its tree, or
   * '' when it may. A subset of Go's module.CheckFilePath (Go refuses all of
   * these, so no zip Go accepts is refused here): no empty, all-dot or
   * dot-ended element, no separator, drive, shell or control character, no
   * name Windows reserves.
   */
  const badInnerName = (inner: string, okDirs?: Set<string>): string => {
    const slash = inner.lastIndexOf('/');
    if (okDirs === undefined || slash < 0) return badElements(inner);
    // A module's files share their directories: each is checked once per zip part.
    const dir = inner.slice(0, slash);
    if (!okDirs.has(dir)) {
      const why = badElements(dir);
      if (why !== '') return why;
      okDirs.add(dir);
    }
    return badElements(inner.slice(slash + 1));
  };

  const badElements = (names: string): string => {
    for (const elem of names.split('/')) {
      if (elem === '') return 'an empty path element';
      if (/^\.+$/.test(elem)) return `the path element ${JSON.stringify(elem)}`;
      if (elem.endsWith('.')) return 'a path element ending in a dot';
      // eslint-disable-next-line no-control-regex
      if (/[\x00-\x1f\x7f"'*<>?`|:\\]/.test(elem)) return 'a character Go refuses in file names';
      const short = elem.split('.')[0]!.toLowerCase();
      if (WINDOWS_RESERVED.has(short))
        return `the name ${JSON.stringify(short)}, reserved on Windows`;
    }
    return '';
  };

  /**
   * Makes a directory inside a tree being written from its zip. Another part
   * of the same zip may have made it already; nothing else writes in that tree,
   * so an existing directory (never a link: lstat) is that part's.
   */
  const makeTreeDir = (abs: string): boolean => {
    try {
      fs.mkdirSync(abs, { mode: 0o755 });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && fs.lstatSync(abs).isDirectory())
        return false;
      throw e;
    }
  };

  /** The index range [from, to) of part `part` of `parts`, balanced by announced size. */
  const partRange = (sizes: readonly number[], part: number, parts: number): [number, number] => {
    if (parts <= 1) return [0, sizes.length];
    let total = 0;
    for (const n of sizes) total += n;
    const bound = (k: number): number => {
      if (k >= parts) return sizes.length;
      const want = (total * k) / parts;
      let before = 0;
      for (let i = 0; i < sizes.length; i++) {
        if (before >= want) return i;
        before += sizes[i]!;
      }
      return sizes.length;
    };
    return [part === 0 ? 0 : bound(part), bound(part + 1)];
  };

  /** Writes all of `data` to an open file. */
  const writeAll = (fd: number, data: Uint8Array): void => {
    for (let n = 0; n < data.length;) n += fs.writeSync(fd, data, n, data.length - n);
  };

  /** A file system failure that means two zip entries collide (Go refuses such zips). */
  const collision = (code: string | undefined): boolean =>
    code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR';
  const collided = (name: string, code: string | undefined): string =>
    `zip entry ${JSON.stringify(name)} collides with another (${code})`;

  /**
   * One part of a zip's work (see ZipPartJob): every name in the range is
   * hashed; with a tree target, each file entry is also written the way Go's
   * Unzip writes it (under `<prefix>/`, directory entries skipped, files
   * 0444, never over anything), hashed from the bytes written. A name Go would
   * refuse or a collision stops the part at once (treeError, and zipError: a
   * zip Go will not unpack is of no use, and is not read further); a
   * failure of the file system itself is writeFailed. The zip comes in memory,
   * or as the path of a file it was spooled to (read with positioned reads);
   * entries above `streamAbove` are inflated, hashed and written in pieces.
   */
  const zipPart = async (
    zipData: Uint8Array | string,
    job: ZipPartJob,
  ): Promise<ZipPartOutcome> => {
    const out: ZipPartOutcome = { names: [], digests: [], files: [], bytes: 0, dirs: [] };
    if (job.write && typeof zipData !== 'string') {
      try {
        fs.writeFileSync(job.write.abs, zipData, { flag: 'wx', mode: job.write.mode });
      } catch (e) {
        out.writeFailed = errInfo(e);
        return out;
      }
    }
    let opened: { fd: number; size: number } | undefined;
    try {
      if (typeof zipData === 'string') opened = openRegular(zipData);
    } catch (e) {
      out.writeFailed = errInfo(e);
      return out;
    }
    try {
      const src = opened ? fileSource(opened.fd, opened.size) : bufferSource(zipData as Uint8Array);
      return await zipPartOf(src, job, out);
    } finally {
      if (opened) fs.closeSync(opened.fd);
    }
  };

  const zipPartOf = async (
    src: ZipSource,
    job: ZipPartJob,
    out: ZipPartOutcome,
  ): Promise<ZipPartOutcome> => {
    let zip: ReturnType<typeof zipIndex>;
    try {
      zip = zipIndex(src);
    } catch (e) {
      out.zipError = errInfo(e).message;
      if (job.tree) out.treeError = out.zipError;
      return out;
    }
    const tree = job.tree;
    const lead = tree ? tree.prefix + '/' : '';
    const made = new Set<string>(['']);
    const okDirs = new Set<string>();
    /** Makes the directories above a file of the tree (once each, this part's own recorded). */
    const makeParents = (dir: string, inner: string): void => {
      const slash = inner.lastIndexOf('/');
      const parent = slash < 0 ? '' : inner.slice(0, slash);
      if (made.has(parent)) return;
      const segs = parent.split('/');
      for (let k = 1; k <= segs.length; k++) {
        const rel = segs.slice(0, k).join('/');
        if (made.has(rel)) continue;
        const abs = path.join(dir, rel);
        if (makeTreeDir(abs)) out.dirs.push(abs);
        made.add(rel);
      }
    };
    const zipFailed = (e: unknown): ZipPartOutcome => {
      out.zipError = errInfo(e).message;
      if (tree && out.treeError === undefined) out.treeError = out.zipError;
      return out;
    };
    /**
     * A zip Go's Unzip refuses (a name it refuses, two entries colliding):
     * nothing more of it is read, and without all its entries it has no hash.
     */
    const treeRefused = (why: string): ZipPartOutcome => {
      out.treeError = why;
      out.zipError = `zip: not read further, Go refuses to unpack it: ${why}`;
      return out;
    };
    const limit = job.streamAbove ?? STREAM_ABOVE;
    const [from, to] = partRange(zip.sizes, job.part, job.parts);
    for (let i = from; i < to; i++) {
      const name = zip.names[i]!;
      // Where Go's Unzip writes this entry (undefined: it writes nothing),
      // or why it would not: known from the name, reported once it is read.
      let inner: string | undefined;
      if (tree) {
        if (!name.startsWith(lead))
          return treeRefused(`zip entry ${JSON.stringify(name)} is not under ${lead}`);
        const rest = name.slice(lead.length);
        // Go's Unzip skips directory entries (and the prefix's own).
        if (rest !== '' && !rest.endsWith('/')) {
          const why = badInnerName(rest, okDirs);
          if (why !== '') return treeRefused(`zip entry ${JSON.stringify(name)} holds ${why}`);
          inner = rest;
        }
      }
      let digest: string;
      let length: number;
      if (!zip.large(name, limit)) {
        let data: Uint8Array;
        try {
          data = zip.content(name);
        } catch (e) {
          return zipFailed(e);
        }
        digest = sha256hex(data);
        length = data.length;
        out.names.push(name);
        out.digests.push(digest);
        if (!tree || inner === undefined) continue;
        try {
          makeParents(tree.dir, inner);
          fs.writeFileSync(path.join(tree.dir, inner), data, { flag: 'wx', mode: 0o444 });
        } catch (e) {
          const info = errInfo(e);
          if (collision(info.code)) return treeRefused(collided(name, info.code));
          out.writeFailed = info;
          return out;
        }
      } else {
        // Too large to hold: the file is opened first and written as the pieces come.
        let fd: number | undefined;
        if (tree && inner !== undefined) {
          try {
            makeParents(tree.dir, inner);
            fd = fs.openSync(path.join(tree.dir, inner), 'wx', 0o444);
          } catch (e) {
            const info = errInfo(e);
            if (collision(info.code)) return treeRefused(collided(name, info.code));
            out.writeFailed = info;
            return out;
          }
        }
        const hash = createHash('sha256');
        let writeError: unknown;
        length = 0;
        try {
          await zip.stream(name, (piece) => {
            hash.update(piece);
            length += piece.length;
            if (fd === undefined || writeError !== undefined) return;
            try {
              writeAll(fd, piece);
            } catch (e) {
              writeError = e;
            }
          });
        } catch (e) {
          return zipFailed(e);
        } finally {
          if (fd !== undefined) fs.closeSync(fd);
        }
        if (writeError !== undefined) {
          out.writeFailed = errInfo(writeError);
          return out;
        }
        digest = hash.digest('hex');
        out.names.push(name);
        out.digests.push(digest);
        if (fd === undefined) continue;
      }
      out.files.push({ name, sha256hex: digest });
      out.bytes += length;
    }
    return out;
  };

  /** The parts of one zip put together (parts in order); writeFailed is the caller's to check. */
  const zipResult = (parts: readonly ZipPartOutcome[], tree: boolean): ZipResult => {
    const out: ZipResult = {};
    const zipError = parts.find((p) => p.zipError !== undefined)?.zipError;
    if (zipError !== undefined) out.zipError = zipError;
    else {
      const lines: FileDigest[] = [];
      for (const p of parts)
        p.names.forEach((name, i) => lines.push({ name, sha256hex: p.digests[i]! }));
      out.h1 = hash1(lines);
    }
    if (!tree) return out;
    const treeError = parts.find((p) => p.treeError !== undefined)?.treeError;
    if (treeError !== undefined) {
      out.treeError = treeError;
      return out;
    }
    const files = parts.flatMap((p) => p.files);
    out.tree = {
      h1: hash1(files),
      files: files.length,
      bytes: parts.reduce((n, p) => n + p.bytes, 0),
      dirs: parts.flatMap((p) => p.dirs),
    };
    return out;
  };

  return {
    sha256hex,
    hash1,
    zipHash,
    zipFileHash: (file: string): string => zipHash(readRegular(file)),
    treeDigests,
    treeHash,
    moduleHash,
    writeFiles,
    zipPart,
    zipResult,
  };
}

export type HashCore = ReturnType<typeof hashCore>;

/** The same functions on the calling thread. */
export const mainThreadCore: HashCore = hashCore({
  fs: NodeFs,
  path: NodePath,
  createHash: NodeCrypto.createHash,
  oneShot: (NodeCrypto as { hash?: HashCoreDeps['oneShot'] }).hash,
  zlib: NodeZlib,
});
