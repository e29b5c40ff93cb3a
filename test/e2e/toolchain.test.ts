/**
 * Toolchains in the module cache (issue 7, point 6). A fake
 * golang.org/toolchain@v0.0.1-go1.99.0.<os>-<arch> in the file:// proxy plays
 * the toolchain a `toolchain go1.99.0` line makes Go switch to; its bin/go
 * appends a line to a marker file and hands over to the real go.
 *
 * "Offline" here is GOPROXY=file://<empty dir>, not GOPROXY=off: for
 * golang.org/toolchain Go demands a checksum-database lookup on every switch,
 * even under GOSUMDB=off, unless GOPROXY is a single file:// URL
 * (cmd/go/internal/modfetch/sumdb.go, useSumDB). With GOPROXY=off and
 * GOSUMDB=off a switch to a cached toolchain fails ("checksum database
 * disabled by GOSUMDB=off"); an empty file:// proxy is just as unable to fetch
 * anything and lets the switch use the cache.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, appendFileSync, cpSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GOOD_MARK,
  MARKER_ENV,
  TAMPERED_MARK,
  fakeGoScript,
  publishFakeToolchain,
  tamperToolchainTree,
  type FakeToolchain,
} from './harness/toolchain.js';
import { GO_BIN, World } from './harness/world.js';

const REAL_GO = path.join(GO_BIN, 'go');
const ENVIRONMENT = 'tc';

let world: World;
let toolchain: FakeToolchain;
/** The sample project with a `toolchain go1.99.0` line added; go.sum unchanged. */
let withToolchain: string;
/** A file:// proxy serving nothing: a job pointed at it cannot download anything. */
let emptyProxy: string;

