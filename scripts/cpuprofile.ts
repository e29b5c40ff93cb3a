/**
 * Summarizes V8 .cpuprofile files (what `node --cpu-prof` writes: one file per
 * thread, the main thread's and each worker's) into self time by category
 * and the functions with the most self time. The bench profiles one warm hit's
 * pre with it ("where the rest goes").
 *
 * Categories come from the frame a sample landed in, or, for a native frame
 * without a script (a binding such as a zlib handle's `writeSync` or a Hash's
 * `update`), from its nearest caller that names one: node:zlib calls count as
 * inflate when an inflate function called them, else as zstd/zlib
 * decompression. Work Node runs on libuv's thread pool (the asynchronous zlib
 * streams, fs.promises) is in no thread's profile: a thread waiting for it
 * shows as idle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber?: number;
  scriptId?: string | number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
  hitCount?: number;
}

/** The .cpuprofile format (times in microseconds). */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export const CATEGORIES = [
  'zstd/zlib decompression',
  'inflate',
  'sha256/crypto',
  'crc32',
  'fs writes/syscalls',
  'tar parsing',
  'GC',
  'idle',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** tar-stream's header and extract functions, and our own tar member checks. */
const TAR_FUNCTIONS = new Set([
  'decodeOct',
  'decodeStr',
  'decodePax',
  'decodeLongPath',
  'parse256',
  'cksum',
  'toType',
  '_consumeHeader',
  '_consumeLongHeader',
  '_decodeLongHeader',
  '_applyLongHeaders',
  '_update',
  'memberPath',
  'confinedPath',
  'openTarStream',
]);

/** What one frame says about itself; 'zlib' is node:zlib's plumbing, decided by its callers. */
function frameCategory(f: CallFrame): Category | 'zlib' | undefined {
  const name = f.functionName;
  const url = f.url;
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'other';
  if (name === '(root)') return undefined;
  if (/crc32/i.test(name)) return 'crc32';
  if (/crypto/.test(url) || /sha256|createHash|digest/i.test(name)) return 'sha256/crypto';
  if (/inflate/i.test(name)) return 'inflate';
  if (/zstd|gunzip|decompress/i.test(name)) return 'zstd/zlib decompression';
  if (/^node:(internal\/)?zlib/.test(url)) return 'zlib';
  if (/^node:(internal\/)?fs(\/|$)/.test(url)) return 'fs writes/syscalls';
  if (TAR_FUNCTIONS.has(name)) return 'tar parsing';
  return undefined;
}

/** The category of a sample in `frame`, called by `callers` (nearest first). */
export function categorize(frame: CallFrame, callers: readonly CallFrame[] = []): Category {
  let zlib = false;
  for (const f of [frame, ...callers]) {
    const c = frameCategory(f);
    if (c === undefined) continue;
    if (c === 'zlib') {
      zlib = true;
      continue;
    }
    return zlib && c !== 'inflate' ? 'zstd/zlib decompression' : c;
  }
  return zlib ? 'zstd/zlib decompression' : 'other';
}

export interface FunctionTime {
  /** `name (file:line)`; the file is a builtin's `node:` URL, else the last part of the script's URL. */
  fn: string;
  selfMs: number;
  category: Category;
}

export interface ThreadSummary {
  thread: string;
  /** The profile's span (ms). */
  totalMs: number;
  byCategory: Record<Category, number>;
  /** Every function with self time, most first. */
  functions: FunctionTime[];
}

function where(f: CallFrame): string {
  if (f.functionName.startsWith('(')) return f.functionName;
  const file = f.url.startsWith('node:')
    ? f.url
    : f.url
      ? (f.url.split('/').pop() ?? f.url)
      : 'native';
  return `${f.functionName || '(anonymous)'} (${file}${f.url ? `:${f.lineNumber + 1}` : ''})`;
}

/**
 * Self time by category and by function of one thread's profile. A sample's
 * time is the delta to the next sample (the last one's is the profile's end).
 */
export function summarizeProfile(thread: string, p: CpuProfile): ThreadSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  const selfUs = new Map<number, number>();
  let t = p.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    const next = i + 1 < samples.length ? t + (deltas[i + 1] ?? 0) : Math.max(t, p.endTime);
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + (next - t));
  }
  const byCategory = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  const fns = new Map<string, FunctionTime>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || us <= 0) continue;
    const callers: CallFrame[] = [];
    for (let at = parent.get(id); at !== undefined; at = parent.get(at)) {
      callers.push(byId.get(at)!.callFrame);
    }
    const category = categorize(node.callFrame, callers);
    const ms = us / 1000;
    byCategory[category] += ms;
    const fn = where(node.callFrame);
    const f = fns.get(fn) ?? { fn, selfMs: 0, category };
    f.selfMs += ms;
    fns.set(fn, f);
  }
  return {
    thread,
    totalMs: (p.endTime - p.startTime) / 1000,
    byCategory,
    functions: [...fns.values()].sort((a, b) => b.selfMs - a.selfMs),
  };
}

const ms = (x: number): string => `${Math.round(x)}`;

/**
 * Markdown: one row per thread with its self time per category (ms), a total
 * row, and the `top` functions by self time over all threads (idle left out).
 */
export function summaryMarkdown(threads: readonly ThreadSummary[], top = 10): string {
  const total = (c: Category): number => threads.reduce((s, t) => s + t.byCategory[c], 0);
  const lines = [
    `| thread | span | ${CATEGORIES.join(' | ')} |`,
    `| --- | --- | ${CATEGORIES.map(() => '---').join(' | ')} |`,
    ...threads.map(
      (t) =>
        `| ${t.thread} | ${ms(t.totalMs)} | ${CATEGORIES.map((c) => ms(t.byCategory[c])).join(' | ')} |`,
    ),
    `| all threads | | ${CATEGORIES.map((c) => ms(total(c))).join(' | ')} |`,
    '',
    `Top ${top} functions by self time (ms, all threads, idle left out):`,
    '',
    '| function | self | category |',
    '| --- | --- | --- |',
  ];
  const merged = new Map<string, FunctionTime>();
  for (const t of threads) {
    for (const f of t.functions) {
      if (f.category === 'idle') continue;
      const m = merged.get(f.fn) ?? { ...f, selfMs: 0 };
      m.selfMs += f.selfMs;
      merged.set(f.fn, m);
    }
  }
  for (const f of [...merged.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top)) {
    lines.push(`| \`${f.fn.replace(/\|/g, '\\|')}\` | ${ms(f.selfMs)} | ${f.category} |`);
  }
  return lines.join('\n');
}

/**
 * The .cpuprofile files `node --cpu-prof` left in `dir`, summarized: named
 * `CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile`, thread 0 is the
 * main thread, the others its workers.
 */
export function summarizeDir(dir: string): ThreadSummary[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => ({ f, tid: Number(f.split('.').at(-3)) }))
    .sort((a, b) => a.tid - b.tid);
  return files.map(({ f, tid }) =>
    summarizeProfile(
      tid === 0 ? 'main thread' : `worker ${tid}`,
      JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as CpuProfile,
    ),
  );
}
