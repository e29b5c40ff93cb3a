export const id = 519;
export const ids = [519];
export const modules = {

/***/ 519:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

// ESM COMPAT FLAG
__webpack_require__.r(__webpack_exports__);

// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  S3Store: () => (/* binding */ S3Store)
});

// EXTERNAL MODULE: ./node_modules/@actions/core/lib/core.js + 7 modules
var core = __webpack_require__(3838);
// EXTERNAL MODULE: external "node:stream"
var external_node_stream_ = __webpack_require__(7075);
// EXTERNAL MODULE: ./node_modules/@aws-sdk/client-s3/dist-cjs/index.js
var dist_cjs = __webpack_require__(3711);
// EXTERNAL MODULE: ./node_modules/@aws-sdk/lib-storage/dist-cjs/index.js
var lib_storage_dist_cjs = __webpack_require__(2358);
// EXTERNAL MODULE: ./src/cache/event.ts
var cache_event = __webpack_require__(8526);
;// CONCATENATED MODULE: ./src/cache/s3/errors.ts
/**
 * What an S3 failure means for the job, in words that say what to fix. Pure.
 * Never quotes a credential: only the names of the variables and roles the
 * AWS SDK's default chain reads.
 */
const CREDENTIALS_HINT = 'the AWS SDK default chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN ' +
    'for temporary keys), or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE as ' +
    'aws-actions/configure-aws-credentials sets them, or the instance or pod role of the runner';
/** The network error code under an SDK error (ECONNREFUSED...), if any. */
function networkCode(e) {
    for (let cur = e, i = 0; cur && i < 4; cur = cur.cause, i++) {
        const code = cur.code;
        if (typeof code === 'string' && /^E[A-Z]+$/.test(code))
            return code;
    }
    return undefined;
}
function classify(e) {
    const err = (e ?? {});
    const name = err.name ?? err.Code ?? '';
    const status = err.$metadata?.httpStatusCode;
    if (/^(PreconditionFailed|ConditionalRequestConflict)$/.test(name) || status === 412) {
        return 'conflict';
    }
    if (/^(InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken|InvalidToken|TokenRefreshRequired|CredentialsProviderError|InvalidClientTokenId|AuthorizationHeaderMalformed)$/.test(name) ||
        /Could not load credentials|credential/i.test(err.message ?? '')) {
        return 'credentials';
    }
    if (name === 'AccessDenied' || status === 403)
        return 'forbidden';
    if (name === 'NoSuchBucket')
        return 'no-bucket';
    if (name === 'NotFound' || name === 'NoSuchKey' || status === 404)
        return 'not-found';
    if (name === 'AbortError' || name === 'TimeoutError' || /aborted/i.test(err.message ?? '')) {
        return 'timeout';
    }
    if (/^(SlowDown|ServiceUnavailable|Throttling|ThrottlingException|RequestLimitExceeded)$/.test(name) ||
        status === 503) {
        return 'throttled';
    }
    if (networkCode(err))
        return 'unreachable';
    return 'other';
}
/** A URL without user info, for messages. */
function safeEndpoint(endpoint) {
    if (!endpoint)
        return 'the AWS S3 endpoint of the region';
    try {
        const u = new URL(endpoint);
        u.username = '';
        u.password = '';
        return u.origin;
    }
    catch {
        return 'the s3-endpoint';
    }
}
/**
 * One sentence on why `what` (lookup, save, list, delete) failed against
 * bucket `bucket`, naming what to fix.
 */
function describeS3Error(e, o) {
    const err = (e ?? {});
    const name = err.name ?? 'Error';
    const where = `bucket '${o.bucket}' at ${safeEndpoint(o.endpoint)}`;
    switch (classify(e)) {
        case 'credentials':
            return (`the S3 store refused the credentials for the ${o.what} (${name}); check what the runner ` +
                `provides through ${CREDENTIALS_HINT}`);
        case 'forbidden':
            return (`the S3 store denied the ${o.what} in ${where} (${name}); the credentials lack the ` +
                `permission for it (see the README's IAM policy: s3:ListBucket and s3:GetObject to ` +
                `restore, s3:PutObject and s3:AbortMultipartUpload to save, s3:DeleteObject for health mode)`);
        case 'no-bucket':
            return `${where} does not exist; create it or fix the 's3-bucket' input`;
        case 'timeout':
            return `the S3 ${o.what} did not finish within ${Math.round((o.timeoutMs ?? 0) / 1000)} s (${where})`;
        case 'throttled':
            return `the S3 store kept answering ${name} (throttled or unavailable) to the ${o.what} (${where})`;
        case 'unreachable':
            return `cannot reach ${safeEndpoint(o.endpoint)} for the S3 ${o.what} (${networkCode(err)}); check 's3-endpoint' and that the store is up`;
        default: {
            const first = (err.message ?? String(e)).split('\n')[0].slice(0, 200);
            return `the S3 ${o.what} failed in ${where}: ${name}: ${first}`;
        }
    }
}

