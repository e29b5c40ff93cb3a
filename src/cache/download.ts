/**
 * Streaming, segmented download of a cache archive.
 *
 * @actions/cache downloads the whole archive to a file before tar reads a
 * byte of it. Here the archive's bytes come out of a Readable in order while
 * later parts are still being fetched, so decompression and extraction can
 * run during the download.
 *
 * - A first ranged GET (`bytes=0-<segment-1>`) learns the size from
 *   Content-Range and is itself the first segment; no extra round trip.
 * - Further segments are fetched `concurrency` at a time, never more than
 *   `concurrency` segments ahead of the reader: memory stays at most
 *   `concurrency * segmentBytes`, and the network waits when the reader does.
 * - The segment at the head is passed through as its bytes arrive; when the
 *   reader is slow that response is paused (TCP backpressure), not buffered.
 * - A failed or stalled segment (5xx, 429, reset, early close, no data for
 *   `timeoutMs`) is asked again for the bytes it still lacks, up to `retries`
 *   times; then the stream fails with an Error naming the byte range. A 429 or
 *   503 with Retry-After (seconds or an HTTP date) waits that long, at most
 *   30 s. Every retry is logged.
 * - A segment has `segmentTimeoutMs` in all, its retries and waits included
 *   (SEGMENT_DOWNLOAD_TIMEOUT_MINS, 10 min by default, as in @actions/cache):
 *   a server that trickles bytes, each in time for the stall timer, still
 *   ends the download. Time the head segment is held back for a slow reader
 *   does not count.
 * - A server that ignores Range (200 to the first request) is read as one
 *   plain streaming GET; a retry fetches it again and skips what was passed on.
 */
import * as core from '@actions/core';
import type { ClientRequest, IncomingMessage } from 'node:http';
import * as http from 'node:http';
import * as https from 'node:https';
import { Readable } from 'node:stream';
import { describeDuration, retryAfterMs } from './service/http.js';

