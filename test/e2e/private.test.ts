/**
 * Private modules, end to end with real parts: a company GOPROXY on loopback
 * (HTTPS, basic auth; credentials from a .netrc in the runner's HOME, from
 * NETRC, from GOAUTH or as userinfo in GOPROXY) serving modules no checksum
 * database knows, and modules fetched directly from local git repositories
 * (GOPRIVATE, GONOPROXY, the git binary). Cold, warm offline, corruption
 * healed and health mode behave as for public modules, and every private
 * module is verified against go.sum.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corrupt, type Corruption } from './harness/corrupt.js';
import { plantEntry } from './harness/plant-entry.js';
import {
  AUTH,
  LIB,
  LOG,
  MODULES,
  OFFLINE,
  PRIVATE_IDS,
  PrivateWorld,
  type Credentials,
} from './harness/private-world.js';

let pw: PrivateWorld;

beforeAll(async () => {
  pw = await PrivateWorld.create();
}, 300_000);

afterAll(async () => {
  await pw?.dispose();
});

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
      const seen = pw.proxy.log.length;
      const job = await pw.job(how, environment);
      expect(job.succeeded, job.log).toBe(true);
      expect(job.outputs['hit-kind']).toBe('miss');
      expectPrivateVerified(job);
      // The company proxy was asked with good credentials and served the zips.
      const zips = pw.proxy.requestsFor('.zip', seen).filter((q) => q.status === 200);
      expect(zips.map((q) => q.path).sort()).toEqual([
        `/${AUTH.path}/@v/${AUTH.version}.zip`,
        `/${LOG.path}/@v/${LOG.version}.zip`,
      ]);
      expect(zips.every((q) => q.auth === 'good')).toBe(true);
      const saved = pw.world.entriesOf(environment);
      expect(saved).toHaveLength(1);
      const held = pw.world.entryModules(saved[0]!);
      for (const id of PRIVATE_IDS) expect(held).toContain(id);
      expect(held).toHaveLength(MODULES);
      // No vcs clone or credential file rides along in the entry.
      expect(pw.world.entryListing(saved[0]!).some((n) => n.includes('cache/vcs'))).toBe(false);
      coldHome = job.home;
      coldKey = saved[0]!;
    });

    it('warm offline: exact hit, verified, the build runs with no proxy and no git', async () => {
      const seen = pw.proxy.log.length;
      const job = await pw.job(how, environment, {
        env: OFFLINE,
        stepsAfterMain: ['go build -o app . && ./app'],
      });
      expect(job.succeeded, job.log).toBe(true);
      expect(job.outputs['hit-kind']).toBe('exact');
      expect(job.outputs['cache-matched-key']).toBe(coldKey);
      expectPrivateVerified(job);
      // 100+101 (proxy) + 11 (git) + the public modules: the private code ran.
      expect(job.steps[0]?.output).toMatch(/^\d+\n$/);
      expect(Number(job.steps[0]?.output)).toBeGreaterThan(212);
      expect(pw.proxy.log.length).toBe(seen);
      expect(pw.world.entriesOf(environment)).toEqual([coldKey]);
    });

    it.each<[string, { path: string; version: string }, Corruption]>([
      ['a company-proxy module', AUTH, 'truncated-zip'],
      ['a git module', LIB, 'consistent-replacement'],
    ])(
      'corruption in %s is caught, fetched again with the credentials, and saved',
      async (_what, victim, kind) => {
        const id = `${victim.path}@${victim.version}`;
        const runner = pw.world.cloneRunner(coldHome);
        const modCache = pw.world.modCache(path.join(runner, 'home'));
        corrupt(modCache, victim.path, victim.version, kind);
        const planted = `${coldKey};gen=planted-${kind}`;
        await plantEntry(pw.world, modCache, planted, 'zips-only');

        const seen = pw.proxy.log.length;
        const job = await pw.job(how, environment);
        expect(job.succeeded, job.log).toBe(true);
        expect(job.outputs['cache-matched-key']).toBe(planted);
        // A proxy module is fetched again from the company proxy, with the credentials.
        const refetched = pw.proxy
          .requestsFor(`/${victim.path}/@v/${victim.version}.zip`, seen)
          .filter((q) => q.status === 200 && q.auth === 'good');
        expect(refetched).toHaveLength(victim === AUTH ? 1 : 0);
        expect(job.outputs['rebuilt']).toBe('true');
        expectPrivateVerified(job, id);
        const repaired = pw.world
          .entriesOf(environment)
          .filter((k) => k !== coldKey && k !== planted && !k.includes('gen=planted'));
        expect(repaired.length).toBeGreaterThan(0);
        const newest = repaired[repaired.length - 1]!;
        expect(pw.world.entryModules(newest)).toContain(id);

        // The next offline job gets the repaired entry and verifies it.
        const warm = await pw.job(how, environment, { env: OFFLINE });
        expect(warm.succeeded, warm.log).toBe(true);
        expect(warm.outputs['cache-matched-key']).not.toBe(planted);
        expectPrivateVerified(warm);
      },
    );

    it('health mode checks the private entry, repairs a corrupt one through the proxy', async () => {
      const runner = pw.world.cloneRunner(coldHome);
      const modCache = pw.world.modCache(path.join(runner, 'home'));
      corrupt(modCache, LOG.path, LOG.version, 'modified-file');
      corrupt(modCache, LIB.path, LIB.version, 'modified-file');
      const planted = `${coldKey};gen=planted-health`;
      await plantEntry(pw.world, modCache, planted, 'trees-and-zips');

      const run = await pw.health(how, environment);
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
      expect(pw.world.entryModules(env.savedKey!)).toEqual(expect.arrayContaining(PRIVATE_IDS));

      const again = await pw.health(how, environment, OFFLINE);
      expect(again.main.exitCode, again.log).toBe(0);
      expect(again.outputs['healthy'], again.log).toBe('true');
    });
  },
);

describe('other ways to hand over the credentials', () => {
  it.each<Credentials>(['NETRC', 'userinfo'])('%s: cold then warm offline', async (how) => {
    const environment = `private-${how.toLowerCase()}`;
    const cold = await pw.job(how, environment);
    expect(cold.succeeded, cold.log).toBe(true);
    expectPrivateVerified(cold);
    const warm = await pw.job(how, environment, { env: OFFLINE });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.outputs['hit-kind']).toBe('exact');
    expectPrivateVerified(warm);
  });
});
