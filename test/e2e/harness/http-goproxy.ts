/**
 * A plain-HTTP GOPROXY on loopback serving a file:// proxy's directory (the
 * layout goproxy.ts `publish` writes, or a module cache's cache/download),
 * optionally throttled to a total rate shared by every connection: Go fetches
 * modules in parallel, and a real link's throughput is shared the same way.
 * The benchmark uses it so that `go mod download` and the cache service are
 * measured at the same throughput.
 *
 *   const proxy = await HttpGoProxy.start(proxyDir, 100e6);
 *   env: { GOPROXY: proxy.url }
 */
import { createReadStream, promises as fs } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

const CHUNK = 64 * 1024;

export class HttpGoProxy {
  /** Every path requested, in order. */
  readonly requests: string[] = [];
  private freeAt = 0;

  private constructor(
    readonly dir: string,
    private readonly bytesPerSecond: number | undefined,
    private readonly server: Server,
  ) {}

  static async start(dir: string, bytesPerSecond?: number): Promise<HttpGoProxy> {
    const server = createServer();
    const self = new HttpGoProxy(path.resolve(dir), bytesPerSecond, server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      self.serve(req, res).catch(() => res.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(
      /^\/+/,
      '',
    );
    this.requests.push(rel);
    const file = path.resolve(this.dir, rel);
    const st =
      file.startsWith(this.dir + path.sep) && req.method === 'GET'
        ? await fs.stat(file).catch(() => undefined)
        : undefined;
    if (!st?.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-length': String(st.size),
      'content-type': 'application/octet-stream',
    });
    const stream = createReadStream(file, { highWaterMark: CHUNK });
    for await (const chunk of stream) {
      const c = chunk as Buffer;
      await this.wait(c.length);
      if (!res.write(c)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  }

  /** Waits until the shared throttle may send `bytes` more. */
  private async wait(bytes: number): Promise<void> {
    if (this.bytesPerSecond === undefined) return;
    const now = Date.now();
    const at = Math.max(now, this.freeAt) + (bytes / this.bytesPerSecond) * 1000;
    this.freeAt = at;
    const delay = at - now;
    if (delay >= 1) await new Promise((r) => setTimeout(r, delay));
  }
}