export interface DownloadOptions {
  /** Bytes per ranged request. Default: VGC_DOWNLOAD_SEGMENT_BYTES, else 16 MiB. */
  segmentBytes?: number;
  /** Ranged requests in flight (and segments buffered) at most. Default 4. */
  concurrency?: number;
  /** A request that sends no headers or no data for this long is retried. Default 30 s. */
  timeoutMs?: number;
  /** Retries per segment after its first attempt. Default 5. */
  retries?: number;
  /** First backoff between retries, doubled each time (capped at 8 s). Default 500 ms. */
  retryDelayMs?: number;
  /**
   * Time one segment may take, all its attempts and waits included; then the
   * download fails. Default: SEGMENT_DOWNLOAD_TIMEOUT_MINS, else 10 min.
   */
  segmentTimeoutMs?: number;
  /** Told of every retry, with a line for the log. Default: an info line in the job log. */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

// 16 MiB: four segments ahead of the reader hold 64 MiB. 32 MiB held 128 MiB
// and put the real workload's restore over its 600 MB bound (BENCHMARKS.md).
export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_CONCURRENCY = 4;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 5;
const DEFAULT_RETRY_DELAY_MS = 500;
const MAX_BACKOFF_MS = 8_000;
const MAX_RETRY_AFTER_MS = 30_000;
/** @actions/cache's default SEGMENT_DOWNLOAD_TIMEOUT_MINS. */
export const DEFAULT_SEGMENT_TIMEOUT_MS = 10 * 60 * 1000;

type Env = Record<string, string | undefined>;

/** A positive finite number from an environment variable, else undefined. */
function positiveNumber(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * VGC_DOWNLOAD_SEGMENT_BYTES: bytes per ranged request, for tests (several
 * segments from a small entry) and for tuning; unset or invalid means 16 MiB.
 */
export function segmentBytesFromEnv(env: Env = process.env): number {
  const n = positiveNumber(env['VGC_DOWNLOAD_SEGMENT_BYTES']);
  return n === undefined ? DEFAULT_SEGMENT_BYTES : Math.max(1, Math.floor(n));
}

/** SEGMENT_DOWNLOAD_TIMEOUT_MINS as @actions/cache reads it, in ms; 10 min when unset or invalid. */
export function segmentTimeoutFromEnv(env: Env = process.env): number {
  const minutes = positiveNumber(env['SEGMENT_DOWNLOAD_TIMEOUT_MINS']);
  if (minutes === undefined) return DEFAULT_SEGMENT_TIMEOUT_MS;
  // A timer cannot wait longer than 2^31-1 ms (Node fires a longer one at once):
  // a huge value, meant as "no limit", is the longest wait there is.
  return Math.min(minutes * 60 * 1000, MAX_TIMER_MS);
}

/** The longest delay setTimeout honours (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A countdown that can be paused: the time a segment may take, not counting
 * the time it is held back for a slow reader. `run` and `pause` may be called
 * any number of times; it fires at most once.
 */
class SegmentDeadline {
  private timer: NodeJS.Timeout | undefined;
  private leftMs: number;
  private since = 0;

  constructor(
    readonly totalMs: number,
    private readonly onExpire: () => void,
  ) {
    this.leftMs = totalMs;
  }

  run(): void {
    if (this.timer) return;
    this.since = Date.now();
    this.timer = setTimeout(this.onExpire, Math.max(0, this.leftMs));
  }

  pause(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.leftMs -= Date.now() - this.since;
  }

  /** Starts over with the whole time (a `whole` download, per segment's worth of bytes). */
  restart(): void {
    this.stop();
    this.leftMs = this.totalMs;
    this.run();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** A failed attempt; `retryable` says whether asking again can help. */
class AttemptFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly waitMs?: number,
  ) {
    super(message);
  }
}

interface Segment {
  index: number;
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive; undefined when a server without Range sends no length. */
  end: number | undefined;
  /** Bytes received so far (and queued or passed on). */
  received: number;
  /** Received bytes not yet passed to the reader. */
  chunks: Buffer[];
  done: boolean;
  /** The response being read, while one is. */
  res?: IncomingMessage;
  /** True while we hold `res` paused because the reader is full. */
  held: boolean;
  /** Re-arms the stall timer of the response being read. */
  touch?: () => void;
  /** Stops the stall timer while the response is held on purpose. */
  rest?: () => void;
  /** Attempts made for this segment so far. */
  attempts: number;
  /** The time left for this segment; set when it is first asked for. */
  deadline?: SegmentDeadline;
}

/** A Content-Range header `bytes a-b/total` (total may be `*`). */
export function parseContentRange(
  header: string | undefined,
): { start: number; end: number; total: number | undefined } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec((header ?? '').trim());
  if (!m) return undefined;
  return {
    start: Number(m[1]),
    end: Number(m[2]),
    total: m[3] === '*' ? undefined : Number(m[3]),
  };
}

/** The URL without its query (a signed URL's signature is a secret). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<invalid URL>';
  }
}

function rangeText(start: number, end: number | undefined): string {
  return `bytes ${start}-${end ?? ''}`;
}

/**
 * The wait a Retry-After header asks for, seconds or an HTTP date, capped at
 * 30 s; undefined without a usable header.
 */
export function retryAfterWaitMs(
  header: string | string[] | undefined,
  now = Date.now(),
): number | undefined {
  const ms = retryAfterMs(Array.isArray(header) ? header[0] : header, now);
  return ms === undefined ? undefined : Math.min(ms, MAX_RETRY_AFTER_MS);
}

function statusFailure(res: IncomingMessage): AttemptFailure {
  const status = res.statusCode ?? 0;
  res.resume();
  const waitMs = retryAfterWaitMs(res.headers['retry-after']);
  if (status === 429) return new AttemptFailure('HTTP 429 (rate limited)', true, waitMs);
  if (status === 503) return new AttemptFailure('HTTP 503', true, waitMs);
  if (status === 408 || status >= 500) return new AttemptFailure(`HTTP ${status}`, true);
  const hint =
    status === 403 || status === 401
      ? ' (the signed download URL may have expired: look the entry up again)'
      : status === 404 || status === 410
        ? ' (the entry is gone: it may have been evicted or deleted)'
        : '';
  return new AttemptFailure(`HTTP ${status}${hint}`, false);
}

function toAttemptFailure(e: unknown): AttemptFailure {
  if (e instanceof AttemptFailure) return e;
  const err = e as NodeJS.ErrnoException;
  return new AttemptFailure(
    err.code ? `${err.code} (${err.message})` : String(err.message ?? e),
    true,
  );
}

export class DownloadStream extends Readable {
  /** The archive size, once known. */
  sizeBytes: number | undefined;
  /** `ranged` once the server honoured Range, `whole` when it ignored it. */
  mode: 'ranged' | 'whole' | undefined;
  /** Retries spent over all segments. */
  retriesUsed = 0;

