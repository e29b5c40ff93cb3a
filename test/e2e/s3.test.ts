/**
 * The S3 backend end to end, against a real S3-compatible server on loopback
 * (versitygw over a temporary posix directory: test/e2e/harness/s3-server.ts).
 * The jobs are the bundled stages under the runner's protocol, as in every
 * e2e suite; GitHub's cache service of the world is there too and must stay
 * empty. Nothing of S3 is mocked: what the assertions read is what the
 * server holds.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../src/cache/s3/store.js';
import { corrupt } from './harness/corrupt.js';
import { REPO_ROOT } from './harness/runner.js';
import { S3Proxy } from './harness/s3-proxy.js';
import { freePort, S3_SECRET_KEY, S3Server } from './harness/s3-server.js';
import { World } from './harness/world.js';

let world: World;
let s3: S3Server;
let prefixes = 0;

beforeAll(async () => {
  world = await World.create({ modules: 8 });
  s3 = await S3Server.start();
});

afterAll(async () => {
  await s3?.stop();
  await world?.dispose();
});

/** A fresh s3-prefix per test: each starts with an empty store. */
function freshPrefix(): string {
  return `ci/t${++prefixes}`;
}

type JobArgs = Parameters<World['job']>[0];

/** A job on the S3 store under `prefix` (its inputs and credentials), plus whatever `o` adds. */
function s3Job(prefix: string, o: JobArgs = {}, endpoint?: string, secret?: string) {
  return world.job({
    ...o,
    inputs: { ...s3.inputsFor(prefix, endpoint), ...(o.inputs ?? {}) },
    env: { ...s3.envFor({ secret }), ...(o.env ?? {}) },
  });
}

/** The entries (objects) under `prefix`. */
async function entries(prefix: string): Promise<string[]> {
  return s3.keys(`${prefix}/`);
}

/** The module cache of `home` as a zstd tar, the way the action saves one. */
function packModCache(modCache: string): Buffer {
  const tar = execFileSync('tar', ['--posix', '-cf', '-', '-C', modCache, '.'], {
    maxBuffer: 1 << 30,
  });
  return execFileSync('zstd', ['-q', '-c'], { input: tar, maxBuffer: 1 << 30 });
}

describe('cold, warm offline, lineage', () => {
  it('a cold job saves one object in its branch scope; the warm job is an exact, verified hit offline', async () => {
    const prefix = freshPrefix();
    const cold = await s3Job(prefix, { inputs: { environment: 'ci' } });
    expect(cold.succeeded, cold.log).toBe(true);
    expect(cold.outputs['hit-kind']).toBe('miss');
    expect(cold.outputs['verified']).toBe('true');
    const saved = await entries(prefix);
    expect(saved).toHaveLength(1);
    expect(saved[0]!.startsWith(`${prefix}/heads/main/${cold.outputs['cache-key']};gen=`)).toBe(
      true,
    );
    expect(saved[0]!.endsWith('.tar.zst')).toBe(true);
    expect(await s3.openUploads(prefix)).toEqual([]);
    // Nothing went to GitHub's cache service.
    expect(world.server.keys()).toEqual([]);
    // No credential in any log line.
    expect(cold.log).not.toContain(S3_SECRET_KEY);

    const warm = await s3Job(prefix, {
      inputs: { environment: 'ci' },
      env: { GOPROXY: 'off' },
      stepsAfterMain: ['go build -o app . && ./app'],
    });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.outputs['verified']).toBe('true');
    expect(`${prefix}/heads/main/${warm.outputs['cache-matched-key']}.tar.zst`).toBe(saved[0]);
    expect(warm.pre?.stdout).toContain('Restored');
    expect(warm.pre?.stdout).toContain(
      `Cache store: s3://${s3.bucket}/${prefix}/ (writes heads/main; reads heads/main).`,
    );
    expect(warm.post.stdout).toContain('exact hit, verified, nothing new to save');
    expect(await entries(prefix)).toEqual(saved);
  });

  it('a go.sum change restores the lineage, downloads only the new module and saves a new entry', async () => {
    const prefix = freshPrefix();
    const first = await s3Job(prefix, { inputs: { environment: 'bump' } });
    expect(first.succeeded, first.log).toBe(true);
    const bumped = world.writeProject(path.join(world.root, 'project-s3-bumped'), {
      'example.com/m001': 'v1.1.0',
    });
    const onlyNew = world.proxySubset('s3-bump', [{ path: 'example.com/m001', version: 'v1.1.0' }]);
    const second = await s3Job(prefix, {
      project: bumped,
      inputs: { environment: 'bump' },
      env: { GOPROXY: onlyNew },
    });
    expect(second.succeeded, second.log).toBe(true);
    expect(second.outputs['hit-kind']).toBe('lineage');
    expect(second.outputs['cache-matched-key']!.startsWith(first.outputs['cache-key']!)).toBe(true);
    const all = await entries(prefix);
    expect(all).toHaveLength(2);
    expect(all.some((k) => k.includes(`${second.outputs['cache-key']};gen=`))).toBe(true);
  });
});