;// CONCATENATED MODULE: ./src/cache/s3/naming.ts
/**
 * How entries are named in an S3 bucket, and which one a lookup picks. Pure.
 *
 *   <s3-prefix>/<scope>/<key><ext>
 *
 * - `scope` is the git ref whose entries these are, without `refs/`, its kind
 *   kept and its name URI-encoded so it is always exactly two path segments:
 *   `heads/main`, `heads/feature%2Fx`, `tags/v1.2.0`, `pull/12%2Fmerge`. A
 *   pull request's own scope is its merge ref, never its head branch's name:
 *   a fork chooses that name, and must not write into `heads/main`.
 * - `key` is the action's key as on GitHub's service (with its `;gen=`).
 * - `ext` is the archive's compression, `.tar.zst` or `.tar.gz`: it plays the
 *   part of the entry version on GitHub's service, so a runner only ever
 *   looks at entries it can read, as @actions/cache only sees entries of its
 *   own compression.
 *
 * A job reads its own scope, then its pull request's base branch, then the
 * default branch (the scopes GitHub's service lets it read), and writes only
 * its own. In each scope the lookup goes as GitHub's service does: the
 * primary key exactly, else the newest entry whose key starts with it, then
 * each restore key the same way. "Newest" is LastModified (whole seconds on
 * most stores), ties broken by the larger name: generations carry their
 * save time in base 36, so a later generation sorts after an earlier one.
 */
const EXTENSIONS = { zstd: '.tar.zst', gzip: '.tar.gz' };
/** The s3-prefix as a leading path ('' or `a/b/`): no leading or doubled slashes. */
function prefixPath(s3Prefix) {
    const parts = s3Prefix.split('/').filter((p) => p !== '');
    return parts.length === 0 ? '' : `${parts.join('/')}/`;
}
/** `refs/heads/feature/x` → `heads/feature%2Fx`; a ref without `refs/` is taken as a branch. */
function scopeOfRef(ref) {
    const m = /^refs\/([^/]+)\/(.+)$/.exec(ref);
    if (!m)
        return `heads/${encodeURIComponent(ref || 'detached')}`;
    return `${m[1]}/${encodeURIComponent(m[2])}`;
}
/** The inverse of scopeOfRef: `heads/feature%2Fx` → `refs/heads/feature/x`. */
function refOfScope(scope) {
    const [kind, name] = scope.split('/');
    return `refs/${kind}/${decodeURIComponent(name)}`;
}
function objectName(s3Prefix, ref, key, c) {
    return `${prefixPath(s3Prefix)}${scopeOfRef(ref)}/${key}${EXTENSIONS[c]}`;
}
/** The listing prefix of `key` (and every key starting with it) in one ref's scope. */
function listPrefix(s3Prefix, ref, key) {
    return `${prefixPath(s3Prefix)}${scopeOfRef(ref)}/${key}`;
}
/** An object name under `s3Prefix` read back, or undefined for anything this action did not name. */
function parseObjectName(s3Prefix, name) {
    const base = prefixPath(s3Prefix);
    if (!name.startsWith(base))
        return undefined;
    const rest = name.slice(base.length).split('/');
    if (rest.length < 3 || rest[0] === '' || rest[1] === '')
        return undefined;
    const file = rest.slice(2).join('/');
    for (const [c, ext] of Object.entries(EXTENSIONS)) {
        if (file.endsWith(ext) && file.length > ext.length) {
            try {
                return {
                    ref: refOfScope(`${rest[0]}/${rest[1]}`),
                    key: file.slice(0, -ext.length),
                    compression: c,
                };
            }
            catch {
                return undefined; // a malformed %-escape: not ours
            }
        }
    }
    return undefined;
}
/** Newest first: LastModified, then the larger name. */
function newestFirst(a, b) {
    if (a.lastModified !== b.lastModified)
        return b.lastModified - a.lastModified;
    return a.name < b.name ? 1 : a.name > b.name ? -1 : 0;
}
/**
 * The object `key` matches in a listing of `prefix + key` (one scope): the
 * object named exactly `prefix + key + ext`, else the newest whose name starts
 * with `prefix + key` and ends with `ext`.
 */
