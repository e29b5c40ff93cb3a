/**
 * Bad inputs get errors that name the input and the fix (or a sanitised key);
 * a go.sum checksum mismatch on download fails the job and saves nothing.
 */
import { cpSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GO_BIN, World } from './harness/world.js';
import { zipBuffer } from './harness/zip.js';

let world: World;

beforeAll(async () => {
  world = await World.create({ modules: 4 });
});

afterAll(async () => {
  await world?.dispose();
});

const errors = (job: { annotations: { level: string; message: string }[] }): string =>
  job.annotations
    .filter((a) => a.level === 'error')
    .map((a) => a.message)
    .join('\n');

describe('bad inputs', () => {
  it('an unknown on-corruption value fails in pre, naming the input and the fix', async () => {
    const job = await world.job({ inputs: { 'on-corruption': 'sometimes' } });
    expect(job.succeeded).toBe(false);
    expect(job.pre?.exitCode).toBe(1);
    expect(errors(job)).toContain(
      `Input 'on-corruption': "sometimes" is not one of "rebuild", "fail"`,
    );
    expect(errors(job)).toContain("Set 'on-corruption: rebuild'");
  });

  it('the same error from main when pre did not run', async () => {
    const job = await world.job({ inputs: { 'on-corruption': 'sometimes' }, skipPre: true });
    expect(job.main.exitCode).toBe(1);
    expect(errors(job)).toContain(`Input 'on-corruption'`);
    expect(world.server.calls('CreateCacheEntry').length).toBe(0);
  });

  it('a go-sum-files glob that matches nothing', async () => {
    const job = await world.job({ inputs: { 'go-sum-files': 'services/**/go.sum' } });
    expect(job.main.exitCode).toBe(1);
    expect(errors(job)).toContain(`Input 'go-sum-files': no file under`);
    expect(errors(job)).toContain('services/**/go.sum');
    expect(errors(job)).toContain('Fix the globs');
  });

  it('an environment name with commas and spaces becomes a safe, distinct key part', async () => {
    const job = await world.job({ inputs: { environment: 'prod, eu west' } });
    expect(job.succeeded, job.log).toBe(true);
    const key = job.outputs['cache-key']!;
    expect(key).not.toMatch(/[, ]/);
    expect(key).toMatch(/;env=prod__eu_west~[0-9a-f]{8};/);
    const other = await world.job({ inputs: { environment: 'prod_ eu_west' } });
    expect(other.outputs['cache-key']).not.toBe(key);
    expect(other.outputs['hit-kind']).toBe('miss');
    expect(world.server.keys().some((k) => k.startsWith(key))).toBe(true);
  });

  it('Go missing from PATH: an error that names actions/setup-go with cache: false', async () => {
    const pathWithoutGo = (process.env['PATH'] ?? '')
      .split(path.delimiter)
      .filter((p) => path.resolve(p) !== path.resolve(GO_BIN))
      .join(path.delimiter);
    const job = await world.job({ inputs: { environment: 'no-go' }, env: { PATH: pathWithoutGo } });
    expect(job.main.exitCode).toBe(1);
    expect(errors(job)).toContain('Go was not found on PATH');
    expect(errors(job)).toContain("'uses: actions/setup-go@v6' with 'cache: false'");
    expect(job.post.stdout).toContain('Not saving');
  });
});

describe('SECURITY ERROR', () => {
  it("content that disagrees with go.sum fails the step with Go's message; nothing is saved", async () => {
    const evil = path.join(world.root, 'proxy-evil');
    cpSync(world.proxyDir, evil, { recursive: true });
    const dir = path.join(evil, 'example.com', 'm002', '@v');
    expect(readdirSync(dir)).toContain('v1.0.0.zip');
    writeFileSync(
      path.join(dir, 'v1.0.0.zip'),
      zipBuffer([
        {
          name: 'example.com/m002@v1.0.0/go.mod',
          data: 'module example.com/m002\n\ngo 1.21\n\nrequire example.com/m000 v1.0.0\n',
        },
        {
          name: 'example.com/m002@v1.0.0/m002.go',
          data: 'package m002\n\nfunc F() int { return 666 }\n',
        },
      ]),
    );
    const before = world.server.calls('CreateCacheEntry').length;
    const job = await world.job({
      inputs: { environment: 'evil' },
      env: { GOPROXY: pathToFileURL(evil).href },
    });
    expect(job.succeeded).toBe(false);
    expect(job.main.exitCode).toBe(1);
    const text = errors(job);
    expect(text).toContain('SECURITY ERROR');
    expect(text).toContain('verifying example.com/m002@v1.0.0: checksum mismatch');
    expect(text).toContain('not module cache corruption');
    expect(job.outputs['verified']).toBe('false');
    expect(job.outputs['rebuilt']).toBe('false');
    expect(world.server.calls('CreateCacheEntry').length).toBe(before);
    expect(world.server.keys().filter((k) => k.includes(';env=evil;'))).toEqual([]);
    expect(job.summary).toContain('SECURITY ERROR');
  });
});