/**
 * A cold job of `environment`, then a corrupt generation of its entry (module
 * `victim` modified) planted as the newest object, the way a writer outside the
 * action could: the good object and the planted one.
 */
async function seedAndPlantCorrupt(prefix: string, environment: string, victim: string) {
  const seed = await s3Job(prefix, { inputs: { environment } });
  expect(seed.succeeded, seed.log).toBe(true);
  const [good] = await entries(prefix);
  const modCache = world.modCache(path.join(world.cloneRunner(seed.home), 'home'));
  corrupt(modCache, victim, 'v1.0.0', 'modified-file');
  await new Promise((r) => setTimeout(r, 1100)); // LastModified has whole seconds
  const planted = `${prefix}/heads/main/${seed.outputs['cache-key']};gen=0planted.tar.zst`;
  await s3
    .client()
    .send(new PutObjectCommand({ Bucket: s3.bucket, Key: planted, Body: packModCache(modCache) }));
  return { seed, good: good!, planted };
}

describe('corruption', () => {
  it('a corrupt newest entry is caught and healed, and the healed entry is what the next job gets', async () => {
    const prefix = freshPrefix();
    const { seed, good, planted } = await seedAndPlantCorrupt(prefix, 'heal', 'example.com/m003');

    const healing = await s3Job(prefix, { inputs: { environment: 'heal' } });
    expect(healing.succeeded, healing.log).toBe(true);
    expect(healing.outputs['cache-matched-key']).toBe(`${seed.outputs['cache-key']};gen=0planted`);
    expect(healing.outputs['corrupt-modules']).toContain('example.com/m003@v1.0.0');
    expect(healing.outputs['verified']).toBe('true');
    const all = await entries(prefix);
    expect(all).toHaveLength(3);

    const next = await s3Job(prefix, { inputs: { environment: 'heal' }, env: { GOPROXY: 'off' } });
    expect(next.succeeded, next.log).toBe(true);
    expect(next.outputs['hit-kind']).toBe('exact');
    expect(next.outputs['corrupt-modules'] ?? '').toBe('');
    const healed = all.filter((k) => k !== planted && k !== good);
    expect(healed).toHaveLength(1);
    expect(`${prefix}/heads/main/${next.outputs['cache-matched-key']}.tar.zst`).toBe(healed[0]);
  });
});

/** An event payload naming the default branch, as the runner writes one. */
function eventFile(name: string, defaultBranch = 'main'): string {
  const file = path.join(world.root, `event-${name}.json`);
  writeFileSync(file, JSON.stringify({ repository: { default_branch: defaultBranch } }));
  return file;
}

