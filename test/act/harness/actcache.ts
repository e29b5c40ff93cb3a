/**
 * Reads and tampers with what act's built-in cache service (nektos/act
 * pkg/artifactcache) keeps on disk:
 * - `<dir>/bolt.db`: a bbolt database (via bolthold) whose records are the
 *   JSON `{"id","key","version","cacheSize","complete","usedAt","createdAt"}`;
 * - `<dir>/cache/<id % 255 as two hex digits>/<id>`: the archive itself, the
 *   exact bytes the client uploaded (tar + zstd, or tar + gzip).
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';

export interface ActCacheEntry {
  id: number;
  key: string;
  version: string;
  size: number;
  complete: boolean;
  usedAt: number;
  createdAt: number;
  /** The archive file; entries whose file is gone are not listed (act drops them on lookup). */
  file: string;
}

/** Where act stores the archive of entry `id`. */
export function archivePath(dir: string, id: number): string {
  return path.join(dir, 'cache', (id % 0xff).toString(16).padStart(2, '0'), String(id));
}

/**
 * Every entry the service holds. bbolt is copy-on-write, so freed pages may
 * still hold an older copy of a record (before `complete` or `usedAt`
 * changed); a record only ever moves forward, so the newest copy of each id
 * is the current one.
 */
export function listEntries(dir: string): ActCacheEntry[] {
  const db = path.join(dir, 'bolt.db');
  if (!existsSync(db)) return [];
  const text = readFileSync(db).toString('latin1');
  const byId = new Map<number, ActCacheEntry>();
  for (const m of text.matchAll(/\{"id":\d+,"key":"(?:[^"\\]|\\.)*"[^{}]*\}/g)) {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(m[0]) as Record<string, unknown>;
    } catch {
      continue;
    }
    const e: ActCacheEntry = {
      id: Number(rec['id']),
      key: String(rec['key']),
      version: String(rec['version']),
      size: Number(rec['cacheSize']),
      complete: rec['complete'] === true,
      usedAt: Number(rec['usedAt']),
      createdAt: Number(rec['createdAt']),
      file: archivePath(dir, Number(rec['id'])),
    };
    const seen = byId.get(e.id);
    if (!seen || newer(e, seen)) byId.set(e.id, e);
  }
  return [...byId.values()]
    .filter((e) => e.complete && existsSync(e.file))
    .sort((a, b) => a.id - b.id);
}

function newer(a: ActCacheEntry, b: ActCacheEntry): boolean {
  if (a.complete !== b.complete) return a.complete;
  return a.usedAt > b.usedAt;
}

function compressionFlag(file: string): string[] {
  const head = readFileSync(file).subarray(0, 4);
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    return ['--use-compress-program', 'zstd'];
  if (head[0] === 0x1f && head[1] === 0x8b) return ['-z'];
  throw new Error(`${file}: neither a zstd nor a gzip archive`);
}

/** Member names of an archive, in order. */
export function archiveMembers(file: string): string[] {
  return execFileSync('tar', [...compressionFlag(file), '-tf', file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  })
    .split('\n')
    .filter((l) => l !== '');
}

/** Content of the first member whose name ends with `/<memberSuffix>`, or undefined. */
export function readMember(file: string, memberSuffix: string): string | undefined {
  return readMemberBytes(file, memberSuffix)?.toString('utf8');
}

export function readMemberBytes(file: string, memberSuffix: string): Buffer | undefined {
  const name = archiveMembers(file).find(
    (m) => m === memberSuffix || m.endsWith(`/${memberSuffix}`),
  );
  if (name === undefined) return undefined;
  return execFileSync('tar', [...compressionFlag(file), '-P', '-xOf', file, name], {
    maxBuffer: 256 << 20,
  });
}

/** The text of one file inside a zip. */
export function zipFileText(zip: Buffer, name: string): string | undefined {
  const files = unzipSync(new Uint8Array(zip));
  return files[name] === undefined ? undefined : strFromU8(files[name]);
}

/** A zip with one file's content replaced (for corrupting a module zip inside an entry). */
export function withZipFile(name: string, content: string): (zip: Buffer) => Buffer {
  return (zip) => {
    const files = unzipSync(new Uint8Array(zip));
    if (files[name] === undefined) throw new Error(`the zip holds no ${name}`);
    files[name] = strToU8(content);
    return Buffer.from(zipSync(files));
  };
}

/**
 * Changes the content of one file inside a stored archive and packs it again
 * with the same member names and compression, as an attacker or a bad disk
 * would leave it. `memberSuffix` picks the member (for example
 * `example.com/m001@v1.0.0/m001.go`), whatever prefix the archive uses.
 */
export function corruptArchiveMember(
  file: string,
  memberSuffix: string,
  content: string | ((old: Buffer) => Buffer),
): string {
  const flag = compressionFlag(file);
  const members = archiveMembers(file);
  const target = members.find((m) => m === memberSuffix || m.endsWith(`/${memberSuffix}`));
  if (!target) throw new Error(`${file}: no member ends with ${memberSuffix}`);
  // Members may climb out with ../ (paths relative to the saving workspace):
  // extract under enough empty levels that they all stay in the scratch dir.
  const depth = Math.max(0, ...members.map((m) => /^(?:\.\.\/)*/.exec(m)![0].length / 3));
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'vgc-act-repack-'));
  // The tree lives below its own folder: the member list and the repacked
  // archive must not be written inside a directory tar is archiving (an
  // entry saved as `.` names that very directory; tar would see it change).
  const base = path.join(scratch, 'tree', ...Array.from({ length: depth }, (_, i) => `l${i}`));
  mkdirSync(base, { recursive: true });
  try {
    execFileSync('tar', [...flag, '-xf', file, '-P', '-C', base]);
    const onDisk = path.resolve(base, target);
    chmodSync(onDisk, 0o644);
    writeFileSync(onDisk, typeof content === 'string' ? content : content(readFileSync(onDisk)));
    const list = path.join(scratch, 'members.txt');
    writeFileSync(list, members.join('\n') + '\n');
    const out = path.join(scratch, 'repacked');
    execFileSync('tar', [
      ...flag,
      '--posix',
      '--no-recursion',
      '-P',
      '-cf',
      out,
      '-C',
      base,
      '--files-from',
      list,
    ]);
    writeFileSync(file, readFileSync(out));
  } finally {
    execFileSync('chmod', ['-R', 'u+w', scratch]);
    rmSync(scratch, { recursive: true, force: true });
  }
  return target;
}
