/**
 * The common misconfigurations with private modules, each failing with what
 * is wrong and the fix: a company proxy that gets no credentials (401), and a
 * private module that GOPRIVATE/GONOSUMDB do not name, so Go asks the
 * checksum database about it (played by the company proxy's sumdb endpoint,
 * answering 404 and 410 as a public proxy does; no network). A wrong
 * password (403) is in private-secrets.test.ts; GOFLAGS=-mod=vendor in
 * private-vendor.test.ts.
 */
import { readFileSync, writeFileSync, cpSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, PrivateWorld } from './harness/private-world.js';

let pw: PrivateWorld;

beforeAll(async () => {
  pw = await PrivateWorld.create();
}, 300_000);

afterAll(async () => {
  await pw?.dispose();
});

type Job = Awaited<ReturnType<PrivateWorld['job']>>;

function failure(job: Job): string {
  expect(job.main.exitCode, job.log).not.toBe(0);
  expect(job.outputs['verified']).toBe('false');
  const error = job.annotations.find((a) => a.level === 'error')?.message;
  expect(error, job.log).toBeDefined();
  return error!;
}

describe('diagnostics for private modules', () => {
  it('no credentials: 401, and the message says the job hands Go none', async () => {
    const job = await pw.job('none', 'diag-401');
    const error = failure(job);
    expect(error).toMatch(/answered 401 Unauthorized: it wants credentials and got none/);
    expect(error).toContain(
      'The job hands Go no credentials: no NETRC, no .netrc in HOME, no GOAUTH, no userinfo in GOPROXY.',
    );
    expect(error).toMatch(/machine 127\.0\.0\.1:\d+ login <user> password <token>/);
    expect(error).toContain('not module cache corruption');
    expect(job.outputs['rebuilt']).toBe('false');
    expect(pw.world.entriesOf('diag-401')).toEqual([]);
  });

  it.each([404, 410] as const)(
    'a private module the checksum database never saw (%i): set GOPRIVATE',
    async (status) => {
      // go.sum lacks the private module's lines, so Go must look it up.
      const project = path.join(pw.world.root, `no-sums-${status}`);
      cpSync(pw.project, project, { recursive: true });
      const sums = readFileSync(path.join(project, 'go.sum'), 'utf8')
        .split('\n')
        .filter((l) => !l.startsWith(`${AUTH.path} `));
      writeFileSync(path.join(project, 'go.sum'), sums.join('\n'));
      pw.proxy.sumdb = { status };
      try {
        const job = await pw.job('netrc-in-home', `diag-sumdb-${status}`, {
          project,
          env: {
            GOSUMDB: 'sum.golang.org',
            // The public fixtures and the git host are left out of the lookup; the company's are not.
            GOPRIVATE: '',
            GONOSUMDB: 'example.com,git.internal.test',
            GONOPROXY: 'git.internal.test',
          },
        });
        const error = failure(job);
        expect(error).toContain(
          `the checksum database has no record of ${AUTH.path}@${AUTH.version} (${status} ` +
            `${status === 404 ? 'Not Found' : 'Gone'})`,
        );
        expect(error).toContain('GOPRIVATE unset, GONOSUMDB=example.com,git.internal.test');
        expect(error).toContain('Fix: set GOPRIVATE: corp.example.test');
        expect(pw.world.entriesOf(`diag-sumdb-${status}`)).toEqual([]);
      } finally {
        pw.proxy.sumdb = undefined;
      }
    },
  );
});
