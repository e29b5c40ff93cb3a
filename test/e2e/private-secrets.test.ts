/**
 * Secrets stay out: with credentials handed to Go every way it takes them
 * (userinfo in GOPROXY, GOAUTH, a .netrc in HOME, NETRC; right and wrong),
 * nothing the action wrote holds them: no stage's stdout or stderr, no file
 * command (GITHUB_OUTPUT, STATE, ENV, STEP_SUMMARY), no file in the runner's
 * temp or workspace (the record, the health report), no cache key and no
 * saved entry's content. The one place a secret may appear is the runner's
 * own `::add-mask::` command, which registers it so the runner masks it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateWorld, SECRET, USER, type Credentials } from './harness/private-world.js';

let pw: PrivateWorld;
const WRONG = 'wr0ng-t0ken-not-this-one';

beforeAll(async () => {
  pw = await PrivateWorld.create();
}, 300_000);

afterAll(async () => {
  await pw?.dispose();
});

/** Every form in which a password could be written: plain, in a basic-auth header, URL-encoded. */
function forms(password: string): string[] {
  return [
    password,
    Buffer.from(`${USER}:${password}`).toString('base64'),
    encodeURIComponent(`${USER}:${password}`),
  ];
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

type Job = Awaited<ReturnType<PrivateWorld['job']>>;

/** What the action wrote for one job: `[where, text]` pairs. */
function writtenBy(job: Job): [string, string][] {
  const out: [string, string][] = [];
  for (const stage of [job.pre, job.main, job.post]) {
    if (!stage) continue;
    const stdout = stage.stdout
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n');
    out.push([`${stage.stage} stdout`, stdout], [`${stage.stage} stderr`, stage.stderr]);
  }
  // The job folder: the file commands of every stage, RUNNER_TEMP, the workspace.
  const jobDir = path.dirname(path.dirname(job.workspace));
  for (const f of filesUnder(jobDir)) {
    if (statSync(f).size < 8 * 1024 * 1024) out.push([f, readFileSync(f).toString('latin1')]);
  }
  return out;
}

/** The keys and the full content of every entry the cache service holds. */
function entries(): [string, string][] {
  return pw.world.server
    .finalized()
    .map((e) => [
      `entry ${e.key}`,
      e.key +
        execFileSync('tar', ['-xOf', e.file], { maxBuffer: 1 << 28 }).toString('latin1') +
        execFileSync('tar', ['-tf', e.file], { maxBuffer: 1 << 26 }).toString('latin1'),
    ]);
}

function expectNoSecret(written: [string, string][], passwords: string[]): void {
  const leaks: string[] = [];
  for (const [where, text] of written) {
    for (const p of passwords)
      for (const f of forms(p)) if (text.includes(f)) leaks.push(`${where}: ${f}`);
  }
  expect(leaks).toEqual([]);
}

describe('no credential in anything the action wrote', () => {
  const jobs: Job[] = [];

  it.each<Credentials>(['userinfo', 'GOAUTH', 'netrc-in-home', 'NETRC'])(
    '%s: cold, warm and health runs write no credential',
    async (how) => {
      const environment = `secrets-${how.toLowerCase()}`;
      const cold = await pw.job(how, environment);
      expect(cold.succeeded, cold.log).toBe(true);
      const warm = await pw.job(how, environment);
      expect(warm.outputs['hit-kind'], warm.log).toBe('exact');
      const health = await pw.health(how, environment);
      expect(health.main.exitCode, health.log).toBe(0);
      expect(health.outputs['report']).toBeTruthy();
      jobs.push(cold, warm, health);
      const written = [cold, warm, health].flatMap(writtenBy);
      // The search covers the health report and main's file commands, not just the logs.
      const where = written.map(([w]) => w);
      expect(where.some((w) => w.endsWith('verified-go-cache-health.json'))).toBe(true);
      expect(where.some((w) => w.endsWith('main-github_output'))).toBe(true);
      expect(where.some((w) => w.endsWith('post-github_step_summary'))).toBe(true);
      expectNoSecret(written, [SECRET]);
    },
  );

  it('wrong credentials fail the job with a message that names sources, never values', async () => {
    const named = {
      userinfo: 'userinfo in GOPROXY',
      GOAUTH: 'GOAUTH is set (a command)',
      'netrc-in-home': 'a .netrc in HOME',
    } as const;
    for (const how of ['userinfo', 'GOAUTH', 'netrc-in-home'] as const) {
      const job = await pw.job(how, `secrets-wrong-${how.toLowerCase()}`, { password: WRONG });
      expect(job.main.exitCode, job.log).not.toBe(0);
      const error = job.annotations.find((a) => a.level === 'error')?.message ?? '';
      expect(error, job.log).toContain('answered 403 Forbidden: it refused the credentials');
      expect(error).toContain(`The job hands Go credentials through: ${named[how]}.`);
      expect(error).toMatch(/Fix: write a \.netrc from a secret/);
      jobs.push(job);
      expectNoSecret(writtenBy(job), [WRONG, SECRET]);
    }
  });

  it('the GOPROXY userinfo is registered with the runner and shown masked', () => {
    const withUserinfo = jobs[0]!;
    expect(withUserinfo.main.stdout).toContain(`::add-mask::${SECRET}`);
    expect(withUserinfo.pre?.stdout).toContain(`::add-mask::${SECRET}`);
    expect(withUserinfo.main.stdout).toMatch(
      /Module sources: GOPROXY=https:\/\/\*\*\*@127\.0\.0\.1:\d+,file:\/\//,
    );
    expect(withUserinfo.main.stdout).toMatch(/GOPRIVATE=corp\.example\.test,git\.internal\.test/);
  });

  it('no saved entry, key or listing holds a credential', () => {
    const all = entries();
    expect(all.length).toBeGreaterThanOrEqual(4);
    expectNoSecret(all, [SECRET, WRONG]);
  });
});
