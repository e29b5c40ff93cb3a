import { describe, expect, it } from 'vitest';
import {
  convergeAction,
  mainRestoreAction,
  preAction,
  saveDecision,
  type SaveInput,
} from '../../src/action/decide.js';

describe('pre', () => {
  it('never extracts over a non-empty module cache', () => {
    expect(preAction({ cacheNonEmpty: true })).toBe('skip-nonempty');
  });
  it("restores into an empty one (a missing service is restoreNewest's concern: see stages)", () => {
    expect(preAction({ cacheNonEmpty: false })).toBe('restore');
  });
});

describe('main restore', () => {
  const same = (a: string, b: string): boolean => a === b;
  const base = {
    preRan: true,
    preRestored: false,
    preModCache: '/m',
    goModCache: '/m',
    cacheNonEmpty: false,
    samePath: same,
  };
  it("uses pre's quarantine when pre restored one, wherever pre guessed the module cache", () => {
    expect(mainRestoreAction({ ...base, preRestored: true })).toBe('use-pre');
    expect(mainRestoreAction({ ...base, preRestored: true, preModCache: '/x' })).toBe('use-pre');
  });
  it('restores nothing when pre looked for this very module cache and found no entry', () => {
    expect(mainRestoreAction(base)).toBe('none');
  });
  it('restores itself when pre did not run or looked elsewhere', () => {
    expect(mainRestoreAction({ ...base, preRan: false, preModCache: '' })).toBe('restore');
    expect(mainRestoreAction({ ...base, preModCache: '/x' })).toBe('restore');
  });
  it('verifies a module cache that holds files; no restored entry joins it', () => {
    expect(mainRestoreAction({ ...base, preRan: false, cacheNonEmpty: true })).toBe('use-local');
    expect(mainRestoreAction({ ...base, preRestored: true, cacheNonEmpty: true })).toBe(
      'use-local',
    );
  });
});

describe('convergence', () => {
  it('switches to the exact entry when the restored lineage lacks a large share', () => {
    expect(convergeAction({ hitKind: 'lineage', missing: 30, named: 100 })).toBe('switch');
  });
  it('downloads a small difference instead', () => {
    expect(convergeAction({ hitKind: 'lineage', missing: 2, named: 100 })).toBe('complete');
  });
  it('never throws away a module cache found on the runner', () => {
    expect(convergeAction({ hitKind: 'local', missing: 90, named: 100 })).toBe('complete');
  });
});

describe('saveDecision', () => {
  const base: SaveInput = {
    save: 'auto',
    canWrite: true,
    cacheModeName: 'unset',
    mainCompleted: true,
    verified: true,
    securityError: false,
    hitKind: 'miss',
    rebuilt: false,
    repaired: 0,
    missing: 0,
    added: 0,
    keyChanged: false,
  };
  const decide = (o: Partial<SaveInput>) => saveDecision({ ...base, ...o });

  it('saves after a miss, a lineage hit, an incomplete exact hit and a repair', () => {
    expect(decide({ hitKind: 'miss' }).save).toBe(true);
    expect(decide({ hitKind: 'lineage' }).save).toBe(true);
    expect(decide({ hitKind: 'incomplete' }).save).toBe(true);
    expect(decide({ hitKind: 'exact', repaired: 1 })).toEqual({
      save: true,
      why: 'the cache was repaired; the new entry replaces the corrupt one',
    });
    expect(decide({ hitKind: 'exact', rebuilt: true }).save).toBe(true);
  });
  it('does not save after a clean exact hit', () => {
    expect(decide({ hitKind: 'exact' })).toEqual({
      save: false,
      why: 'exact hit, verified, nothing new to save',
    });
  });
  it('saves an exact hit only when later steps really added verified modules', () => {
    expect(decide({ hitKind: 'exact', added: 2 }).save).toBe(true);
    expect(decide({ hitKind: 'exact', added: 0 }).save).toBe(false);
  });
  it('never saves a cache that is incomplete for its go.sum, whatever else happened', () => {
    for (const hitKind of ['miss', 'lineage', 'exact', 'incomplete', 'local'] as const) {
      expect(decide({ hitKind, missing: 1, repaired: 1, keyChanged: true }).save).toBe(false);
    }
    expect(decide({ missing: 3 }).why).toMatch(/lacks 3 module versions go.sum names/);
  });
  it('never saves what is not verified', () => {
    expect(decide({ verified: false }).save).toBe(false);
    expect(decide({ mainCompleted: false }).save).toBe(false);
    expect(decide({ securityError: true, rebuilt: true }).why).toMatch(/SECURITY ERROR/);
    // A SECURITY ERROR stops main before it completes; the reason given is the security error.
    const stopped = decide({ securityError: true, mainCompleted: false });
    expect(stopped.save).toBe(false);
    expect(stopped.why).toMatch(/SECURITY ERROR/);
  });
  it('respects save: never and the cache mode', () => {
    expect(decide({ save: 'never', rebuilt: true }).save).toBe(false);
    expect(decide({ canWrite: false, cacheModeName: 'read' }).why).toBe(
      "the cache mode 'read' does not permit writes",
    );
  });
  it('never saves a duplicate when an entry for this go.sum exists (convergence)', () => {
    expect(decide({ hitKind: 'local', exactEntryExists: true }).save).toBe(false);
    expect(decide({ hitKind: 'lineage', exactEntryExists: true }).save).toBe(false);
    expect(decide({ hitKind: 'local', exactEntryExists: false }).save).toBe(true);
  });
  it('saves under the new key when go.sum changed during the job', () => {
    expect(decide({ hitKind: 'exact', keyChanged: true }).why).toMatch(/go.sum changed/);
  });
});
