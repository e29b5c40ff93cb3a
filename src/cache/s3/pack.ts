/**
 * A directory as a compressed tar stream, for the S3 save: what
 * src/restore/ extracts from any store. The members are `./`-relative paths
 * of the directory (as @actions/cache writes them with `.` as its path),
 * in POSIX (pax) format, compressed with zstd (Node's zlib on Node >= 22.15,
 * else the system `zstd`) or gzip when neither is there. Streamed: the
 * archive is never whole in memory or on disk.
 *
 * The stream ends only after tar and the compressor have both exited
 * cleanly; any failure destroys it with an Error instead, so an upload fed
 * from it fails (and is aborted) rather than storing a truncated archive.
 */
import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { compressionForSave } from '../service/index.js';
import type { Compression } from './naming.js';

type ZstdZlib = { createZstdCompress?: (o?: object) => NodeJS.ReadWriteStream };

/** The compression an S3 save uses on this runner (and so the entries its lookups read). */
export async function s3Compression(): Promise<Compression> {
  if (typeof (zlib as unknown as ZstdZlib).createZstdCompress === 'function') return 'zstd';
  return (await compressionForSave()) === 'zstd-without-long' ? 'zstd' : 'gzip';
}

export interface PackedStream {
  stream: Readable;
  /** Compressed bytes produced so far. */
  bytes(): number;
}

function tarArgs(dir: string): string[] {
  // GNU tar on Linux (as the hosted runners); bsdtar elsewhere.
  const format = process.platform === 'linux' ? ['--posix'] : ['--format=pax'];
  return [...format, '-cf', '-', '-C', dir, '.'];
}

export function packDirectory(dir: string, compression: Compression): PackedStream {
  const out = new PassThrough({ highWaterMark: 4 << 20 });
  let bytes = 0;
  let failed = false;
  const fail = (e: Error): void => {
    if (failed) return;
    failed = true;
    out.destroy(e);
  };
  const tar = spawn('tar', tarArgs(dir), { stdio: ['ignore', 'pipe', 'pipe'] });
  let tarErr = '';
  tar.stderr.on('data', (d: Buffer) => (tarErr += d.toString()));
  tar.on('error', (e) => fail(new Error(`tar could not start: ${e.message}`)));
  const tarExit = new Promise<void>((resolve) => {
    tar.on('close', (code, signal) => {
      if (code === 0) resolve();
      else
        fail(
          new Error(`tar failed (${signal ?? `exit ${code}`}): ${tarErr.trim() || 'no message'}`),
        );
    });
  });

  let compressed: Readable;
  let compressorExit: Promise<void>;
  const z = zlib as unknown as ZstdZlib;
  if (compression === 'gzip' || typeof z.createZstdCompress === 'function') {
    const c = (compression === 'gzip'
      ? zlib.createGzip({ level: 6 })
      : z.createZstdCompress!()) as unknown as zlib.Gzip;
    tar.stdout.pipe(c);
    c.on('error', (e) => fail(e));
    compressed = c;
    compressorExit = new Promise((resolve) => c.on('end', () => resolve()));
  } else {
    const child = spawn('zstd', ['-q', '-c', '-T0'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let zErr = '';
    child.stderr.on('data', (d: Buffer) => (zErr += d.toString()));
    child.on('error', (e) => fail(new Error(`zstd could not start: ${e.message}`)));
    child.stdin.on('error', () => undefined); // its exit code says why
    tar.stdout.pipe(child.stdin);
    compressed = child.stdout;
    compressorExit = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        if (code === 0) resolve();
        else
          fail(
            new Error(`zstd failed (${signal ?? `exit ${code}`}): ${zErr.trim() || 'no message'}`),
          );
      });
    });
  }
  compressed.on('data', (d: Buffer) => {
    bytes += d.length;
  });
  compressed.pipe(out, { end: false });
  const ended = new Promise<void>((resolve) => compressed.on('end', () => resolve()));
  void Promise.all([tarExit, compressorExit, ended]).then(() => {
    if (!failed) out.end();
  });
  // A consumer that gives up (an aborted upload) stops the producers.
  out.on('close', () => {
    if (tar.exitCode === null) tar.kill();
  });
  return { stream: out, bytes: () => bytes };
}
