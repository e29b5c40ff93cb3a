/**
 * A company GOPROXY on loopback: HTTPS (Go sends credentials only over
 * HTTPS: netrc, GOAUTH and userinfo in a GOPROXY URL alike), basic auth on
 * every request, serving the module versions published into its directory
 * (the layout of a file:// proxy, see goproxy.ts `publish`).
 *
 *   const proxy = await AuthProxy.start(root, { user: 'ci', password: 's3cret' });
 *   proxy.publish({ path: 'corp.example.test/lib', version: 'v1.0.0', goMod, files });
 *   env: { GOPROXY: `${proxy.url},${publicFileProxy}`, SSL_CERT_FILE: proxy.certFile,
 *          NETRC: proxy.writeNetrc(dir) }          // or GOAUTH: proxy.goAuthCommand(dir)
 *
 * Missing credentials get 401 (with WWW-Authenticate), wrong ones 403, an
 * unknown file 404 (so a comma-separated GOPROXY falls through to the next
 * proxy). The certificate is self-signed for IP 127.0.0.1 and made with the
 * openssl binary; Go trusts it through SSL_CERT_FILE.
 *
 * It can also play a public proxy's checksum database endpoint (`sumdb`):
 * `/sumdb/<name>/supported` answers 200, so Go looks modules up through the
 * proxy instead of the network, and every lookup answers `sumdb.status`
 * (404 or 410), as the public proxy does for a module it cannot see. Those
 * paths need no credentials, as on a public proxy.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { publish, type ModuleVersion } from './goproxy.js';

export interface AuthProxyOptions {
  user: string;
  password: string;
}

export interface ProxyRequest {
  path: string;
  status: number;
  /** 'none', 'good' or 'bad' credentials. */
  auth: 'none' | 'good' | 'bad';
}

export class AuthProxy {
  readonly dir: string;
  readonly certFile: string;
  /** Every request served, in order. */
  readonly log: ProxyRequest[] = [];
  /** Set to play a public proxy's sumdb endpoint (see the opening comment). */
  sumdb: { status: 404 | 410 } | undefined;
  private port = 0;

  private constructor(
    private readonly root: string,
    private readonly opts: AuthProxyOptions,
    private readonly server: Server,
  ) {
    this.dir = path.join(root, 'files');
    this.certFile = path.join(root, 'cert.pem');
  }

  static async start(root: string, opts: AuthProxyOptions): Promise<AuthProxy> {
    mkdirSync(path.join(root, 'files'), { recursive: true });
    const certFile = path.join(root, 'cert.pem');
    const keyFile = path.join(root, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'pipe' },
    );
    const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) });
    const proxy = new AuthProxy(root, opts, server);
    server.on('request', (req, res) =>
      proxy.handle(req.url ?? '/', req.headers.authorization, res),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy.port = (server.address() as AddressInfo).port;
    return proxy;
  }

  /** The GOPROXY URL, without credentials. */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** The GOPROXY URL with the credentials as userinfo (the form users put in a secret). */
  get urlWithUserinfo(): string {
    return `https://${this.opts.user}:${this.opts.password}@127.0.0.1:${this.port}`;
  }

  /** Publishes (or re-publishes, overwriting) one module version. */
  publish(m: ModuleVersion): void {
    publish(this.dir, m);
  }

  /**
   * Writes a netrc file with the credentials (or `password` instead) into
   * `dir`; returns its path. Go matches a netrc machine against the URL's
   * host with its port, so the machine is `127.0.0.1:<port>`.
   */
  writeNetrc(dir: string, password = this.opts.password, name = '.netrc'): string {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, name);
    writeFileSync(
      file,
      `machine 127.0.0.1:${this.port}\n  login ${this.opts.user}\n  password ${password}\n`,
    );
    chmodSync(file, 0o600);
    return file;
  }

  /**
   * Writes a GOAUTH authenticator script into `dir` and returns the GOAUTH
   * value (the script's path: a GOAUTH entry that is not `off`, `netrc` or
   * `git <dir>` is a command line): it prints the proxy URL, a blank line, an
   * Authorization header and a blank line, the format cmd/go/internal/auth reads.
   */
  goAuthCommand(dir: string, password = this.opts.password): string {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'goauth.sh');
    const token = Buffer.from(`${this.opts.user}:${password}`).toString('base64');
    writeFileSync(
      file,
      `#!/bin/sh\nprintf '%s\\n\\n%s\\n\\n' '${this.url}/' 'Authorization: Basic ${token}'\n`,
    );
    chmodSync(file, 0o700);
    return file;
  }

  /** Requests for a module path (escaped as on the wire) since `from` (an index into log). */
  requestsFor(fragment: string, from = 0): ProxyRequest[] {
    return this.log.slice(from).filter((r) => r.path.includes(fragment));
  }

  private handle(
    url: string,
    authorization: string | undefined,
    res: import('node:http').ServerResponse,
  ): void {
    const p = decodeURIComponent(url.split('?')[0] ?? '/');
    const expected = `Basic ${Buffer.from(`${this.opts.user}:${this.opts.password}`).toString('base64')}`;
    const auth = authorization === undefined ? 'none' : authorization === expected ? 'good' : 'bad';
    const answer = (
      status: number,
      body: string | Buffer,
      headers: Record<string, string> = {},
    ) => {
      this.log.push({ path: p, status, auth });
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      res.end(body);
    };
    if (this.sumdb && p.startsWith('/sumdb/')) {
      if (p.endsWith('/supported')) return answer(200, '');
      const what = p.replace(/^\/sumdb\/[^/]+\/lookup\//, '');
      return answer(
        this.sumdb.status,
        this.sumdb.status === 410
          ? `not found: ${what}: invalid version: unknown revision\n`
          : `not found: ${what}: reading ${what}: 404 Not Found\n`,
      );
    }
    if (auth === 'none') {
      return answer(401, 'authentication required\n', {
        'www-authenticate': 'Basic realm="corp proxy"',
      });
    }
    if (auth === 'bad') return answer(403, 'forbidden: bad credentials\n');
    const file = path.join(this.dir, ...p.split('/').filter((s) => s !== '' && s !== '..'));
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch {
      return answer(404, 'not found\n');
    }
    answer(200, data);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** For debugging a failed test: where the proxy keeps its files. */
  get rootDir(): string {
    return this.root;
  }
}
