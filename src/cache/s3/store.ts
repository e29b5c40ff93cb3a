/**
 * Any S3-compatible object store as a CacheStore (the `backend: s3` input).
 * Naming and lookup order: ./naming.ts. Archives: ./pack.ts (save), and
 * src/restore/ extracts the GetObject body as it arrives (restore).
 *
 * - Credentials come only from the AWS SDK's default chain; none is an input,
 *   none is ever printed.
 * - Entries are immutable: a save first asks HeadObject, then uploads with
 *   `If-None-Match: *` (PutObject, or CompleteMultipartUpload through
 *   lib-storage). A 412 means another job saved the key: reported as a
 *   conflict, as GitHub's service reports a reserved key.
 * - Only complete entries are visible: a multipart upload shows up in a
 *   listing only once completed; lib-storage aborts it when the body or a
 *   part fails, the save-timeout passes, or the process is told to stop
 *   (SIGINT/SIGTERM). A process killed outright leaves invisible parts that
 *   the bucket's AbortIncompleteMultipartUpload rule removes (README).
 * - The store down, slow, throttling (503 SlowDown: retried with backoff by
 *   the SDK, within lookup-timeout / save-timeout) or refusing credentials
 *   never throws: it becomes `unavailable` or a failed save with a reason.
 */
import * as core from '@actions/core';
import { PassThrough, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { SaveResult } from '../backend.js';
import { defaultBranchFromEvent } from '../event.js';
import type { CacheEntryInfo, DeleteResult, Inventory, ListResult } from '../inventory.js';
import type { CacheStore, LookupResult } from '../store.js';
import { classify, describeS3Error } from './errors.js';
import {
  EXTENSIONS,
  listPrefix,
  objectName,
  parseObjectName,
  pickMatch,
  prefixPath,
  scopeOfRef,
  scopesFromEnv,
  type Listed,
  type Scopes,
} from './naming.js';
import { packDirectory, s3Compression } from './pack.js';

export interface S3Options {
  bucket: string;
  prefix: string;
  region: string;
  endpoint: string;
  forcePathStyle: boolean;
}

/** Parts of 16 MiB, 4 in flight: 64 MiB of memory at most, and up to 160 GB per entry. */
const PART_BYTES = 16 << 20;
const QUEUE = 4;
/** 50 pages of 1,000 objects: far beyond what one key prefix holds under a lifecycle rule. */
const MAX_PAGES = 50;

export class S3Store implements CacheStore {
  readonly name = 's3';
  private readonly client: S3Client;
  private readonly scopes: Scopes;
  private announced = false;

  constructor(
    private readonly o: S3Options,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.scopes = scopesFromEnv(env, defaultBranchFromEvent(env['GITHUB_EVENT_PATH']));
    this.client = new S3Client({
      region: o.region || env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || 'us-east-1',
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      forcePathStyle: o.forcePathStyle,
      // Throttling (503 SlowDown) and 5xx are retried with backoff; the
      // callers' timeouts bound the whole.
      maxAttempts: 6,
      retryMode: 'standard',
      requestHandler: { connectionTimeout: 5000, requestTimeout: 120_000 },
      // Third-party stores differ in the checksums they accept: send them only where required.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Where this store puts entries: `s3://bucket/prefix/`. */
  get location(): string {
    return `s3://${this.o.bucket}/${prefixPath(this.o.prefix)}`;
  }

  private why(e: unknown, what: string, timeoutMs?: number): string {
    return describeS3Error(e, {
      what,
      bucket: this.o.bucket,
      endpoint: this.o.endpoint,
      timeoutMs,
    });
  }

  private async list(prefix: string, signal?: AbortSignal): Promise<Listed[]> {
    const out: Listed[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const r = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.o.bucket,
          Prefix: prefix,
          ContinuationToken: token,
        }),
        { abortSignal: signal },
      );
      for (const c of r.Contents ?? []) {
        if (c.Key === undefined) continue;
        out.push({ name: c.Key, lastModified: c.LastModified?.getTime() ?? 0, size: c.Size ?? 0 });
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
      if (!token) break;
    }
    return out;
  }

  async lookup(
    primaryKey: string,
    restoreKeys: string[],
    timeoutMs: number,
  ): Promise<LookupResult> {
    const signal = AbortSignal.timeout(timeoutMs);
    const ext = EXTENSIONS[await s3Compression()];
    if (!this.announced) {
      this.announced = true;
      core.info(
        `Cache store: ${this.location} (writes ${scopeOfRef(this.scopes.own)}; reads ` +
          `${this.scopes.reads.map(scopeOfRef).join(', then ')}).`,
      );
    }
    try {
      for (const ref of this.scopes.reads) {
        const base = listPrefix(this.o.prefix, ref, '');
        for (const key of [primaryKey, ...restoreKeys]) {
          const listing = await this.list(base + key, signal);
          const m = pickMatch(listing, base, key, ext);
          if (m) {
            const matchedKey = m.name.slice(base.length, -ext.length);
            return { kind: 'hit', matchedKey, open: () => this.open(m.name, m.size) };
          }
        }
      }
      return { kind: 'miss' };
    } catch (e) {
      // A refusal here is the store's configuration, not a cache mode: a warning.
      return {
        kind: 'unavailable',
        reason: this.why(signal.aborted ? signal.reason : e, 'lookup', timeoutMs),
      };
    }
  }

  /** The object's bytes as they arrive (one GetObject; the extraction reads as it comes). */
  private open(name: string, size: number) {
    const stream = new PassThrough({ highWaterMark: 4 << 20 });
    let known: number | undefined = size;
    this.client
      .send(new GetObjectCommand({ Bucket: this.o.bucket, Key: name }))
      .then((r) => {
        if (r.ContentLength !== undefined) known = r.ContentLength;
        // On Node the body is the HTTP response: a Readable.
        const body = r.Body as unknown as Readable;
        body.on('error', (e: Error) => stream.destroy(new Error(`reading ${name}: ${e.message}`)));
        body.pipe(stream);
      })
      .catch((e: unknown) => stream.destroy(new Error(this.why(e, 'download'))));
    return { stream, sizeBytes: () => known };
  }

  async save(directory: string, key: string, timeoutMs: number): Promise<SaveResult> {
    const name = objectName(this.o.prefix, this.scopes.own, key, await s3Compression());
    const deadline = AbortSignal.timeout(timeoutMs);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: name }), {
        abortSignal: deadline,
      });
      return { kind: 'conflict', key };
    } catch (e) {
      if (classify(e) !== 'not-found') {
        return {
          kind: 'failed',
          reason: this.why(deadline.aborted ? deadline.reason : e, 'save', timeoutMs),
        };
      }
    }
    const packed = packDirectory(directory, await s3Compression());
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.o.bucket,
        Key: name,
        Body: packed.stream,
        IfNoneMatch: '*',
        ContentType: 'application/octet-stream',
      },
      partSize: PART_BYTES,
      queueSize: QUEUE,
      leavePartsOnError: false,
    });
    // lib-storage's abort() only stops new parts; the multipart upload itself
    // is aborted here, at once, so no part outlives the save.
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopping ??= (async () => {
        await upload.abort().catch(() => undefined);
        if (upload.uploadId === undefined) return;
        await this.client
          .send(
            new AbortMultipartUploadCommand({
              Bucket: this.o.bucket,
              Key: name,
              UploadId: upload.uploadId,
            }),
          )
          .catch(() => undefined);
      })());
    const onSignal = (sig: NodeJS.Signals): void => {
      const code = 128 + (sig === 'SIGINT' ? 2 : 15);
      setTimeout(() => process.exit(code), 5000).unref();
      void stop().then(() => process.exit(code));
    };
    const onDeadline = (): void => void stop();
    deadline.addEventListener('abort', onDeadline);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    try {
      await upload.done();
      return { kind: 'saved', key, archiveBytes: packed.bytes() };
    } catch (e) {
      packed.stream.destroy();
      await stop();
      if (classify(e) === 'conflict') return { kind: 'conflict', key };
      const cause = deadline.aborted ? deadline.reason : e;
      return { kind: 'failed', reason: this.why(cause, 'save', timeoutMs) };
    } finally {
      deadline.removeEventListener('abort', onDeadline);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  }

  inventory(): Inventory {
    const names = new Map<number, string>();
    const listAll = async (): Promise<Listed[]> => this.list(prefixPath(this.o.prefix));
    return {
      list: async (keyPrefix): Promise<ListResult> => {
        let listing: Listed[];
        try {
          listing = await listAll();
        } catch (e) {
          return { kind: 'unavailable', reason: this.why(e, 'list') };
        }
        const entries: CacheEntryInfo[] = [];
        for (const o of listing) {
          const parsed = parseObjectName(this.o.prefix, o.name);
          if (!parsed || !parsed.key.startsWith(keyPrefix)) continue;
          const id = names.size + 1;
          names.set(id, o.name);
          const at = new Date(o.lastModified).toISOString();
          entries.push({
            id,
            key: parsed.key,
            ref: parsed.ref,
            version: parsed.compression,
            sizeBytes: o.size,
            createdAt: at,
            lastAccessedAt: at,
          });
        }
        return { kind: 'listed', entries };
      },
      usage: async () => {
        try {
          const all = await listAll();
          return {
            activeBytes: all.reduce((n, o) => n + o.size, 0),
            activeCount: all.length,
            location: this.location,
          };
        } catch {
          return undefined;
        }
      },
      deleteById: async (id): Promise<DeleteResult> => {
        const name = names.get(id);
        if (!name) return { kind: 'gone' };
        try {
          await this.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: name }));
          return { kind: 'deleted' };
        } catch (e) {
          const t = classify(e);
          if (t === 'not-found') return { kind: 'gone' };
          if (t === 'forbidden' || t === 'credentials') {
            return { kind: 'forbidden', message: this.why(e, 'delete') };
          }
          return { kind: 'failed', reason: this.why(e, 'delete') };
        }
      },
    };
  }
}