function pickMatch(listing, prefix, key, ext) {
    const start = prefix + key;
    const candidates = listing.filter((o) => o.name.startsWith(start) &&
        o.name.endsWith(ext) &&
        o.name.length >= start.length + ext.length);
    const exact = candidates.find((o) => o.name === start + ext);
    if (exact)
        return exact;
    return [...candidates].sort(newestFirst)[0];
}
/**
 * `GITHUB_REF` is the job's own scope (for a pull request `refs/pull/N/merge`,
 * as on GitHub's service); `GITHUB_BASE_REF` adds the base branch; the
 * default branch comes from the event payload (`repository.default_branch`),
 * else `main`.
 */
function scopesFromEnv(env, defaultBranch) {
    const head = env['GITHUB_HEAD_REF'] ?? '';
    let own = env['GITHUB_REF'] ?? '';
    if (!own)
        own = `refs/heads/${head || env['GITHUB_REF_NAME'] || 'detached'}`;
    const reads = [own];
    const base = env['GITHUB_BASE_REF'] ?? '';
    if (base)
        reads.push(`refs/heads/${base}`);
    reads.push(`refs/heads/${defaultBranch || 'main'}`);
    return { own, reads: [...new Set(reads)] };
}

// EXTERNAL MODULE: external "node:child_process"
var external_node_child_process_ = __webpack_require__(1421);
// EXTERNAL MODULE: external "node:zlib"
var external_node_zlib_ = __webpack_require__(8522);
// EXTERNAL MODULE: ./src/cache/service/index.ts + 3 modules
var service = __webpack_require__(8989);
;// CONCATENATED MODULE: ./src/cache/s3/pack.ts
/**
 * A directory as a compressed tar stream, for the S3 save: what
 * src/restore/ extracts from any store. The members are `./`-relative paths
 * of the directory (as @actions/cache writes them with `.` as its path),
 * in POSIX (pax) format, compressed with zstd (Node's zlib on Node >= 22.15,
 * else the system `zstd`) or gzip when neither is there. Streamed: the
 * archive is never whole in memory or on disk.
 *
 * The stream ends only after tar and the compressor have both exited
 * cleanly; any failure destroys it with an Error instead, so an upload fed
 * from it fails (and is aborted) rather than storing a truncated archive.
 */




