/**
 * Private modules, end to end with real parts: a company GOPROXY on loopback
 * (HTTPS, basic auth; credentials from a .netrc in the runner's HOME, from
 * NETRC, from GOAUTH or as userinfo in GOPROXY) serving modules no checksum
 * database knows, and modules fetched directly from local git repositories
 * (GOPRIVATE, GONOPROXY, the git binary). Cold, warm offline, corruption
 * healed and health mode behave as for public modules, and every private
 * module is verified against go.sum.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthProxy } from './harness/auth-proxy.js';
import { corrupt, type Corruption } from './harness/corrupt.js';
import { createGitModules, type GitModules } from './harness/git-modules.js';
import { plantEntry } from './harness/plant-entry.js';
import { RestApi } from './harness/rest-api.js';
import { REPO_ROOT } from './harness/runner.js';
import { World } from './harness/world.js';

export const USER = 'ci-bot';
/** The credential no file, log or entry the action writes may contain. */
export const SECRET = 'tok-5up3r-s3cr3t-p4ss';

export const AUTH = { path: 'corp.example.test/platform/auth', version: 'v1.0.0' };
export const LOG = { path: 'corp.example.test/platform/log', version: 'v1.2.0' };
export const LIB = { path: 'git.internal.test/team/lib.git', version: 'v1.1.0' };
const PRIVATE_IDS = [AUTH, LOG, LIB].map((m) => `${m.path}@${m.version}`);
/** 4 public modules, 2 from the company proxy, 1 from git. */
const MODULES = 7;

let world: World;
let proxy: AuthProxy;
let git: GitModules;
let api: RestApi;
let project: string;
let runners = 0;

export function goFile(pkg: string, n: number): Record<string, string> {
  return { [`${pkg}.go`]: `package ${pkg}\n\nfunc F() int { return ${n} }\n` };
}

beforeAll(async () => {
  world = await World.create({ modules: 4 });
  proxy = await AuthProxy.start(path.join(world.root, 'company-proxy'), {
    user: USER,
    password: SECRET,
  });
  proxy.publish({
    ...AUTH,
    goMod: `module ${AUTH.path}\n\ngo 1.21\n`,
    files: goFile('auth', 100),
  });
  proxy.publish({
    ...LOG,
    goMod: `module ${LOG.path}\n\ngo 1.21\n\nrequire ${AUTH.path} ${AUTH.version}\n`,
    files: {
      'log.go': `package log\n\nimport a "${AUTH.path}"\n\nfunc F() int { return a.F() + 1 }\n`,
    },
  });
  git = createGitModules(path.join(world.root, 'git'), [
    {
      path: LIB.path,
      versions: [
        { version: 'v1.0.0', files: goFile('lib', 10) },
        { version: 'v1.1.0', files: goFile('lib', 11) },
      ],
    },
  ]);
  api = new RestApi(world.server);
  await api.start();
  project = path.join(world.root, 'private-project');
  const requires: Record<string, string> = {
    [AUTH.path]: AUTH.version,
    [LOG.path]: LOG.version,
    [LIB.path]: LIB.version,
  };
  for (const p of world.set.plain) requires[p] = 'v1.0.0';
  // Go must not block the event loop here: the proxy answers from this process.
  await writeProjectAsync(project, requires, {
    ...world.toolEnv(),
    ...privateEnv(),
    NETRC: proxy.writeNetrc(path.join(world.root, 'tool-netrc')),
  });
}, 300_000);

afterAll(async () => {
  await api?.stop();
  await proxy?.stop();
  await world?.dispose();
});

/** writeProject in a child process (it runs go synchronously; the proxy lives in this one). */
async function writeProjectAsync(
  dir: string,
  requires: Record<string, string>,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const script = path.join(world.root, 'write-project.mts');
  writeFileSync(
    script,
    `import { writeProject } from ${JSON.stringify(path.join(REPO_ROOT, 'test/e2e/harness/goproxy.ts'))};\n` +
      `writeProject(${JSON.stringify(dir)}, 'example.com/app', ${JSON.stringify(requires)}, process.env);\n`,
  );
  await new Promise<void>((resolve, reject) => {
    execFile(
      path.join(REPO_ROOT, 'node_modules/.bin/tsx'),
      [script],
      { env: env as Record<string, string> },
      (err, _out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve()),
    );
  });
}

/**
 * What a job with private modules sets: the company proxy first (it answers
 * 404 for public modules, so Go falls through to the public one), GOPRIVATE
 * for both private hosts, GONOPROXY for the git host only (the company
 * proxy serves corp.example.test), and git's URL rewriting.
 */