  private readonly segmentBytes: number;
  private readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly segmentTimeoutMs: number;
  private readonly log: (line: string) => void;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly live = new Set<ClientRequest>();
  private segments: Segment[] = [];
  private head = 0;
  private launched = 0;
  private readerWants = false;
  private started = false;
  private over = false;
  private pumping = false;
  private readonly onAbort = (): void => {
    this.destroy(new Error(`download of ${redactUrl(this.url)} aborted`));
  };

  constructor(
    private readonly url: string,
    private readonly options: DownloadOptions = {},
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.segmentBytes = Math.max(1, Math.floor(options.segmentBytes ?? segmentBytesFromEnv()));
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CONCURRENCY));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retries = Math.max(0, options.retries ?? DEFAULT_RETRIES);
    this.retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    this.segmentTimeoutMs = options.segmentTimeoutMs ?? segmentTimeoutFromEnv();
    this.log = options.log ?? ((line) => core.info(line));
    const https_ = new URL(url).protocol === 'https:';
    this.transport = https_ ? https : http;
    this.agent = new (https_ ? https.Agent : http.Agent)({
      keepAlive: true,
      maxSockets: this.concurrency + 1,
    });
    if (options.signal?.aborted) queueMicrotask(this.onAbort);
    else options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  override _read(): void {
    this.readerWants = true;
    if (!this.started) {
      this.started = true;
      void this.begin();
      return;
    }
    this.pump();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.over = true;
    this.options.signal?.removeEventListener('abort', this.onAbort);
    for (const seg of this.segments) seg.deadline?.stop();
    for (const req of this.live) req.destroy();
    this.live.clear();
    this.agent.destroy();
    callback(error);
  }

  /** Probes with the first segment's range and sets up the rest from the answer. */
  private async begin(): Promise<void> {
    const first = newSegment(0, 0, this.segmentBytes - 1);
    this.segments = [first];
    this.startClock(first);
    let failures = 0;
    for (;;) {
      try {
        first.attempts++;
        const res = await this.request(first.start, first.end);
        if (this.over) return void res.resume();
        const status = res.statusCode ?? 0;
        if (status === 206) return this.startRanged(first, res);
        if (status === 200) return this.startWhole(first, res);
        if (status === 416) return this.startEmpty(first, res);
        throw statusFailure(res);
      } catch (e) {
        if (this.over) return;
        const f = toAttemptFailure(e);
        if (!f.retryable || failures >= this.retries) return this.fail(first, f, first.attempts);
        failures++;
        await this.retryLater(first, failures, f);
      }
    }
  }

  /** Starts (or resumes) the segment's deadline; when it passes, the download fails. */
  private startClock(seg: Segment): void {
    seg.deadline ??= new SegmentDeadline(this.segmentTimeoutMs, () => {
      const failure = new AttemptFailure(
        `not finished within ${describeDuration(this.segmentTimeoutMs)} (SEGMENT_DOWNLOAD_TIMEOUT_MINS)`,
        false,
      );
      this.fail(seg, failure, seg.attempts);
    });
    seg.deadline.run();
  }

  private startRanged(first: Segment, res: IncomingMessage): void {
    const range = parseContentRange(res.headers['content-range'] as string | undefined);
    if (!range || range.start !== 0 || range.total === undefined) {
      res.resume();
      return this.fail(
        first,
        new AttemptFailure(
          `206 with an unusable Content-Range "${res.headers['content-range'] ?? ''}"`,
          false,
        ),
        1,
      );
    }
    this.mode = 'ranged';
    this.sizeBytes = range.total;
    // The server may send less (a short archive) or more than asked; trust what it says it sends.
    first.end = range.end;
    this.segments = [first];
    for (let start = range.end + 1; start < range.total; start += this.segmentBytes) {
      const end = Math.min(start + this.segmentBytes, range.total) - 1;
      this.segments.push(newSegment(this.segments.length, start, end));
    }
    this.launched = 1;
    void this.runSegment(first, res);
    this.launch();
  }

  /** A 200 to the probe: the whole archive in one response, read as the only segment. */
  private startWhole(only: Segment, res: IncomingMessage): void {
    this.mode = 'whole';
    const length = Number(res.headers['content-length']);
    const known = res.headers['content-length'] !== undefined && Number.isFinite(length);
    if (known) this.sizeBytes = length;
    only.end = known ? length - 1 : undefined;
    this.launched = 1;
    if (known && length === 0) {
      res.resume();
      only.done = true;
      only.deadline?.stop();
      return this.pump();
    }
    void this.runSegment(only, res);
  }