describe('branch scoping and pull requests', () => {
  it('a pull request restores the default branch entry and, with save: never, saves nothing', async () => {
    const prefix = freshPrefix();
    const onMain = await s3Job(prefix, { inputs: { environment: 'pr' } });
    expect(onMain.succeeded, onMain.log).toBe(true);
    const before = await entries(prefix);
    const pr = await s3Job(prefix, {
      headRef: 'feature/x',
      inputs: { environment: 'pr', save: 'never' },
      env: { GOPROXY: 'off', GITHUB_EVENT_PATH: eventFile('pr') },
    });
    expect(pr.succeeded, pr.log).toBe(true);
    expect(pr.outputs['hit-kind']).toBe('lineage');
    expect(pr.outputs['cache-matched-key']!.startsWith(onMain.outputs['cache-key']!)).toBe(true);
    expect(pr.outputs['verified']).toBe('true');
    expect(pr.post.stdout).toContain("save is 'never'");
    expect(await entries(prefix)).toEqual(before);
  });

  it('a pull request with read-only credentials restores, verifies, cannot save, and stays green', async () => {
    const prefix = freshPrefix();
    const onMain = await s3Job(prefix, { inputs: { environment: 'pr-ro' } });
    expect(onMain.succeeded, onMain.log).toBe(true);
    const before = await entries(prefix);
    await s3.addReadOnlyUser('vgc-reader', 'vgc-reader-secret-000');
    const pr = await s3Job(prefix, {
      headRef: 'feature/ro',
      inputs: { environment: 'pr-ro' },
      env: {
        GOPROXY: 'off',
        GITHUB_EVENT_PATH: eventFile('pr-ro'),
        ...s3.envFor({ access: 'vgc-reader', secret: 'vgc-reader-secret-000' }),
      },
    });
    expect(pr.succeeded, pr.log).toBe(true);
    expect(pr.outputs['hit-kind']).toBe('lineage');
    expect(pr.outputs['verified']).toBe('true');
    const warnings = pr.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
    expect(warnings.some((w) => /denied the save .*s3:PutObject/.test(w))).toBe(true);
    expect(pr.log).not.toContain('vgc-reader-secret-000');
    expect(await entries(prefix)).toEqual(before);
  });

  it("a pull request saves into its merge ref's scope, which no branch reads; a feature branch's entry is not the default branch's", async () => {
    const prefix = freshPrefix();
    const pr = await s3Job(prefix, {
      headRef: 'main',
      inputs: { environment: 'scope' },
      env: { GITHUB_EVENT_PATH: eventFile('scope') },
    });
    expect(pr.succeeded, pr.log).toBe(true);
    const saved = await entries(prefix);
    expect(saved).toHaveLength(1);
    // A head branch named "main" (a fork chooses it) still writes to the pull request's scope.
    expect(saved[0]!.startsWith(`${prefix}/pull/1%2Fmerge/`)).toBe(true);
    const feature = await s3Job(prefix, { branch: 'feature-y', inputs: { environment: 'scope' } });
    expect(feature.succeeded, feature.log).toBe(true);
    expect(feature.outputs['hit-kind']).toBe('miss');
    expect((await entries(prefix)).some((k) => k.startsWith(`${prefix}/heads/feature-y/`))).toBe(
      true,
    );
    const main = await s3Job(prefix, { inputs: { environment: 'scope' } });
    expect(main.succeeded, main.log).toBe(true);
    expect(main.outputs['hit-kind']).toBe('miss');
  });
});

describe('two jobs saving the same key', () => {
  it('matrix siblings of one run: both green, one object, whole and restorable', async () => {
    const prefix = freshPrefix();
    const runId = String(Date.now());
    const [a, b] = await Promise.all([
      s3Job(prefix, { runId, inputs: { environment: 'race' } }),
      s3Job(prefix, { runId, inputs: { environment: 'race' } }),
    ]);
    expect(a.succeeded, a.log).toBe(true);
    expect(b.succeeded, b.log).toBe(true);
    const saved = await entries(prefix);
    expect(saved).toHaveLength(1);
    const told = [a, b].filter((j) =>
      /Another job is saving|saved while this job ran/.test(j.post.stdout),
    );
    expect(told).toHaveLength(1);
    const warm = await s3Job(prefix, { inputs: { environment: 'race' }, env: { GOPROXY: 'off' } });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.outputs['verified']).toBe('true');
  });

  it('two saves of one key at the same moment: one is stored, the other is told of the conflict', async () => {
    const prefix = freshPrefix();
    const dir = path.join(world.root, 's3-race-dir');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'payload.bin'), randomBytes(24 << 20));
    Object.assign(process.env, s3.envFor());
    const store = () =>
      new S3Store(
        {
          bucket: s3.bucket,
          prefix,
          region: 'us-east-1',
          endpoint: s3.endpoint,
          forcePathStyle: true,
        },
        { GITHUB_REF: 'refs/heads/main' },
      );
    const results = await Promise.all([
      store().save(dir, 'k;gen=1', 60_000),
      store().save(dir, 'k;gen=1', 60_000),
    ]);
    expect(results.map((r) => r.kind).sort()).toEqual(['conflict', 'saved']);
    expect(await entries(prefix)).toEqual([`${prefix}/heads/main/k;gen=1.tar.zst`]);
    expect(await s3.openUploads(prefix)).toEqual([]);
    // The stored object is one whole archive of the directory.
    const tar = execFileSync('zstd', ['-d', '-c'], {
      input: await s3.getObject(`${prefix}/heads/main/k;gen=1.tar.zst`),
      maxBuffer: 1 << 28,
    });
    const listing = execFileSync('tar', ['-tvf', '-'], { input: tar, encoding: 'utf8' });
    expect(listing).toContain(String(24 << 20));
  });
});

