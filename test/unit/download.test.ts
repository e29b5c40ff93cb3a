/**
 * downloadStream against a real HTTP server on loopback: the bytes come out
 * whole and in order whatever the server does, and a server that cannot
 * deliver makes the stream fail (never hang, never end short).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_SEGMENT_BYTES,
  DEFAULT_SEGMENT_TIMEOUT_MS,
  downloadStream,
  parseContentRange,
  redactUrl,
  retryAfterWaitMs,
  segmentBytesFromEnv,
  segmentTimeoutFromEnv,
} from '../../src/cache/download.js';

interface Seen {
  range: string | undefined;
}

interface BlobServer {
  url: string;
  seen: Seen[];
  inFlight: () => number;
  maxInFlight: () => number;
  close: () => Promise<void>;
}

type Behaviour = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  n: number,
) => 'default' | 'handled';

const servers: BlobServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Serves `data` at /blob with Range support unless told otherwise; `behave` may take over a request. */
async function serveBlob(
  data: Buffer,
  opts: { ignoreRange?: boolean; behave?: Behaviour; delayMs?: number } = {},
): Promise<BlobServer> {
  const seen: Seen[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = http.createServer((req, res) => {
    const n = seen.length;
    seen.push({ range: req.headers.range });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    if (opts.behave?.(req, res, n) === 'handled') return;
    if (opts.delayMs) setTimeout(() => answer(req, res), opts.delayMs);
    else answer(req, res);
  });
  const answer = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m || opts.ignoreRange) {
      res.writeHead(200, { 'content-length': String(data.length) });
      res.end(data);
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : data.length - 1, data.length - 1);
    if (start >= data.length) {
      res.writeHead(416, { 'content-range': `bytes */${data.length}` });
      res.end();
      return;
    }
    res.writeHead(206, {
      'content-range': `bytes ${start}-${end}/${data.length}`,
      'content-length': String(end - start + 1),
    });
    res.end(data.subarray(start, end + 1));
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const s: BlobServer = {
    url: `http://127.0.0.1:${port}/blob?sig=secret`,
    seen,
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  servers.push(s);
  return s;
}

async function sha256Of(stream: Readable): Promise<{ hash: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { hash: h.digest('hex'), bytes };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Collects the retry lines a download would write to the job log. */
function logLines(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

/** Answers a range request with `data`'s bytes for it, a few at a time, one chunk every `everyMs`. */
function trickle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  data: Buffer,
  everyMs: number,
): void {
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  const start = Number(m?.[1]);
  const end = Math.min(Number(m?.[2]), data.length - 1);
  res.writeHead(206, {
    'content-range': `bytes ${start}-${end}/${data.length}`,
    'content-length': String(end - start + 1),
  });
  let at = start;
  const timer = setInterval(() => {
    const next = Math.min(at + 4 * KiB, end + 1);
    res.write(data.subarray(at, next));
    at = next;
    if (at > end) {
      clearInterval(timer);
      res.end();
    }
  }, everyMs);
  res.on('close', () => clearInterval(timer));
}
const KiB = 1024;
const MiB = 1024 * KiB;

describe('downloadStream', () => {
  it('delivers a few-MB blob intact and in order over parallel ranges', async () => {
    const data = randomBytes(5 * MiB + 123);
    const s = await serveBlob(data, { delayMs: 20 });
    const stream = downloadStream(s.url, { segmentBytes: 256 * KiB, concurrency: 4 });
    const got = await sha256Of(stream);
    expect(got).toEqual({ hash: sha(data), bytes: data.length });
    expect(stream.mode).toBe('ranged');
    expect(stream.sizeBytes).toBe(data.length);
    expect(s.seen.length).toBe(Math.ceil(data.length / (256 * KiB)));
    expect(s.seen.every((r) => r.range?.startsWith('bytes='))).toBe(true);
    expect(s.maxInFlight()).toBeGreaterThan(1);
    expect(s.maxInFlight()).toBeLessThanOrEqual(4);
  });

  it('falls back to one streaming GET when the server ignores Range', async () => {
    const data = randomBytes(3 * MiB);
    const s = await serveBlob(data, { ignoreRange: true });
    const stream = downloadStream(s.url, { segmentBytes: 256 * KiB });
    expect(await sha256Of(stream)).toEqual({ hash: sha(data), bytes: data.length });
    expect(stream.mode).toBe('whole');
    expect(s.seen.length).toBe(1);
  });

  it('retries a segment that fails once with 503 and still delivers every byte', async () => {
    const data = randomBytes(2 * MiB);
    let failed = false;
    const s = await serveBlob(data, {
      behave: (req, res) => {
        if (!failed && req.headers.range === `bytes=${MiB}-${MiB + 256 * KiB - 1}`) {
          failed = true;
          res.writeHead(503).end('busy');
          return 'handled';
        }
        return 'default';
      },
    });
    const { lines, log } = logLines();
    const stream = downloadStream(s.url, { segmentBytes: 256 * KiB, retryDelayMs: 10, log });
    expect(await sha256Of(stream)).toEqual({ hash: sha(data), bytes: data.length });
    expect(failed).toBe(true);
    expect(stream.retriesUsed).toBe(1);
    expect(lines).toEqual([
      `Download of ${redactUrl(s.url)}, bytes ${MiB}-${MiB + 256 * KiB - 1}: HTTP 503 (attempt 1 of 6); retrying in 10 ms`,
    ]);
  });

  it.each([
    // Seconds: exactly the server's wait.
    { form: 'seconds', header: () => '1', wait: /retrying in 1 s$/ },
    // Two seconds from now, to the second as HTTP dates go: a wait of 1-2 s,
    // not the 10 ms backoff.
    {
      form: 'an HTTP date',
      header: () => new Date(Date.now() + 2000).toUTCString(),
      wait: /retrying in (1(\.\d)?|2) s$/,
    },
  ])('honours Retry-After given as $form on 429 for a segment', async ({ header, wait }) => {
    const data = randomBytes(MiB);
    let limited = false;
    const s = await serveBlob(data, {
      behave: (req, res) => {
        if (!limited && req.headers.range?.startsWith(`bytes=${512 * KiB}-`)) {
          limited = true;
          res.writeHead(429, { 'retry-after': header() }).end();
          return 'handled';
        }
        return 'default';
      },
    });
    const { lines, log } = logLines();
    const stream = downloadStream(s.url, { segmentBytes: 256 * KiB, retryDelayMs: 10, log });
    expect(await sha256Of(stream)).toEqual({ hash: sha(data), bytes: data.length });
    expect(lines).toEqual([expect.stringMatching(new RegExp(`HTTP 429 .*${wait.source}`))]);
  });

  it('reads Retry-After as seconds or an HTTP date, capped at 30 s', () => {
    const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
    expect(retryAfterWaitMs('3', now)).toBe(3000);
    expect(retryAfterWaitMs('Wed, 21 Oct 2026 07:28:05 GMT', now)).toBe(5000);
    expect(retryAfterWaitMs('Wed, 21 Oct 2026 07:27:00 GMT', now)).toBe(0);
    expect(retryAfterWaitMs('120', now)).toBe(30_000);
    expect(retryAfterWaitMs('Thu, 22 Oct 2026 07:28:00 GMT', now)).toBe(30_000);
    expect(retryAfterWaitMs('soon', now)).toBeUndefined();
    expect(retryAfterWaitMs(undefined, now)).toBeUndefined();
  });

  it('fails a segment that trickles past its deadline, though each chunk beats the stall timer', async () => {
    const data = randomBytes(512 * KiB);
    const s = await serveBlob(data, {
      behave: (req, res, n) => {
        if (n === 0) return 'default';
        // 256 KiB in 4 KiB chunks every 20 ms: about 1.3 s, never 300 ms without data.
        trickle(req, res, data, 20);
        return 'handled';
      },
    });
    const stream = downloadStream(s.url, {
      segmentBytes: 256 * KiB,
      timeoutMs: 300,
      segmentTimeoutMs: 400,
      retryDelayMs: 10,
    });
    const err = await sha256Of(stream).catch((e: Error) => e);
    expect(String(err)).toMatch(
      /failed at bytes \d+-524287\/524288: not finished within 400 ms \(SEGMENT_DOWNLOAD_TIMEOUT_MINS\) \(after 1 attempt\)/,
    );
  });

  it('does not count the time a slow reader holds a segment back against its deadline', async () => {
    const data = randomBytes(8 * MiB);
    const s = await serveBlob(data);
    const stream = downloadStream(s.url, {
      segmentBytes: 4 * MiB,
      concurrency: 2,
      segmentTimeoutMs: 1000,
    });
    const first = await new Promise<Buffer>((r) => stream.once('data', (c: Buffer) => r(c)));
    // Reading nothing for twice the deadline: the head segment is held, not late.
    stream.pause();
    await new Promise((r) => setTimeout(r, 2000));
    const rest = await sha256Of(stream);
    expect(first.length + rest.bytes).toBe(data.length);
  });

  it('takes the segment size from VGC_DOWNLOAD_SEGMENT_BYTES and the deadline from SEGMENT_DOWNLOAD_TIMEOUT_MINS', async () => {
    expect(segmentBytesFromEnv({ VGC_DOWNLOAD_SEGMENT_BYTES: '4096' })).toBe(4096);
    expect(segmentBytesFromEnv({ VGC_DOWNLOAD_SEGMENT_BYTES: 'big' })).toBe(DEFAULT_SEGMENT_BYTES);
    expect(segmentBytesFromEnv({})).toBe(DEFAULT_SEGMENT_BYTES);
    expect(segmentTimeoutFromEnv({ SEGMENT_DOWNLOAD_TIMEOUT_MINS: '0.5' })).toBe(30_000);
    expect(segmentTimeoutFromEnv({ SEGMENT_DOWNLOAD_TIMEOUT_MINS: '-1' })).toBe(
      DEFAULT_SEGMENT_TIMEOUT_MS,
    );
    expect(segmentTimeoutFromEnv({})).toBe(10 * 60 * 1000);
    // A huge value ("no limit") is the longest timer Node keeps, not one that fires at once.
    expect(segmentTimeoutFromEnv({ SEGMENT_DOWNLOAD_TIMEOUT_MINS: '99999' })).toBe(2 ** 31 - 1);

    const data = randomBytes(10 * KiB);
    const s = await serveBlob(data);
    const saved = process.env['VGC_DOWNLOAD_SEGMENT_BYTES'];
    process.env['VGC_DOWNLOAD_SEGMENT_BYTES'] = String(4 * KiB);
    try {
      expect(await sha256Of(downloadStream(s.url))).toEqual({
        hash: sha(data),
        bytes: data.length,
      });
    } finally {
      if (saved === undefined) delete process.env['VGC_DOWNLOAD_SEGMENT_BYTES'];
      else process.env['VGC_DOWNLOAD_SEGMENT_BYTES'] = saved;
    }
    expect(s.seen.map((r) => r.range)).toEqual([
      'bytes=0-4095',
      'bytes=4096-8191',
      'bytes=8192-10239',
    ]);
  });

  it('asks only for the missing bytes when a connection breaks mid-segment', async () => {
    const data = randomBytes(MiB);
    let cut = false;
    const s = await serveBlob(data, {
      behave: (req, res) => {
        if (!cut && req.headers.range === `bytes=${256 * KiB}-${512 * KiB - 1}`) {
          cut = true;
          res.writeHead(206, {
            'content-range': `bytes ${256 * KiB}-${512 * KiB - 1}/${data.length}`,
            'content-length': String(256 * KiB),
          });
          res.write(data.subarray(256 * KiB, 300 * KiB), () => res.destroy());
          return 'handled';
        }
        return 'default';
      },
    });
    const stream = downloadStream(s.url, { segmentBytes: 256 * KiB, retryDelayMs: 10 });
    expect(await sha256Of(stream)).toEqual({ hash: sha(data), bytes: data.length });
    expect(s.seen.map((r) => r.range)).toContain(`bytes=${300 * KiB}-${512 * KiB - 1}`);
  });

  it('retries a request that stalls past the timeout', async () => {
    const data = randomBytes(512 * KiB);
    let stalled = false;
    const s = await serveBlob(data, {
      behave: (req, res) => {
        if (!stalled && req.headers.range?.startsWith(`bytes=${256 * KiB}-`)) {
          stalled = true;
          res.writeHead(206, {
            'content-range': `bytes ${256 * KiB}-${512 * KiB - 1}/${data.length}`,
            'content-length': String(256 * KiB),
          });
          res.write(data.subarray(256 * KiB, 260 * KiB)); // and then nothing
          return 'handled';
        }
        return 'default';
      },
    });
    const stream = downloadStream(s.url, {
      segmentBytes: 256 * KiB,
      timeoutMs: 300,
      retryDelayMs: 10,
    });
    expect(await sha256Of(stream)).toEqual({ hash: sha(data), bytes: data.length });
    expect(stream.retriesUsed).toBe(1);
  });

  it('without Range, a broken connection is fetched again and the bytes already passed on are skipped', async () => {
    const data = randomBytes(2 * MiB);
    let cut = false;
    const s = await serveBlob(data, {
      ignoreRange: true,
      behave: (_req, res) => {
        if (cut) return 'default';
        cut = true;
        res.writeHead(200, { 'content-length': String(data.length) });
        res.write(data.subarray(0, 700 * KiB), () => res.destroy());
        return 'handled';
      },
    });
    const stream = downloadStream(s.url, { retryDelayMs: 10 });
    expect(await sha256Of(stream)).toEqual({ hash: sha(data), bytes: data.length });
    expect(stream.mode).toBe('whole');
    expect(s.seen.length).toBe(2);
  });

  it('fails when a later range reports another total size (the entry changed)', async () => {
    const data = randomBytes(MiB);
    const s = await serveBlob(data, {
      behave: (req, res, n) => {
        if (n === 0) return 'default';
        const start = Number(/^bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1]);
        res.writeHead(206, {
          'content-range': `bytes ${start}-${start + 256 * KiB - 1}/${2 * MiB}`,
          'content-length': String(256 * KiB),
        });
        res.end(Buffer.alloc(256 * KiB));
        return 'handled';
      },
    });
    const err = await sha256Of(downloadStream(s.url, { segmentBytes: 256 * KiB })).catch(
      (e: Error) => e,
    );
    expect(String(err)).toMatch(/did the entry change\?/);
  });

  it('fails the stream, without hanging, when the server dies mid-download', async () => {
    const data = randomBytes(4 * MiB);
    let served = 0;
    const holder: { s?: BlobServer } = {};
    const s = await serveBlob(data, {
      behave: () => {
        if (++served === 3) void holder.s?.close();
        return 'default';
      },
    });
    holder.s = s;
    const stream = downloadStream(s.url, {
      segmentBytes: 256 * KiB,
      concurrency: 2,
      retries: 2,
      retryDelayMs: 20,
    });
    const t0 = Date.now();
    const err = await sha256Of(stream).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(
      /download of http:\/\/127\.0\.0\.1:\d+\/blob failed at bytes \d+-\d+\/4194304: .*after 3 attempts/,
    );
    expect(err?.message).not.toContain('secret');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('fails at once, naming the cause, on 403 (expired signature)', async () => {
    const s = await serveBlob(Buffer.alloc(10), {
      behave: (_req, res) => {
        res.writeHead(403).end();
        return 'handled';
      },
    });
    const err = await sha256Of(downloadStream(s.url, { retryDelayMs: 10 })).catch((e: Error) => e);
    expect(String(err)).toMatch(
      /HTTP 403 \(the signed download URL may have expired.*after 1 attempt\)/,
    );
    expect(s.seen.length).toBe(1);
  });

  it('keeps at most `concurrency` segments ahead of a reader that stops reading', async () => {
    const data = randomBytes(16 * MiB);
    const s = await serveBlob(data);
    const stream = downloadStream(s.url, { segmentBytes: MiB, concurrency: 3 });
    const first = await new Promise<Buffer>((r) => stream.once('data', (c: Buffer) => r(c)));
    stream.pause();
    await new Promise((r) => setTimeout(r, 300));
    // The stream's own 1 MiB buffer (segment 0) plus 3 segments; 16 exist.
    expect(s.seen.length).toBeLessThanOrEqual(4);
    const rest = await sha256Of(stream);
    expect(first.length + rest.bytes).toBe(data.length);
    expect(createHash('sha256').update(first).digest('hex')).toBe(
      sha(data.subarray(0, first.length)),
    );
  });

  it('ends with no bytes for an empty archive', async () => {
    const s = await serveBlob(Buffer.alloc(0));
    const stream = downloadStream(s.url);
    expect(await sha256Of(stream)).toEqual({ hash: sha(Buffer.alloc(0)), bytes: 0 });
    expect(stream.sizeBytes).toBe(0);
  });

  it('stops when its signal aborts', async () => {
    const data = randomBytes(2 * MiB);
    const s = await serveBlob(data, {
      behave: (req, res, n) => {
        if (n > 0) return 'handled'; // later segments never answer
        return 'default';
      },
    });
    const ac = new AbortController();
    const stream = downloadStream(s.url, { segmentBytes: 256 * KiB, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const err = await sha256Of(stream).catch((e: Error) => e);
    expect(String(err)).toMatch(/aborted/);
  });

  it('parses Content-Range and hides signatures', () => {
    expect(parseContentRange('bytes 0-9/100')).toEqual({ start: 0, end: 9, total: 100 });
    expect(parseContentRange('bytes 0-9/*')).toEqual({ start: 0, end: 9, total: undefined });
    expect(parseContentRange('bytes */100')).toBeUndefined();
    expect(redactUrl('https://x.blob.core.windows.net/c/1?sig=abc')).toBe(
      'https://x.blob.core.windows.net/c/1',
    );
  });
});
