/**
 * A loopback proxy in front of the S3 server, for the store misbehaving the
 * way real ones do: the first `slowDown` requests are answered 503 with S3's
 * SlowDown XML error (as AWS S3 throttles), request bodies can be
 * forwarded at `bytesPerSecond` (an upload slow enough to interrupt), and
 * answers at `downloadBytesPerSecond` (a link of that speed). Every
 * other request goes to the server unchanged, Host header included, so the
 * client's signature still holds.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

const SLOW_DOWN_XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>' +
  '<Message>Please reduce your request rate.</Message><RequestId>proxy</RequestId></Error>';

/**
 * Passes bytes on at about `bytesPerSecond`, by a clock: each chunk is due
 * when the bytes before it would have been sent at that rate. (A fixed delay
 * per chunk ran at about two thirds of the rate: timers round up to 1 ms, and
 * the time spent elsewhere was added on top.)
 */
function throttle(bytesPerSecond: number): Transform {
  let dueAt = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      const now = performance.now();
      dueAt = Math.max(dueAt, now) + (chunk.length / bytesPerSecond) * 1000;
      const wait = dueAt - now;
      if (wait < 1) done(null, chunk);
      else setTimeout(() => done(null, chunk), wait);
    },
  });
}

export class S3Proxy {
  /** Requests answered 503 SlowDown so far. */
  slowDowns = 0;
  /** Requests forwarded so far. */
  forwarded = 0;
  /** Uploads (PUT requests: PutObject, UploadPart) begun so far. */
  puts = 0;
  private server?: http.Server;

  constructor(
    private readonly upstream: string,
    public slowDown = 0,
    public bytesPerSecond = 0,
    public downloadBytesPerSecond = 0,
  ) {}

  async start(): Promise<string> {
    const up = new URL(this.upstream);
    this.server = http.createServer((req, res) => {
      if (this.slowDowns < this.slowDown) {
        this.slowDowns++;
        req.resume();
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end(SLOW_DOWN_XML);
        return;
      }
      this.forwarded++;
      if (req.method === 'PUT') this.puts++;
      const out = http.request(
        {
          host: up.hostname,
          port: up.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          const rate = this.downloadBytesPerSecond;
          (rate > 0 ? answer.pipe(throttle(rate)) : answer).pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      req.on('error', () => out.destroy());
      // A client that goes away mid-request takes the request with it: what
      // the proxy still holds of its body is never delivered.
      req.on('close', () => {
        if (!req.complete) out.destroy();
      });
      (this.bytesPerSecond > 0 ? req.pipe(throttle(this.bytesPerSecond)) : req).pipe(out);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