  /** 416 to `bytes=0-...`: an empty archive, if the server says its size is 0. */
  private startEmpty(first: Segment, res: IncomingMessage): void {
    first.deadline?.stop();
    res.resume();
    const total = /^bytes \*\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
    if (total && Number(total[1]) === 0) {
      this.mode = 'ranged';
      this.sizeBytes = 0;
      this.segments = [];
      this.push(null);
      return;
    }
    this.destroy(new Error(`download of ${redactUrl(this.url)} failed: HTTP 416 for bytes 0-`));
  }

  /** Starts segments while fewer than `concurrency` are ahead of the reader. */
  private launch(): void {
    while (this.launched < this.segments.length && this.launched < this.head + this.concurrency) {
      const seg = this.segments[this.launched++] as Segment;
      void this.runSegment(seg);
    }
  }

  /** Fetches one segment to its end, retrying for the bytes it still lacks. Never rejects. */
  private async runSegment(seg: Segment, initial?: IncomingMessage): Promise<void> {
    this.startClock(seg);
    let res = initial;
    let failures = 0;
    for (;;) {
      try {
        if (!res) {
          seg.attempts++;
          res = await this.reopen(seg);
        }
        await this.consume(seg, res);
        seg.done = true;
        seg.deadline?.stop();
        this.pump();
        return;
      } catch (e) {
        res = undefined;
        if (this.over) return;
        const f = toAttemptFailure(e);
        if (!f.retryable || failures >= this.retries) return this.fail(seg, f, seg.attempts);
        failures++;
        await this.retryLater(seg, failures, f);
        if (this.over) return;
      }
    }
  }

  /** Asks again for what `seg` still lacks. */
  private async reopen(seg: Segment): Promise<IncomingMessage> {
    if (this.mode === 'whole') {
      const res = await this.request(undefined, undefined);
      if (res.statusCode !== 200) throw statusFailure(res);
      return res;
    }
    const from = seg.start + seg.received;
    const res = await this.request(from, seg.end);
    if (res.statusCode !== 206) {
      if (res.statusCode === 200) {
        res.resume();
        throw new AttemptFailure('the server stopped honouring Range (HTTP 200)', false);
      }
      throw statusFailure(res);
    }
    const range = parseContentRange(res.headers['content-range'] as string | undefined);
    if (!range || range.start !== from || range.end !== seg.end || range.total !== this.sizeBytes) {
      res.resume();
      throw new AttemptFailure(
        `asked for ${rangeText(from, seg.end)}/${this.sizeBytes}, got Content-Range "${res.headers['content-range'] ?? ''}" (did the entry change?)`,
        false,
      );
    }
    return res;
  }