/** The compression an S3 save uses on this runner (and so the entries its lookups read). */
async function s3Compression() {
    if (typeof external_node_zlib_.createZstdCompress === 'function')
        return 'zstd';
    return (await (0,service/* compressionForSave */.$Z)()) === 'zstd-without-long' ? 'zstd' : 'gzip';
}
function tarArgs(dir) {
    // GNU tar on Linux (as the hosted runners); bsdtar elsewhere.
    const format = process.platform === 'linux' ? ['--posix'] : ['--format=pax'];
    return [...format, '-cf', '-', '-C', dir, '.'];
}
function packDirectory(dir, compression) {
    const out = new external_node_stream_.PassThrough({ highWaterMark: 4 << 20 });
    let bytes = 0;
    let failed = false;
    const fail = (e) => {
        if (failed)
            return;
        failed = true;
        out.destroy(e);
    };
    const tar = (0,external_node_child_process_.spawn)('tar', tarArgs(dir), { stdio: ['ignore', 'pipe', 'pipe'] });
    let tarErr = '';
    tar.stderr.on('data', (d) => (tarErr += d.toString()));
    tar.on('error', (e) => fail(new Error(`tar could not start: ${e.message}`)));
    const tarExit = new Promise((resolve) => {
        tar.on('close', (code, signal) => {
            if (code === 0)
                resolve();
            else
                fail(new Error(`tar failed (${signal ?? `exit ${code}`}): ${tarErr.trim() || 'no message'}`));
        });
    });
    let compressed;
    let compressorExit;
    const z = external_node_zlib_;
    if (compression === 'gzip' || typeof z.createZstdCompress === 'function') {
        const c = (compression === 'gzip'
            ? external_node_zlib_.createGzip({ level: 6 })
            : z.createZstdCompress());
        tar.stdout.pipe(c);
        c.on('error', (e) => fail(e));
        compressed = c;
        compressorExit = new Promise((resolve) => c.on('end', () => resolve()));
    }
    else {
        const child = (0,external_node_child_process_.spawn)('zstd', ['-q', '-c', '-T0'], { stdio: ['pipe', 'pipe', 'pipe'] });
        let zErr = '';
        child.stderr.on('data', (d) => (zErr += d.toString()));
        child.on('error', (e) => fail(new Error(`zstd could not start: ${e.message}`)));
        child.stdin.on('error', () => undefined); // its exit code says why
        tar.stdout.pipe(child.stdin);
        compressed = child.stdout;
        compressorExit = new Promise((resolve) => {
            child.on('close', (code, signal) => {
                if (code === 0)
                    resolve();
                else
                    fail(new Error(`zstd failed (${signal ?? `exit ${code}`}): ${zErr.trim() || 'no message'}`));
            });
        });
    }
    compressed.on('data', (d) => {
        bytes += d.length;
    });
    compressed.pipe(out, { end: false });
    const ended = new Promise((resolve) => compressed.on('end', () => resolve()));
    void Promise.all([tarExit, compressorExit, ended]).then(() => {
        if (!failed)
            out.end();
    });
    // A consumer that gives up (an aborted upload) stops the producers.
    out.on('close', () => {
        if (tar.exitCode === null)
            tar.kill();
    });
    return { stream: out, bytes: () => bytes };
}

;// CONCATENATED MODULE: ./src/cache/s3/store.ts
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