export function privateEnv(): Record<string, string> {
  return {
    ...git.env,
    GOPROXY: `${proxy.url},${world.proxyUrl}`,
    GOPRIVATE: 'corp.example.test,git.internal.test',
    GONOPROXY: 'git.internal.test',
    GONOSUMDB: 'corp.example.test,git.internal.test',
    SSL_CERT_FILE: proxy.certFile,
  };
}

export type Credentials = 'netrc-in-home' | 'NETRC' | 'GOAUTH' | 'userinfo';

/** A fresh runner HOME and the environment that hands the job its credentials one way. */
function runnerFor(how: Credentials): { home: string; env: Record<string, string> } {
  const home = path.join(world.root, 'runners', `r${++runners}`, 'home');
  mkdirSync(home, { recursive: true });
  const env = privateEnv();
  const secrets = path.join(world.root, 'runners', `r${runners}`, 'secrets');
  if (how === 'netrc-in-home') proxy.writeNetrc(home);
  if (how === 'NETRC') env['NETRC'] = proxy.writeNetrc(secrets, undefined, 'netrc');
  if (how === 'GOAUTH') env['GOAUTH'] = proxy.goAuthCommand(secrets);
  if (how === 'userinfo') env['GOPROXY'] = `${proxy.urlWithUserinfo},${world.proxyUrl}`;
  return { home, env };
}

/** Offline: no proxy at all, and no VCS may run (private git modules bypass GOPROXY). */
const OFFLINE = { GOPROXY: 'off', GOVCS: '*:off' };

/** A job on a fresh runner of `environment` with no proxy and no VCS allowed. */
function offlineJob(
  how: Credentials,
  environment: string,
  o: { stepsAfterMain?: string[] } = {},
): ReturnType<World['job']> {
  const r = runnerFor(how);
  return world.job({
    project,
    home: r.home,
    env: { ...r.env, ...OFFLINE },
    inputs: { environment },
    ...o,
  });
}

/** verified=true with every module, private ones included; `corrupt` the modules found bad first. */
function expectPrivateVerified(
  job: { outputs: Record<string, string>; log: string },
  corrupt = '',
): void {
  expect(job.outputs['verified'], job.log).toBe('true');
  expect(job.outputs['module-count'], job.log).toBe(String(MODULES));
  expect(job.outputs['corrupt-modules'], job.log).toBe(corrupt);
}

