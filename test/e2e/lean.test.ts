/**
 * Lean entries (`save-zips: false`): trees, `.ziphash`, `.mod` and `.info`,
 * no zips. What the README promises of them: a warm job restores a module
 * cache that builds offline and is verified (trees against go.sum); a later
 * `go mod download` fetches the zips again; a changed file is still caught.
 */
import { chmodSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { World } from './harness/world.js';

let world: World;
let leanKey: string;

const LEAN = { environment: 'lean', 'save-zips': 'false' };

beforeAll(async () => {
  world = await World.create({ modules: 6 });
  const cold = await world.job({ inputs: LEAN });
  expect(cold.succeeded, cold.log).toBe(true);
  expect(cold.outputs['verified']).toBe('true');
  leanKey = world.entriesOf('lean')[0]!;
});

afterAll(async () => {
  await world?.dispose();
});

/** Every `.zip` under a module cache's download area. */
function zipsIn(modCache: string): string[] {
  const dl = path.join(modCache, 'cache', 'download');
  if (!existsSync(dl)) return [];
  return (readdirSync(dl, { recursive: true }) as string[]).filter((f) => f.endsWith('.zip'));
}

describe('lean entries (save-zips: false)', () => {
  it('hold every module as its tree with .ziphash and .mod, and no zip', () => {
    expect(world.entriesOf('lean')).toEqual([leanKey]);
    const listing = world.entryListing(leanKey).map((f) => f.replace(/^\.\//, ''));
    expect(listing.filter((f) => f.endsWith('.zip'))).toEqual([]);
    for (const m of world.set.plain) {
      expect(listing).toContain(`${m}@v1.0.0/go.mod`);
      expect(listing).toContain(`cache/download/${m}/@v/v1.0.0.ziphash`);
      expect(listing).toContain(`cache/download/${m}/@v/v1.0.0.mod`);
    }
  });

  it('restore offline into a verified module cache that builds, without saving again', async () => {
    const warm = await world.job({
      inputs: LEAN,
      env: { GOPROXY: 'off' },
      stepsAfterMain: ['go build -o app . && ./app'],
    });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.steps[0]?.exitCode, warm.log).toBe(0);
    expect(warm.outputs['hit-kind']).toBe('exact');
    expect(warm.outputs['verified']).toBe('true');
    expect(warm.outputs['rebuilt']).toBe('false');
    expect(warm.outputs['corrupt-modules']).toBe('');
    expect(zipsIn(world.modCache(warm.home))).toEqual([]);
    expect(world.entriesOf('lean')).toEqual([leanKey]);
  });

  it('leave a later go mod download to fetch the zips again (what lean gives up)', async () => {
    const warm = await world.job({ inputs: LEAN, stepsAfterMain: ['go mod download'] });
    expect(warm.succeeded, warm.log).toBe(true);
    expect(warm.steps[0]?.exitCode, warm.log).toBe(0);
    expect(warm.outputs['hit-kind']).toBe('exact');
    // Go went back to the proxy for every zip the entry left out.
    expect(zipsIn(world.modCache(warm.home)).length).toBeGreaterThanOrEqual(world.set.plain.length);
    // The zips are not new modules: nothing is saved, and no zip would go in.
    expect(world.entriesOf('lean')).toEqual([leanKey]);
  });

  it('are still verified file by file: a changed file is caught, repaired and saved anew', async () => {
    const env = 'lean-bad';
    const cold = await world.job({ inputs: { ...LEAN, environment: env } });
    expect(cold.succeeded, cold.log).toBe(true);
    const good = world.entriesOf(env);
    expect(good).toHaveLength(1);
    // Plant the same cache, zips removed, with one file of one tree changed.
    const copy = world.modCache(path.join(world.cloneRunner(cold.home), 'home'));
    const victim = `${world.set.plain[2]!}@v1.0.0`;
    const file = path.join(copy, victim, 'm002.go');
    chmodSync(path.dirname(file), 0o755);
    chmodSync(file, 0o644);
    writeFileSync(file, '// planted\n', { flag: 'a' });
    for (const z of zipsIn(copy)) chmodSync(path.join(copy, 'cache', 'download', z), 0o644);
    for (const z of zipsIn(copy)) rmSync(path.join(copy, 'cache', 'download', z));
    const planted = `${cold.outputs['cache-key']};gen=planted`;
    await world.plantDir(copy, planted);

    const healing = await world.job({ inputs: { ...LEAN, environment: env } });
    expect(healing.succeeded, healing.log).toBe(true);
    expect(healing.outputs['cache-matched-key']).toBe(planted);
    expect(healing.outputs['corrupt-modules']).toBe(victim);
    expect(healing.outputs['rebuilt']).toBe('true');
    expect(healing.outputs['verified']).toBe('true');
    const saved = world.entriesOf(env).filter((k) => !good.includes(k) && k !== planted);
    expect(saved).toHaveLength(1);

    const next = await world.job({
      inputs: { ...LEAN, environment: env },
      env: { GOPROXY: 'off' },
    });
    expect(next.succeeded, next.log).toBe(true);
    expect(next.outputs['cache-matched-key']).toBe(saved[0]);
    expect(next.outputs['corrupt-modules']).toBe('');
    expect(next.outputs['verified']).toBe('true');
  });
});