/** Parts of 16 MiB, 4 in flight: 64 MiB of memory at most, and up to 160 GB per entry. */
const PART_BYTES = 16 << 20;
const QUEUE = 4;
/** 50 pages of 1,000 objects: far beyond what one key prefix holds under a lifecycle rule. */
const MAX_PAGES = 50;
class S3Store {
    o;
    name = 's3';
    client;
    scopes;
    announced = false;
    constructor(o, env = process.env) {
        this.o = o;
        this.scopes = scopesFromEnv(env, (0,cache_event/* defaultBranchFromEvent */.w)(env['GITHUB_EVENT_PATH']));
        this.client = new dist_cjs.S3Client({
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
    get location() {
        return `s3://${this.o.bucket}/${prefixPath(this.o.prefix)}`;
    }
    why(e, what, timeoutMs) {
        return describeS3Error(e, {
            what,
            bucket: this.o.bucket,
            endpoint: this.o.endpoint,
            timeoutMs,
        });
    }
    async list(prefix, signal) {
        const out = [];
        let token;
        for (let page = 0; page < MAX_PAGES; page++) {
            const r = await this.client.send(new dist_cjs.ListObjectsV2Command({
                Bucket: this.o.bucket,
                Prefix: prefix,
                ContinuationToken: token,
            }), { abortSignal: signal });
            for (const c of r.Contents ?? []) {
                if (c.Key === undefined)
                    continue;
                out.push({ name: c.Key, lastModified: c.LastModified?.getTime() ?? 0, size: c.Size ?? 0 });
            }
            token = r.IsTruncated ? r.NextContinuationToken : undefined;
            if (!token)
                break;
        }
        return out;
    }
    async lookup(primaryKey, restoreKeys, timeoutMs) {
        const signal = AbortSignal.timeout(timeoutMs);
        const ext = EXTENSIONS[await s3Compression()];
        if (!this.announced) {
            this.announced = true;
            core/* info */.pq(`Cache store: ${this.location} (writes ${scopeOfRef(this.scopes.own)}; reads ` +
                `${this.scopes.reads.map(scopeOfRef).join(', then ')}).`);
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
        }
        catch (e) {
            // A refusal here is the store's configuration, not a cache mode: a warning.
            return {
                kind: 'unavailable',
                reason: this.why(signal.aborted ? signal.reason : e, 'lookup', timeoutMs),
            };
        }
    }
    /** The object's bytes as they arrive (one GetObject; the extraction reads as it comes). */
    open(name, size) {
        const stream = new external_node_stream_.PassThrough({ highWaterMark: 4 << 20 });
        let known = size;
        this.client
            .send(new dist_cjs.GetObjectCommand({ Bucket: this.o.bucket, Key: name }))
            .then((r) => {
            if (r.ContentLength !== undefined)
                known = r.ContentLength;
            // On Node the body is the HTTP response: a Readable.
            const body = r.Body;
            body.on('error', (e) => stream.destroy(new Error(`reading ${name}: ${e.message}`)));
            body.pipe(stream);
        })
            .catch((e) => stream.destroy(new Error(this.why(e, 'download'))));
        return { stream, sizeBytes: () => known };
    }
    async save(directory, key, timeoutMs) {
        const name = objectName(this.o.prefix, this.scopes.own, key, await s3Compression());
        const deadline = AbortSignal.timeout(timeoutMs);
        try {
            await this.client.send(new dist_cjs.HeadObjectCommand({ Bucket: this.o.bucket, Key: name }), {
                abortSignal: deadline,
            });
            return { kind: 'conflict', key };
        }
        catch (e) {
            if (classify(e) !== 'not-found') {
                return {
                    kind: 'failed',
                    reason: this.why(deadline.aborted ? deadline.reason : e, 'save', timeoutMs),
                };
            }
        }
        const packed = packDirectory(directory, await s3Compression());
        const upload = new lib_storage_dist_cjs/* Upload */._({
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
        let stopping;
        const stop = () => (stopping ??= (async () => {
            await upload.abort().catch(() => undefined);
            if (upload.uploadId === undefined)
                return;
            await this.client
                .send(new dist_cjs.AbortMultipartUploadCommand({
                Bucket: this.o.bucket,
                Key: name,
                UploadId: upload.uploadId,
            }))
                .catch(() => undefined);
        })());
        const onSignal = (sig) => {
            const code = 128 + (sig === 'SIGINT' ? 2 : 15);
            setTimeout(() => process.exit(code), 5000).unref();
            void stop().then(() => process.exit(code));
        };
        const onDeadline = () => void stop();
        deadline.addEventListener('abort', onDeadline);
        process.once('SIGTERM', onSignal);
        process.once('SIGINT', onSignal);
        try {
            await upload.done();
            return { kind: 'saved', key, archiveBytes: packed.bytes() };
        }
        catch (e) {
            packed.stream.destroy();
            await stop();
            if (classify(e) === 'conflict')
                return { kind: 'conflict', key };
            const cause = deadline.aborted ? deadline.reason : e;
            return { kind: 'failed', reason: this.why(cause, 'save', timeoutMs) };
        }
        finally {
            deadline.removeEventListener('abort', onDeadline);
            process.off('SIGTERM', onSignal);
            process.off('SIGINT', onSignal);
        }
    }
    inventory() {
        const names = new Map();
        const listAll = async () => this.list(prefixPath(this.o.prefix));
        return {
            list: async (keyPrefix) => {
                let listing;
                try {
                    listing = await listAll();
                }
                catch (e) {
                    return { kind: 'unavailable', reason: this.why(e, 'list') };
                }
                const entries = [];
                for (const o of listing) {
                    const parsed = parseObjectName(this.o.prefix, o.name);
                    if (!parsed || !parsed.key.startsWith(keyPrefix))
                        continue;
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
                }
                catch {
                    return undefined;
                }
            },
            deleteById: async (id) => {
                const name = names.get(id);
                if (!name)
                    return { kind: 'gone' };
                try {
                    await this.client.send(new dist_cjs.DeleteObjectCommand({ Bucket: this.o.bucket, Key: name }));
                    return { kind: 'deleted' };
                }
                catch (e) {
                    const t = classify(e);
                    if (t === 'not-found')
                        return { kind: 'gone' };
                    if (t === 'forbidden' || t === 'credentials') {
                        return { kind: 'forbidden', message: this.why(e, 'delete') };
                    }
                    return { kind: 'failed', reason: this.why(e, 'delete') };
                }
            },
        };
    }
}


/***/ })

};