describe.each<Credentials>(['netrc-in-home', 'GOAUTH'])(
  'company proxy (credentials: %s) and git modules',
  (how) => {
    const environment = `private-${how.toLowerCase()}`;
    let coldHome = '';
    let coldKey = '';

    it('cold: every private module downloaded, verified against go.sum and saved', async () => {
      const r = runnerFor(how);
      const seen = proxy.log.length;
      const job = await world.job({ project, home: r.home, env: r.env, inputs: { environment } });
      expect(job.succeeded, job.log).toBe(true);
      expect(job.outputs['hit-kind']).toBe('miss');
      expectPrivateVerified(job);
      // The company proxy was asked with good credentials and served the zips.
      const zips = proxy.requestsFor('.zip', seen).filter((q) => q.status === 200);
      expect(zips.map((q) => q.path).sort()).toEqual([
        `/${AUTH.path}/@v/${AUTH.version}.zip`,
        `/${LOG.path}/@v/${LOG.version}.zip`,
      ]);
      expect(zips.every((q) => q.auth === 'good')).toBe(true);
      const saved = world.entriesOf(environment);
      expect(saved).toHaveLength(1);
      const held = world.entryModules(saved[0]!);
      for (const id of PRIVATE_IDS) expect(held).toContain(id);
      expect(held).toHaveLength(MODULES);
      // No vcs clone or credential file rides along in the entry.
      expect(world.entryListing(saved[0]!).some((n) => n.includes('cache/vcs'))).toBe(false);
      coldHome = job.home;
      coldKey = saved[0]!;
    });

    it('warm offline: exact hit, verified, the build runs with no proxy and no git', async () => {
      const seen = proxy.log.length;
      const job = await offlineJob(how, environment, {
        stepsAfterMain: ['go build -o app . && ./app'],
      });
      expect(job.succeeded, job.log).toBe(true);
      expect(job.outputs['hit-kind']).toBe('exact');
      expect(job.outputs['cache-matched-key']).toBe(coldKey);
      expectPrivateVerified(job);
      // 100+101 (proxy) + 11 (git) + the public modules: the private code ran.
      expect(job.steps[0]?.output).toMatch(/^\d+\n$/);
      expect(Number(job.steps[0]?.output)).toBeGreaterThan(212);
      expect(proxy.log.length).toBe(seen);
      expect(world.entriesOf(environment)).toEqual([coldKey]);
    });

    it.each<[string, { path: string; version: string }, Corruption]>([
      ['a company-proxy module', AUTH, 'truncated-zip'],
      ['a git module', LIB, 'consistent-replacement'],
    ])(
      'corruption in %s is caught, fetched again with the credentials, and saved',
      async (_what, victim, kind) => {
        const id = `${victim.path}@${victim.version}`;
        const runner = world.cloneRunner(coldHome);
        const modCache = world.modCache(path.join(runner, 'home'));
        corrupt(modCache, victim.path, victim.version, kind);
        const planted = `${coldKey};gen=planted-${kind}`;
        await plantEntry(world, modCache, planted, 'zips-only');

        const r = runnerFor(how);
        const seen = proxy.log.length;
        const job = await world.job({ project, home: r.home, env: r.env, inputs: { environment } });
        expect(job.succeeded, job.log).toBe(true);
        expect(job.outputs['cache-matched-key']).toBe(planted);
        // A proxy module is fetched again from the company proxy, with the credentials.
        const refetched = proxy
          .requestsFor(`/${victim.path}/@v/${victim.version}.zip`, seen)
          .filter((q) => q.status === 200 && q.auth === 'good');
        expect(refetched).toHaveLength(victim === AUTH ? 1 : 0);
        expect(job.outputs['rebuilt']).toBe('true');
        expectPrivateVerified(job, id);
        const repaired = world
          .entriesOf(environment)
          .filter((k) => k !== coldKey && k !== planted && !k.includes('gen=planted'));
        expect(repaired.length).toBeGreaterThan(0);
        const newest = repaired[repaired.length - 1]!;
        expect(world.entryModules(newest)).toContain(id);

        // The next offline job gets the repaired entry and verifies it.
        const warm = await offlineJob(how, environment);
        expect(warm.succeeded, warm.log).toBe(true);
        expect(warm.outputs['cache-matched-key']).not.toBe(planted);
        expectPrivateVerified(warm);
      },
    );

    it('health mode checks the private entry, repairs a corrupt one through the proxy', async () => {
      const runner = world.cloneRunner(coldHome);
      const modCache = world.modCache(path.join(runner, 'home'));
      corrupt(modCache, LOG.path, LOG.version, 'modified-file');
      corrupt(modCache, LIB.path, LIB.version, 'modified-file');
      const planted = `${coldKey};gen=planted-health`;
      await plantEntry(world, modCache, planted, 'trees-and-zips');

      const r = runnerFor(how);
      const run = await world.job({
        project,
        home: r.home,
        env: { ...r.env, ...api.envFor() },
        inputs: { mode: 'health', environments: environment, 'github-token': 'read-token' },
      });
      expect(run.main.exitCode, run.log).toBe(0);
      const report = JSON.parse(readFileSync(run.outputs['report']!, 'utf8')) as {
        environments: {
          environment: string;
          status: string;
          bad: { module: string }[];
          savedKey?: string;
        }[];
      };
      const env = report.environments.find((e) => e.environment === environment)!;
      expect(env.bad.map((b) => b.module).sort(), run.log).toEqual(
        [`${LOG.path}@${LOG.version}`, `${LIB.path}@${LIB.version}`].sort(),
      );
      expect(env.savedKey, run.log).toBeTruthy();
      expect(world.entryModules(env.savedKey!)).toEqual(expect.arrayContaining(PRIVATE_IDS));

      const again = await world.job({
        project,
        home: runnerFor(how).home,
        env: { ...r.env, ...api.envFor(), ...OFFLINE },
        inputs: { mode: 'health', environments: environment, 'github-token': 'read-token' },
      });
      expect(again.main.exitCode, again.log).toBe(0);
      expect(again.outputs['healthy'], again.log).toBe('true');
    });
  },
);

describe('other ways to hand over the credentials', () => {
  it.each<Credentials>(['NETRC', 'userinfo'])('%s: cold then warm offline', async (how) => {
    const environment = `private-${how.toLowerCase()}`;
    const r = runnerFor(how);
    const cold = await world.job({ project, home: r.home, env: r.env, inputs: { environment } });
    expect(cold.succeeded, cold.log).toBe(true);
    expectPrivateVerified(cold);
    const warm = await offlineJob(how, environment);
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.outputs['hit-kind']).toBe('exact');
    expectPrivateVerified(warm);
  });
});