describe('health mode on S3', () => {
  it('lists every entry of the prefix, deletes the corrupt and superseded ones, and gives the usage', async () => {
    const prefix = freshPrefix();
    const { good, planted } = await seedAndPlantCorrupt(prefix, 'hm', 'example.com/m002');
    await new Promise((r) => setTimeout(r, 1100));

    const run = await s3Job(prefix, {
      inputs: { mode: 'health', environment: 'hm', 'delete-superseded': 'true' },
    });
    expect(run.main.exitCode, run.log).toBe(0);
    expect(run.summary).toContain(`Store total under \`s3://${s3.bucket}/${prefix}/\``);
    expect(run.summary).toContain('example.com/m002@v1.0.0');
    const after = await entries(prefix);
    expect(after).not.toContain(planted);
    expect(after).not.toContain(good);
    expect(after).toHaveLength(1);

    const next = await s3Job(prefix, { inputs: { environment: 'hm' }, env: { GOPROXY: 'off' } });
    expect(next.succeeded, next.log).toBe(true);
    expect(next.outputs['hit-kind']).toBe('exact');
    expect(`${prefix}/heads/main/${next.outputs['cache-matched-key']}.tar.zst`).toBe(after[0]);
  });
});

describe('a store in trouble never fails the job', () => {
  it('the server down: a warning naming the endpoint, a green job that downloads and saves nothing', async () => {
    const prefix = freshPrefix();
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const job = await s3Job(prefix, { inputs: { environment: 'down' } }, nobody);
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['hit-kind']).toBe('miss');
    expect(job.outputs['verified']).toBe('true');
    const warnings = job.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
    expect(warnings.some((w) => w.includes(`cannot reach ${nobody}`))).toBe(true);
    expect(await entries(prefix)).toEqual([]);
  });

  it('503 SlowDown for the first requests: retried with backoff, the job is an exact hit', async () => {
    const prefix = freshPrefix();
    const cold = await s3Job(prefix, { inputs: { environment: 'slow' } });
    expect(cold.succeeded, cold.log).toBe(true);
    const proxy = new S3Proxy(s3.endpoint, 4);
    const via = await proxy.start();
    try {
      const warm = await s3Job(
        prefix,
        { inputs: { environment: 'slow' }, env: { GOPROXY: 'off' } },
        via,
      );
      expect(warm.succeeded, warm.log).toBe(true);
      expect(warm.outputs['hit-kind']).toBe('exact');
      expect(proxy.slowDowns).toBe(4);
      expect(proxy.forwarded).toBeGreaterThan(0);
    } finally {
      await proxy.stop();
    }
  });

  it('503 SlowDown on every request: a warning that says so, a green job', async () => {
    const prefix = freshPrefix();
    const proxy = new S3Proxy(s3.endpoint, Number.POSITIVE_INFINITY);
    const via = await proxy.start();
    try {
      const job = await s3Job(
        prefix,
        // Deadlines well past the SDK's own retries: the warning must carry the store's
        // last answer (SlowDown), not a deadline that a loaded machine reaches first.
        { inputs: { environment: 'throttled', 'lookup-timeout': '90', 'save-timeout': '90' } },
        via,
      );
      expect(job.succeeded, job.log).toBe(true);
      const warnings = job.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
      expect(warnings.some((w) => w.includes('SlowDown'))).toBe(true);
      expect(proxy.forwarded).toBe(0);
    } finally {
      await proxy.stop();
    }
    expect(await entries(prefix)).toEqual([]);
  });

  it('refused credentials: a warning naming what to fix, never the secret, and a green job', async () => {
    const prefix = freshPrefix();
    const wrong = 'wrong-secret-value-0000';
    const job = await s3Job(prefix, { inputs: { environment: 'creds' } }, undefined, wrong);
    expect(job.succeeded, job.log).toBe(true);
    const warnings = job.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
    expect(warnings.some((w) => /refused the credentials.*AWS_SECRET_ACCESS_KEY/.test(w))).toBe(
      true,
    );
    expect(job.log).not.toContain(wrong);
    expect(job.summary).not.toContain(wrong);
    expect(await entries(prefix)).toEqual([]);
  });
});

