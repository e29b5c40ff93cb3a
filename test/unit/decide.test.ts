import { describe, expect, it } from 'vitest';
import {
  mainRestoreAction,
  needsDownload,
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
  it("uses pre's work when pre ran for the module cache Go uses", () => {
    expect(
      mainRestoreAction({
        preRan: true,
        preModCache: '/m',
        goModCache: '/m',
        cacheNonEmpty: true,
        samePath: same,
      }),
    ).toBe('use-pre');
  });
  it('restores itself when pre did not run or restored elsewhere', () => {
    expect(
      mainRestoreAction({
        preRan: false,
        preModCache: '',
        goModCache: '/m',
        cacheNonEmpty: false,
        samePath: same,
      }),
    ).toBe('restore');
    expect(
      mainRestoreAction({
        preRan: true,
        preModCache: '/x',
        goModCache: '/m',
        cacheNonEmpty: false,
        samePath: same,
      }),
    ).toBe('restore');
  });
  it('verifies a module cache it finds instead of extracting over it', () => {
    expect(
      mainRestoreAction({
        preRan: false,
        preModCache: '',
        goModCache: '/m',
        cacheNonEmpty: true,
        samePath: same,
      }),
    ).toBe('use-local');
  });
  it('downloads after anything but an exact hit', () => {
    expect(needsDownload('exact')).toBe(false);
    for (const k of ['lineage', 'local', 'miss'] as const) expect(needsDownload(k)).toBe(true);
  });
});

describe('saveDecision', () => {
  const base: SaveInput = {
    save: 'auto',
    mainCompleted: true,
    verified: true,
    securityError: false,
    hitKind: 'miss',
    rebuilt: false,
    changedAfterMain: false,
    keyChanged: false,
  };
  const decide = (o: Partial<SaveInput>) => saveDecision({ ...base, ...o });

  it('saves after a miss, a lineage hit and a rebuild', () => {
    expect(decide({ hitKind: 'miss' }).save).toBe(true);
    expect(decide({ hitKind: 'lineage' }).save).toBe(true);
    expect(decide({ hitKind: 'exact', rebuilt: true })).toEqual({
      save: true,
      why: 'the cache was rebuilt; the new entry replaces the corrupt one',
    });
  });
  it('does not save after a clean exact hit', () => {
    expect(decide({ hitKind: 'exact' })).toEqual({
      save: false,
      why: 'exact hit, verified, nothing new to save',
    });
  });
  it('saves an exact hit that later steps grew, once verified again', () => {
    expect(decide({ hitKind: 'exact', changedAfterMain: true, reverified: true }).save).toBe(true);
    expect(decide({ hitKind: 'exact', changedAfterMain: true, reverified: false }).save).toBe(
      false,
    );
    expect(decide({ hitKind: 'exact', changedAfterMain: true }).save).toBe(false);
  });
  it('never saves what is not verified', () => {
    expect(decide({ verified: false }).save).toBe(false);
    expect(decide({ mainCompleted: false }).save).toBe(false);
    expect(decide({ securityError: true, rebuilt: true }).why).toMatch(/SECURITY ERROR/);
  });
  it('respects save: never', () => {
    expect(decide({ save: 'never', rebuilt: true }).save).toBe(false);
  });
  it('saves a local cache only when the service has no entry for this go.sum', () => {
    expect(decide({ hitKind: 'local', exactEntryExists: true }).save).toBe(false);
    expect(decide({ hitKind: 'local', exactEntryExists: false }).save).toBe(true);
  });
  it('saves under the new key when go.sum changed during the job', () => {
    expect(
      decide({ hitKind: 'exact', keyChanged: true, changedAfterMain: true, reverified: true }).why,
    ).toMatch(/go.sum changed/);
  });
});