  /**
   * Reads a response body into `seg`. In `whole` mode a repeated GET starts
   * from byte 0, so the bytes already passed on are skipped.
   */
  private consume(seg: Segment, res: IncomingMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      let skip = this.mode === 'whole' ? seg.received : 0;
      const expected = seg.end === undefined ? undefined : seg.end - seg.start + 1;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const settle = (error?: AttemptFailure): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        seg.res = undefined;
        seg.held = false;
        seg.touch = undefined;
        seg.rest = undefined;
        if (error) {
          res.destroy();
          reject(error);
        } else resolve();
      };
      seg.touch = () => {
        clearTimeout(timer);
        timer = setTimeout(
          () => settle(new AttemptFailure(`no data for ${this.timeoutMs} ms`, true)),
          this.timeoutMs,
        );
      };
      seg.rest = () => clearTimeout(timer);
      seg.res = res;
      seg.touch();
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        seg.touch?.();
        if (skip > 0) {
          const dropped = Math.min(skip, chunk.length);
          skip -= dropped;
          chunk = chunk.subarray(dropped);
          if (chunk.length === 0) return;
        }
        if (expected !== undefined && seg.received + chunk.length > expected) {
          return settle(new AttemptFailure(`more bytes than the ${expected} announced`, false));
        }
        const before = seg.received;
        seg.received += chunk.length;
        seg.chunks.push(chunk);
        // Without ranges the one response is the whole archive: each segment's
        // worth of bytes gets the segment's time.
        if (this.mode === 'whole' && crossesSegment(before, seg.received, this.segmentBytes)) {
          seg.deadline?.restart();
        }
        this.pump();
      });
      res.on('end', () => {
        if (expected !== undefined && seg.received < expected) {
          return settle(
            new AttemptFailure(
              `connection closed after ${seg.received} of ${expected} bytes`,
              true,
            ),
          );
        }
        if (expected === undefined) {
          seg.end = seg.start + seg.received - 1;
          this.sizeBytes = seg.received;
        }
        settle();
      });
      res.on('error', (e) => settle(toAttemptFailure(e)));
      res.on('close', () => {
        if (!res.complete)
          settle(new AttemptFailure(`connection closed after ${seg.received} bytes`, true));
      });
      this.pump();
    });
  }

  /** Passes queued bytes to the reader in order, as far as it wants them; holds the head response when it does not. */
  private pump(): void {
    if (this.over || this.pumping) return;
    this.pumping = true;
    try {
      while (this.readerWants) {
        const seg = this.segments[this.head];
        if (!seg) break;
        const chunk = seg.chunks.shift();
        if (chunk) {
          this.readerWants = this.push(chunk);
          continue;
        }
        if (!seg.done) break;
        this.head++;
        if (this.head >= this.segments.length) {
          this.over = true;
          this.push(null);
          return;
        }
        this.launch();
      }
    } finally {
      this.pumping = false;
    }
    this.holdOrRelease();
  }

  private holdOrRelease(): void {
    const seg = this.segments[this.head];
    if (!seg?.res) return;
    if (!this.readerWants && !seg.held) {
      seg.held = true;
      seg.rest?.();
      seg.deadline?.pause();
      seg.res.pause();
    } else if (this.readerWants && seg.held) {
      seg.held = false;
      seg.touch?.();
      seg.deadline?.run();
      seg.res.resume();
    }
  }

  private request(start: number | undefined, end: number | undefined): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { 'accept-encoding': 'identity' };
      if (start !== undefined) headers['range'] = `bytes=${start}-${end ?? ''}`;
      const req = this.transport.request(this.url, { headers, agent: this.agent });
      this.live.add(req);
      const timer = setTimeout(
        () => req.destroy(new AttemptFailure(`no response within ${this.timeoutMs} ms`, true)),
        this.timeoutMs,
      );
      req.on('response', (res) => {
        clearTimeout(timer);
        resolve(res);
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.on('close', () => {
        clearTimeout(timer);
        this.live.delete(req);
      });
      req.end();
    });
  }

  /** Logs the failed attempt of `seg` and waits its backoff (or the server's Retry-After). */
  private retryLater(seg: Segment, failures: number, f: AttemptFailure): Promise<void> {
    this.retriesUsed++;
    const ms = f.waitMs ?? Math.min(MAX_BACKOFF_MS, this.retryDelayMs * 2 ** (failures - 1));
    this.log(
      `Download of ${redactUrl(this.url)}, ${rangeText(seg.start + seg.received, seg.end)}: ` +
        `${f.message} (attempt ${seg.attempts} of ${this.retries + 1}); retrying in ${describeDuration(ms)}`,
    );
    return this.wait(ms);
  }

  /** Sleeps `ms`, or less if the stream is destroyed meanwhile. */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.off('close', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.once('close', done);
    });
  }

  private fail(seg: Segment, f: AttemptFailure, attempts: number): void {
    if (this.over) return;
    const at = rangeText(seg.start + seg.received, seg.end);
    this.destroy(
      new Error(
        `download of ${redactUrl(this.url)} failed at ${at}${this.sizeBytes === undefined ? '' : `/${this.sizeBytes}`}: ${f.message} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`,
      ),
    );
  }
}

function newSegment(index: number, start: number, end: number | undefined): Segment {
  return { index, start, end, received: 0, chunks: [], done: false, held: false, attempts: 0 };
}

/** Did the count of bytes pass a multiple of `segmentBytes` going from `before` to `after`? */
function crossesSegment(before: number, after: number, segmentBytes: number): boolean {
  return Math.floor(before / segmentBytes) < Math.floor(after / segmentBytes);
}

/**
 * The archive at `url` as a Readable of its bytes in order, fetched in
 * parallel ranges (see the file comment). The stream fails with an Error
 * when a part cannot be fetched; it never ends short without an error.
 */
export function downloadStream(url: string, options: DownloadOptions = {}): DownloadStream {
  return new DownloadStream(url, options);
}
