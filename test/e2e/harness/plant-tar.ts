/**
 * Writes tar archives byte by byte, for planting entries no honest tar would
 * write: any typeflag, names hidden in pax extended headers, GNU long-name
 * headers or the ustar prefix field, while the plain ustar name looks harmless.
 * Nothing here touches the disk.
 */
import { execFileSync } from 'node:child_process';

export interface TarMember {
  /** The ustar `name` field (at most 100 bytes). */
  name: string;
  /** The typeflag character: '0' file, '1' hard link, '2' symlink, '3'/'4' devices, '5' dir, '6' fifo, ... */
  type?: string;
  data?: string | Buffer;
  /** The ustar `linkname` field (at most 100 bytes). */
  linkname?: string;
  /** The ustar `prefix` field (at most 155 bytes): readers name the member `prefix/name`. */
  prefix?: string;
  /** Records of a pax extended header ('x') written just before this member. */
  pax?: Record<string, string>;
  /** A GNU long-name header ('L', `././@LongLink`) written just before this member. */
  gnuLongName?: string;
  /** A GNU long-link header ('K') written just before this member. */
  gnuLongLink?: string;
  mode?: number;
}

const BLOCK = 512;

function field(buf: Buffer, offset: number, length: number, value: string | Buffer): void {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (b.length > length) throw new Error(`tar field too long (${b.length} > ${length} bytes)`);
  b.copy(buf, offset);
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, '0');
}

interface HeaderFields {
  name: string;
  type: string;
  linkname?: string | undefined;
  prefix?: string | undefined;
  mode?: number | undefined;
}

/** One 512-byte ustar header with a correct checksum. */
function header(h: HeaderFields & { size: number }): Buffer {
  const buf = Buffer.alloc(BLOCK);
  field(buf, 0, 100, h.name);
  field(buf, 100, 8, octal(h.mode ?? 0o644, 8));
  field(buf, 108, 8, octal(0, 8));
  field(buf, 116, 8, octal(0, 8));
  field(buf, 124, 12, octal(h.size, 12));
  field(buf, 136, 12, octal(1_700_000_000, 12));
  field(buf, 148, 8, '        ');
  field(buf, 156, 1, h.type);
  field(buf, 157, 100, h.linkname ?? '');
  field(buf, 257, 6, 'ustar\0');
  field(buf, 263, 2, '00');
  field(buf, 265, 32, 'root');
  field(buf, 297, 32, 'root');
  field(buf, 329, 8, octal(0, 8));
  field(buf, 337, 8, octal(0, 8));
  field(buf, 345, 155, h.prefix ?? '');
  let sum = 0;
  for (const byte of buf) sum += byte;
  field(buf, 148, 8, `${octal(sum, 7)}\0 `);
  return buf;
}

function padded(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

/** `<len> <key>=<value>\n`, where len counts the whole record, its own digits included. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** A header and its data, padded to whole blocks. */
function entry(h: HeaderFields, data: Buffer): Buffer {
  return Buffer.concat([header({ ...h, size: data.length }), padded(data)]);
}

/** The members as an uncompressed tar, with the two zero blocks that end it. */
export function tarBuffer(members: TarMember[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    if (m.gnuLongName !== undefined)
      parts.push(
        entry({ name: '././@LongLink', type: 'L' }, Buffer.from(`${m.gnuLongName}\0`, 'utf8')),
      );
    if (m.gnuLongLink !== undefined)
      parts.push(
        entry({ name: '././@LongLink', type: 'K' }, Buffer.from(`${m.gnuLongLink}\0`, 'utf8')),
      );
    if (m.pax !== undefined) {
      const records = Object.entries(m.pax)
        .map(([k, v]) => paxRecord(k, v))
        .join('');
      parts.push(
        entry({ name: `PaxHeaders/${m.name}`.slice(0, 100), type: 'x' }, Buffer.from(records)),
      );
    }
    const type = m.type ?? '0';
    // Only regular files (and odd types that carry data, like sparse files) have a body.
    const data =
      m.data === undefined
        ? Buffer.alloc(0)
        : Buffer.isBuffer(m.data)
          ? m.data
          : Buffer.from(m.data);
    parts.push(
      entry({ name: m.name, type, linkname: m.linkname, prefix: m.prefix, mode: m.mode }, data),
    );
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/** The tar compressed with the system zstd, as @actions/cache compresses entries. */
export function zstdTar(members: TarMember[]): Buffer {
  return execFileSync('zstd', ['-q', '-c'], { input: tarBuffer(members) });
}

/**
 * The name a reader gives a member: the pax `path`, else the GNU long name,
 * else `prefix/name` (POSIX's rule, and tar-stream's and GNU tar's).
 */
export function effectiveName(m: TarMember): string {
  if (m.pax?.['path'] !== undefined) return m.pax['path'];
  if (m.gnuLongName !== undefined) return m.gnuLongName;
  return m.prefix ? `${m.prefix}/${m.name}` : m.name;
}

/** The link target a reader gives a member: the pax `linkpath`, else the GNU long link, else linkname. */
export function effectiveLink(m: TarMember): string {
  return m.pax?.['linkpath'] ?? m.gnuLongLink ?? m.linkname ?? '';
}