function hostPlatform(): { os: string; arch: string } {
  const [os, arch] = execFileSync(REAL_GO, ['env', 'GOHOSTOS', 'GOHOSTARCH'], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n');
  return { os: os!, arch: arch! };
}

/** The lines the fake toolchain's bin/go wrote to `marker` (none when it never ran). */
function marks(marker: string): string[] {
  return existsSync(marker) ? readFileSync(marker, 'utf8').trim().split('\n') : [];
}

function jobEnv(marker: string, proxy: string): Record<string, string> {
  return { GOTOOLCHAIN: 'auto', GOPROXY: proxy, [MARKER_ENV]: marker };
}

/** A user step running `go version`, its toolchain's marks going to `marker` (not the job's). */
function goVersionStep(marker: string): string {
  return `${MARKER_ENV}='${marker}' go version`;
}

function treeBinGo(home: string): string {
  return path.join(world.modCache(home), toolchain.treeDir, 'bin', 'go');
}

function warnings(job: { annotations: { level: string; message: string }[] }): string[] {
  return job.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
}

/** Keys of `ENVIRONMENT`'s entries in the cache service, oldest first. */
function entryKeys(): string[] {
  return world.server.keys().filter((k) => k.includes(`;env=${ENVIRONMENT};`));
}

/** The runner home of the exact-hit job of the first test: it ran the toolchain. */
let exactHitHome = '';
let exactKey = '';

beforeAll(async () => {
  world = await World.create({ modules: 4 });
  const host = hostPlatform();
  toolchain = publishFakeToolchain(world.proxyDir, REAL_GO, host.os, host.arch);
  withToolchain = path.join(world.root, 'project-toolchain');
  cpSync(world.project, withToolchain, { recursive: true });
  appendFileSync(path.join(withToolchain, 'go.mod'), '\ntoolchain go1.99.0\n');
  const empty = path.join(world.root, 'proxy-empty');
  mkdirSync(empty, { recursive: true });
  emptyProxy = pathToFileURL(empty).href;
});

afterAll(async () => {
  await world?.dispose();
});

describe('a toolchain line added without a go.sum change', () => {
  it('is downloaded (not run) and saved once; then an exact hit runs it offline from the cache', async () => {
    // An entry for the project before the toolchain line.
    const before = await world.job({
      inputs: { environment: ENVIRONMENT },
      env: { GOTOOLCHAIN: 'auto' },
    });
    expect(before.succeeded, before.log).toBe(true);
    expect(entryKeys()).toHaveLength(1);

    // The toolchain line changes go.mod, not go.sum: the old entry is restored
    // and complete for go.sum, but the toolchain is missing. Main fetches it
    // without running it; the job saves it once.
    // The user's build then uses it (Go copies its _go.mod files to go.mod on
    // first use), and post saves the tree as the build left it.
    const adding = path.join(world.root, 'marker-adding');
    const addingStep = path.join(world.root, 'marker-adding-step');
    const added = await world.job({
      project: withToolchain,
      inputs: { environment: ENVIRONMENT },
      env: jobEnv(adding, world.proxyUrl),
      stepsAfterMain: [goVersionStep(addingStep)],
    });
    expect(added.succeeded, added.log).toBe(true);
    expect(added.outputs['verified']).toBe('true');
    expect(marks(adding)).toEqual([]);
    expect(marks(addingStep)).toEqual([GOOD_MARK]);
    expect(added.post.stdout).toContain(`toolchains ${toolchain.id}`);
    expect(entryKeys()).toHaveLength(2);
    exactKey = added.outputs['cache-key']!;

    // The next job is an exact hit with nothing to download from: the action
    // verifies the cached toolchain (its tree differs from its zip only by
    // Go's go.mod copies) without running it; the user's `go version`
    // switches to it; nothing new is saved.
    const offline = path.join(world.root, 'marker-offline');
    const hitStep = path.join(world.root, 'marker-offline-step');
    const hit = await world.job({
      project: withToolchain,
      inputs: { environment: ENVIRONMENT },
      env: jobEnv(offline, emptyProxy),
      stepsAfterMain: [goVersionStep(hitStep)],
    });
    expect(hit.succeeded, hit.log).toBe(true);
    expect(hit.outputs['hit-kind']).toBe('exact');
    expect(hit.outputs['verified']).toBe('true');
    expect(hit.main.stdout).toMatch(
      new RegExp(`Verified ${toolchain.id.replace(/\./g, '\\.')} in \\d+ ms`),
    );
    expect(marks(offline)).toEqual([]);
    expect(marks(hitStep)).toEqual([GOOD_MARK]);
    expect(warnings(hit)).toEqual([]);
    expect(hit.outputs['corrupt-modules']).toBe('');
    expect(entryKeys()).toHaveLength(2);
    exactHitHome = hit.home;
  });
});

describe('a tampered toolchain tree in the restored entry', () => {
  it('is never executed, is reported by name, is replaced, and the saved entry holds a good one', async () => {
    expect(exactHitHome, 'the first test must run first').not.toBe('');
    // The runner of the exact hit (a used toolchain, go.mod copies and all)
    // with bin/go changed behind an intact .ziphash and zip, planted as the
    // newest generation of the exact key.
    const runner = world.cloneRunner(exactHitHome);
    const modCache = world.modCache(path.join(runner, 'home'));
    tamperToolchainTree(modCache, toolchain, REAL_GO);
    const planted = `${exactKey};gen=planted`;
    await world.plantDir(modCache, planted);
    const existing = new Set(entryKeys());

    // Only the toolchain can be fetched: the repair touches nothing else.
    const marker = path.join(world.root, 'marker-tampered');
    const step = path.join(world.root, 'marker-tampered-step');
    const onlyToolchain = world.proxySubset('toolchain', [
      { path: 'golang.org/toolchain', version: toolchain.version },
    ]);
    const healing = await world.job({
      project: withToolchain,
      inputs: { environment: ENVIRONMENT },
      env: jobEnv(marker, onlyToolchain),
      stepsAfterMain: [goVersionStep(step)],
    });
    expect(healing.succeeded, healing.log).toBe(true);
    expect(healing.outputs['cache-matched-key']).toBe(planted);
    expect(healing.outputs['hit-kind']).toBe('exact');
    expect(healing.outputs['verified']).toBe('true');
    // Never executed by the action; the user's step ran the good copy.
    expect(marks(marker)).toEqual([]);
    expect(marks(step)).toEqual([GOOD_MARK]);
    expect(marks(step)).not.toContain(TAMPERED_MARK);
    const removed = warnings(healing).filter((w) => w.includes(toolchain.id));
    expect(removed, healing.log).toHaveLength(1);
    expect(removed[0]).toContain('never executed');
    expect(healing.outputs['corrupt-modules']).toBe(toolchain.id);
    expect(healing.summary).toContain(`| Repaired ${toolchain.id} | fetched again (`);
    expect(readFileSync(treeBinGo(healing.home), 'utf8')).toBe(fakeGoScript(REAL_GO, GOOD_MARK));

    const saved = entryKeys().filter((k) => !existing.has(k));
    expect(saved, healing.post.stdout).toHaveLength(1);
    expect(saved[0]!.startsWith(exactKey)).toBe(true);

    // The next job restores the saved generation and runs the good toolchain offline.
    const nextMarker = path.join(world.root, 'marker-next');
    const nextStep = path.join(world.root, 'marker-next-step');
    const next = await world.job({
      project: withToolchain,
      inputs: { environment: ENVIRONMENT },
      env: jobEnv(nextMarker, emptyProxy),
      stepsAfterMain: [goVersionStep(nextStep)],
    });
    expect(next.succeeded, next.log).toBe(true);
    expect(next.outputs['cache-matched-key']).toBe(saved[0]);
    expect(warnings(next)).toEqual([]);
    expect(marks(nextMarker)).toEqual([]);
    expect(marks(nextStep)).toEqual([GOOD_MARK]);
    expect(readFileSync(treeBinGo(next.home), 'utf8')).toBe(fakeGoScript(REAL_GO, GOOD_MARK));
  });
});
