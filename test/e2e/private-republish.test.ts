/**
 * A private version re-published with other content: the one failure no
 * checksum database catches. The company proxy serves auth@v1.0.0, a job
 * verifies and saves it, then the proxy serves other bytes under the same
 * version. A job that must fetch it again fails with Go's SECURITY ERROR,
 * named: module, version, go.sum's hash and the download's, what the restored
 * entry held, how to decide. Nothing is repaired or saved. The same for a git
 * tag moved onto another commit.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corrupt } from './harness/corrupt.js';
import { plantEntry } from './harness/plant-entry.js';
import { AUTH, goFile, LIB, PrivateWorld } from './harness/private-world.js';

let pw: PrivateWorld;
let coldHome = '';
let coldKey = '';
let goSumHash = '';
const ENV = 'republish';

beforeAll(async () => {
  pw = await PrivateWorld.create();
  const cold = await pw.job('netrc-in-home', ENV);
  expect(cold.succeeded, cold.log).toBe(true);
  coldHome = cold.home;
  coldKey = pw.world.entriesOf(ENV)[0]!;
  const { readFileSync } = await import('node:fs');
  goSumHash = /corp\.example\.test\/platform\/auth v1\.0\.0 (h1:\S+)/.exec(
    readFileSync(path.join(pw.project, 'go.sum'), 'utf8'),
  )![1]!;
  // The maintainer re-publishes v1.0.0 with other content; the old go.sum stays.
  pw.proxy.publish({
    ...AUTH,
    goMod: `module ${AUTH.path}\n\ngo 1.21\n`,
    files: goFile('auth', 666),
  });
  pw.git.republish(LIB.path, LIB.version, goFile('lib', 667));
}, 300_000);

afterAll(async () => {
  await pw?.dispose();
});

/** The SECURITY ERROR annotation of a failed job. */
function securityError(job: Awaited<ReturnType<PrivateWorld['job']>>): string {
  expect(job.main.exitCode, job.log).not.toBe(0);
  expect(job.outputs['verified']).toBe('false');
  const error = job.annotations.find(
    (a) => a.level === 'error' && /SECURITY ERROR/.test(a.message),
  );
  expect(error, job.log).toBeDefined();
  expect(job.summary).toContain('SECURITY ERROR');
  expect(job.summary).toMatch(/nothing: go\.sum checksum mismatch \(SECURITY ERROR\)/);
  return error!.message;
}

describe('a re-published private version', () => {
  it('the warm exact hit is not affected: the cache still holds what go.sum verified', async () => {
    const job = await pw.job('netrc-in-home', ENV);
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['hit-kind']).toBe('exact');
  });

  it('a fresh download is a named SECURITY ERROR, never healed, nothing saved', async () => {
    const job = await pw.job('netrc-in-home', 'republish-fresh');
    const message = securityError(job);
    expect(message).toContain(`${AUTH.path}@${AUTH.version}: go.sum holds ${goSumHash}`);
    expect(message).toMatch(/the download now hashes to h1:\S+/);
    expect(message).not.toMatch(new RegExp(`hashes to ${goSumHash.replace(/[+/]/g, '\\$&')}`));
    expect(message).toContain('re-published');
    expect(message).toContain(`go mod download -json ${AUTH.path}@${AUTH.version}`);
    expect(message).not.toContain('restored entry');
    expect(pw.world.entriesOf('republish-fresh')).toEqual([]);
  });

  it('when the restored entry held the version, its key and hash say which side changed', async () => {
    // The entry's copy is damaged, so main must fetch the version again.
    const runner = pw.world.cloneRunner(coldHome);
    const modCache = pw.world.modCache(path.join(runner, 'home'));
    corrupt(modCache, AUTH.path, AUTH.version, 'truncated-zip');
    const planted = `${coldKey};gen=planted-damaged`;
    await plantEntry(pw.world, modCache, planted, 'zips-only');
    const before = pw.world.entriesOf(ENV).sort();

    const job = await pw.job('netrc-in-home', ENV);
    const message = securityError(job);
    expect(job.outputs['cache-matched-key']).toBe(planted);
    expect(message).toContain(`go.sum holds ${goSumHash}`);
    expect(message).toContain(
      `The restored entry ${planted} held ${AUTH.path}@${AUTH.version} as ${goSumHash}`,
    );
    expect(message).toContain('the same as go.sum');
    expect(message).toContain('(a re-published version)');
    // Not "repaired" by cleaning everything and downloading again.
    expect(job.log).not.toContain('Cleaning the whole module cache');
    expect(job.outputs['rebuilt']).toBe('false');
    expect(pw.world.entriesOf(ENV).sort()).toEqual(before);
  });

  it('a git tag moved onto another commit is named the same way', async () => {
    const job = await pw.job('netrc-in-home', 'republish-git', {
      project: await projectWith({ [LIB.path]: LIB.version }),
    });
    const message = securityError(job);
    expect(message).toMatch(
      new RegExp(`${LIB.path.replace(/\./g, '\\.')}@${LIB.version}: go\\.sum holds h1:`),
    );
    expect(pw.world.entriesOf('republish-git')).toEqual([]);
  });
});

/** A project with only `requires`, its go.sum from before the re-publication (the main project's lines). */
async function projectWith(requires: Record<string, string>): Promise<string> {
  const { mkdirSync, readFileSync, writeFileSync } = await import('node:fs');
  const dir = path.join(pw.world.root, 'git-only');
  mkdirSync(dir, { recursive: true });
  const req = Object.entries(requires)
    .map(([p, v]) => `require ${p} ${v}`)
    .join('\n');
  writeFileSync(path.join(dir, 'go.mod'), `module example.com/gitonly\n\ngo 1.21\n\n${req}\n`);
  const lines = readFileSync(path.join(pw.project, 'go.sum'), 'utf8')
    .split('\n')
    .filter((l) => Object.keys(requires).some((p) => l.startsWith(`${p} `)));
  writeFileSync(path.join(dir, 'go.sum'), `${lines.join('\n')}\n`);
  writeFileSync(
    path.join(dir, 'main.go'),
    `package main\n\nimport l "${LIB.path}"\n\nfunc main() { println(l.F()) }\n`,
  );
  return dir;
}
