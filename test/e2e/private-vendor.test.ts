/**
 * GOFLAGS=-mod=vendor: the build reads vendor/, never the module cache. The
 * job says so in its summary and leaves the module cache alone (pre does not
 * restore it, main does not prove it, post does not save it) instead of
 * restoring an entry for nothing; the vendored build still runs offline.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OFFLINE, PrivateWorld } from './harness/private-world.js';

const run = promisify(execFile);
let pw: PrivateWorld;
let vendored = '';

beforeAll(async () => {
  pw = await PrivateWorld.create();
  vendored = path.join(pw.world.root, 'vendored-project');
  cpSync(pw.project, vendored, { recursive: true });
  // Asynchronously: the company proxy answers from this process.
  await run('go', ['mod', 'vendor'], {
    cwd: vendored,
    env: {
      ...pw.world.toolEnv(),
      ...pw.privateEnv(),
      NETRC: pw.proxy.writeNetrc(path.join(pw.world.root, 'vendor-netrc')),
    },
  });
}, 300_000);

afterAll(async () => {
  await pw?.dispose();
});

describe('GOFLAGS=-mod=vendor', () => {
  it('leaves the module cache alone and says why; the vendored build runs offline', async () => {
    // An entry exists for this environment: it is not restored for nothing.
    const first = await pw.job('netrc-in-home', 'vendor', { project: vendored });
    expect(first.succeeded, first.log).toBe(true);
    const saved = pw.world.entriesOf('vendor');
    expect(saved).toHaveLength(1);

    const job = await pw.job('none', 'vendor', {
      project: vendored,
      env: { ...OFFLINE, GOFLAGS: '-mod=vendor' },
      stepsAfterMain: ['go build -o app . && ./app'],
    });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.steps[0]?.exitCode).toBe(0);
    const notice = job.annotations.find((a) => a.message.startsWith('Module cache not used'));
    expect(notice?.level, job.log).toBe('notice');
    expect(notice?.message).toContain('GOFLAGS=-mod=vendor and every module in scope vendors');
    expect(job.summary).toContain('not needed: GOFLAGS=-mod=vendor');
    expect(job.summary).toContain('nothing: the build reads vendor/');
    expect(job.outputs['verified']).toBe('false');
    expect(job.outputs['cache-matched-key']).toBe('');
    expect(job.pre?.stdout).toContain('not restoring the module cache before checkout');
    expect(existsSync(path.join(job.home, 'go', 'pkg', 'mod', 'cache', 'download'))).toBe(false);
    expect(pw.world.entriesOf('vendor')).toEqual(saved);
  });

  it('-mod=vendor where a module does not vendor: main restores what pre left alone', async () => {
    const first = await pw.job('netrc-in-home', 'vendor-missing');
    expect(first.succeeded, first.log).toBe(true);
    const job = await pw.job('none', 'vendor-missing', {
      env: { ...OFFLINE, GOFLAGS: '-mod=vendor' },
    });
    expect(job.main.exitCode, job.log).toBe(0);
    expect(job.log).toContain('pre did not restore (GOFLAGS=-mod=vendor), but not every module');
    expect(job.outputs['hit-kind']).toBe('exact');
    expect(job.outputs['verified']).toBe('true');
  });

  it('without -mod=vendor the same project is cached and verified as usual', async () => {
    const job = await pw.job('none', 'vendor', { project: vendored, env: OFFLINE });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['hit-kind']).toBe('exact');
    expect(job.outputs['verified']).toBe('true');
  });
});