describe('a save killed mid-upload', () => {
  /** Starts an S3 save of a 48 MiB directory through a slow link, and signals it once its multipart upload has begun. */
  async function killMidUpload(
    signal: NodeJS.Signals,
  ): Promise<{ prefix: string; code: number | null; out: string }> {
    const prefix = freshPrefix();
    const dir = path.join(world.root, `s3-kill-${signal}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'payload.bin'), randomBytes(48 << 20));
    const proxy = new S3Proxy(s3.endpoint, 0, 8 << 20);
    const via = await proxy.start();
    try {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(REPO_ROOT, 'test/e2e/harness/s3-save.ts'), dir, 'k;gen=1'],
        {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            ...s3.envFor(),
            GITHUB_REF: 'refs/heads/main',
            VGC_S3_OPTIONS: JSON.stringify({
              bucket: s3.bucket,
              prefix,
              region: 'us-east-1',
              endpoint: via,
              forcePathStyle: true,
            }),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      for (let i = 0; i < 300 && (await s3.openUploads(prefix)).length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await s3.openUploads(prefix), out).toHaveLength(1);
      child.kill(signal);
      const code = await exited;
      return { prefix, code, out };
    } finally {
      await proxy.stop();
    }
  }

  it('post killed while it uploads (a runner that dies): no object is listed, the next job misses', async () => {
    const prefix = freshPrefix();
    // Modules big enough that the entry takes seconds to send at 128 KiB/s.
    const big = await World.create({ modules: 4, payloadBytes: 1 << 20 });
    const proxy = new S3Proxy(s3.endpoint, 0, 128 << 10);
    const via = await proxy.start();
    const bigJob = (o: JobArgs) =>
      big.job({
        ...o,
        inputs: { environment: 'killed', ...s3.inputsFor(prefix, via) },
        env: s3.envFor(),
      });
    let killed = false;
    try {
      const job = await bigJob({
        onStageStart: (stage, child) => {
          if (stage !== 'post') return;
          const timer = setInterval(() => {
            if (proxy.puts === 0) return;
            clearInterval(timer);
            killed = child.kill('SIGKILL');
          }, 10);
          child.once('exit', () => clearInterval(timer));
        },
      });
      expect(killed, job.log).toBe(true);
      expect(job.post.exitCode).not.toBe(0);
      expect(job.post.stdout).not.toContain('Saved ');
      await new Promise((r) => setTimeout(r, 500));
      expect(await entries(prefix)).toEqual([]);
      proxy.bytesPerSecond = 0;
      const next = await bigJob({});
      expect(next.succeeded, next.log).toBe(true);
      expect(next.outputs['hit-kind']).toBe('miss');
      expect(await entries(prefix)).toHaveLength(1);
    } finally {
      await proxy.stop();
      await big.dispose();
    }
  });

  it('SIGTERM (a cancelled job): the upload is aborted, nothing is listed, no parts are left', async () => {
    const { prefix, out } = await killMidUpload('SIGTERM');
    expect(out).not.toContain('"kind":"saved"');
    expect(await entries(prefix)).toEqual([]);
    expect(await s3.openUploads(prefix)).toEqual([]);
  });

  it('SIGKILL: nothing is listed (the parts wait for the bucket lifecycle rule)', async () => {
    const { prefix } = await killMidUpload('SIGKILL');
    expect(await entries(prefix)).toEqual([]);
  });
});
