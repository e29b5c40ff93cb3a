/**
 * A real S3-compatible server on loopback for the S3 backend's tests:
 * versitygw (pinned in .ci/run, built from the Go module proxy into
 * .tools/bin) serving a temporary posix directory with static root
 * credentials. It is the server, not a mock: conditional writes
 * (`If-None-Match: *` on PutObject and CompleteMultipartUpload), multipart
 * uploads, ListObjectsV2 and ListMultipartUploads are its own.
 *
 * `S3Server.start()` picks a free port on 127.0.0.1, starts the gateway,
 * waits until it answers, and creates the bucket. `stop()` ends it (and only
 * it: the process it started, by its id). `client()` is an SDK client with
 * the server's credentials, for assertions about what the bucket holds.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  S3Client,
  type _Object,
} from '@aws-sdk/client-s3';
import { REPO_ROOT } from './runner.js';

const execFileAsync = promisify(execFile);

export const S3_ACCESS_KEY = 'vgc-test-access';
export const S3_SECRET_KEY = 'vgc-test-secret-key-0123456789';
export const S3_REGION = 'us-east-1';

/** The versitygw binary: VGC_VERSITYGW, else .tools/bin (where .ci/run installs it), else PATH. */
export function versitygwBinary(): string {
  const fromEnv = process.env['VGC_VERSITYGW'];
  if (fromEnv) return fromEnv;
  const tools = path.join(REPO_ROOT, '.tools', 'bin', 'versitygw');
  return existsSync(tools) ? tools : 'versitygw';
}

/** A port nobody listens on right now (the server binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class S3Server {
  readonly endpoint: string;
  private child?: ChildProcess;
  private output = '';
  private sdk?: S3Client;

  private constructor(
    readonly root: string,
    readonly port: number,
    readonly bucket: string,
  ) {
    this.endpoint = `http://127.0.0.1:${port}`;
  }

  static async start(o: { bucket?: string; root?: string } = {}): Promise<S3Server> {
    const root = o.root ?? mkdtempSync(path.join(os.tmpdir(), 'vgc-s3-'));
    mkdirSync(path.join(root, 'data'), { recursive: true });
    mkdirSync(path.join(root, 'iam'), { recursive: true });
    const server = new S3Server(root, await freePort(), o.bucket ?? 'vgc-cache');
    await server.launch();
    await server.client().send(new CreateBucketCommand({ Bucket: server.bucket }));
    return server;
  }

  /** Starts the gateway process (again, after `stop({ keepData: true })`) and waits for it. */
  async launch(): Promise<void> {
    const child = spawn(
      versitygwBinary(),
      [
        '--port',
        `127.0.0.1:${this.port}`,
        '--access',
        S3_ACCESS_KEY,
        '--secret',
        S3_SECRET_KEY,
        '--region',
        S3_REGION,
        '--quiet',
        // Internal IAM: users besides root (a read-only one for pull requests).
        '--iam-dir',
        path.join(this.root, 'iam'),
        'posix',
        path.join(this.root, 'data'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    child.stdout.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.output += d.toString()));
    let exited: string | undefined;
    child.once('error', (e) => (exited = e.message));
    child.once('exit', (code) => (exited ??= `exited with ${code}`));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exited) {
        throw new Error(
          `versitygw (${versitygwBinary()}) ${exited}; run .ci/run or ` +
            `'GOBIN=$PWD/.tools/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0'.\n${this.output}`,
        );
      }
      if (await this.answers()) return;
      if (Date.now() > deadline)
        throw new Error(`versitygw did not answer in 20 s:\n${this.output}`);
      await sleep(100);
    }
  }

  /** Any HTTP answer on the port (an anonymous request is refused with 403: it is up). */
  private answers(): Promise<boolean> {
    return fetch(`${this.endpoint}/`, { signal: AbortSignal.timeout(1000) })
      .then(() => true)
      .catch(() => false);
  }

  /** The environment of a job that uses this store with the server's credentials. */
  envFor(o: { access?: string; secret?: string } = {}): Record<string, string> {
    return {
      AWS_ACCESS_KEY_ID: o.access ?? S3_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: o.secret ?? S3_SECRET_KEY,
      AWS_REGION: S3_REGION,
      // No profile files or instance metadata of the machine running the tests.
      AWS_CONFIG_FILE: path.join(this.root, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(this.root, 'no-aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    };
  }

  /** The inputs of a step that uses this store (with `endpoint` to put a proxy in front). */
  inputsFor(prefix: string, endpoint = this.endpoint): Record<string, string> {
    return {
      backend: 's3',
      's3-bucket': this.bucket,
      's3-prefix': prefix,
      's3-region': S3_REGION,
      's3-endpoint': endpoint,
      's3-force-path-style': 'true',
    };
  }

  /**
   * Adds a user that may list the bucket and read its objects, nothing else
   * (the bucket policy a pull request's credentials get; it replaces any
   * earlier policy).
   */
  async addReadOnlyUser(access: string, secret: string): Promise<void> {
    const admin = ['admin', '--access', S3_ACCESS_KEY, '--secret', S3_SECRET_KEY];
    await execFileAsync(versitygwBinary(), [
      ...admin,
      '--endpoint-url',
      this.endpoint,
      'create-user',
      '--access',
      access,
      '--secret',
      secret,
      '--role',
      'user',
    ]);
    const allow = (action: string, resource: string) => ({
      Effect: 'Allow',
      Principal: { AWS: [access] },
      Action: [action],
      Resource: resource,
    });
    const policy = {
      Version: '2012-10-17',
      Statement: [
        allow('s3:ListBucket', `arn:aws:s3:::${this.bucket}`),
        allow('s3:GetObject', `arn:aws:s3:::${this.bucket}/*`),
      ],
    };
    await this.client().send(
      new PutBucketPolicyCommand({ Bucket: this.bucket, Policy: JSON.stringify(policy) }),
    );
  }

  client(): S3Client {
    this.sdk ??= new S3Client({
      endpoint: this.endpoint,
      region: S3_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
    });
    return this.sdk;
  }

  /** Every object under `prefix`, as ListObjectsV2 gives them (all pages). */
  async objects(prefix = ''): Promise<_Object[]> {
    const out: _Object[] = [];
    let token: string | undefined;
    do {
      const page = await this.client().send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      out.push(...(page.Contents ?? []));
      token = page.NextContinuationToken;
    } while (token);
    return out;
  }

  async keys(prefix = ''): Promise<string[]> {
    return (await this.objects(prefix)).map((o) => o.Key!).sort();
  }

  /** Multipart uploads begun and neither completed nor aborted. */
  async openUploads(prefix = ''): Promise<string[]> {
    const r = await this.client().send(
      new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix }),
    );
    return (r.Uploads ?? []).map((u) => u.Key!);
  }

  async getObject(key: string): Promise<Buffer> {
    const r = await this.client().send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return Buffer.from(await r.Body!.transformToByteArray());
  }

  /** Where the posix backend keeps an object's bytes (to corrupt one in a test). */
  objectFile(key: string): string {
    return path.join(this.root, 'data', this.bucket, ...key.split('/'));
  }

  /** Ends the gateway; with `keepData` it can be started again on the same port. */
  async stop(o: { keepData?: boolean } = {}): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    if (!o.keepData) {
      this.sdk?.destroy();
      this.sdk = undefined;
      rmSync(this.root, { recursive: true, force: true });
    }
  }
}
