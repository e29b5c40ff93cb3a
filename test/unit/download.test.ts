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
import { downloadStream, parseContentRange, redactUrl } from '../../src/cache/download.js';

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
    const stream = downloadStream(s.url, { segmentBytes: 256 * KiB, retryDelayMs: 10 });
    expect(await sha256Of(stream)).toEqual({ hash: sha(data), bytes: data.length });
    expect(failed).toBe(true);
    expect(stream.retriesUsed).toBe(1);
  });

  it('honours Retry-After on 429 for a segment', async () => {
    const data = randomBytes(MiB);
    let limited = 0;
    const s = await serveBlob(data, {
      behave: (req, res) => {
        if (limited === 0 && req.headers.range?.startsWith(`bytes=${512 * KiB}-`)) {
          limited = Date.now();
          res.writeHead(429, { 'retry-after': '1' }).end();
          return 'handled';
        }
        return 'default';
      },
    });
    const t0 = Date.now();
    const stream = downloadStream(s.url, { segmentBytes: 256 * KiB, retryDelayMs: 10 });
    expect(await sha256Of(stream)).toEqual({ hash: sha(data), bytes: data.length });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
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
