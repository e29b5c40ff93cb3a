/**
 * The decisions of each stage, as pure functions of what the stage observed.
 */
import type { HitKind } from '../cache/key.js';
import type { SaveMode } from './inputs.js';

/**
 * pre never extracts over a non-empty module cache: tar would fail with "File
 * exists". Whether the service is there is restoreNewest's concern.
 */
export function preAction(o: { cacheNonEmpty: boolean }): 'restore' | 'skip-nonempty' {
  return o.cacheNonEmpty ? 'skip-nonempty' : 'restore';
}

/**
 * What main does about restoring: trust pre's work when pre ran for the same
 * module cache directory Go uses; otherwise restore itself, unless something
 * is already there (then it verifies what it finds).
 */
export function mainRestoreAction(o: {
  preRan: boolean;
  preModCache: string;
  goModCache: string;
  cacheNonEmpty: boolean;
  samePath: (a: string, b: string) => boolean;
}): 'use-pre' | 'restore' | 'use-local' {
  if (o.preRan && o.samePath(o.preModCache, o.goModCache)) return 'use-pre';
  if (o.cacheNonEmpty) return 'use-local';
  return 'restore';
}

/** After a hit of this kind, does the cache need `go mod download` to be complete? */
export function needsDownload(kind: HitKind): boolean {
  return kind !== 'exact';
}

export interface SaveInput {
  save: SaveMode;
  mainCompleted: boolean;
  verified: boolean;
  securityError: boolean;
  hitKind: HitKind;
  rebuilt: boolean;
  /** The module cache differs from what main verified (a later step downloaded modules). */
  changedAfterMain: boolean;
  /** Result of the re-verification post ran because the cache changed; undefined if not run. */
  reverified?: boolean;
  /** For a local cache: whether the service already holds an entry for the exact key. */
  exactEntryExists?: boolean;
  /** The go.sum hash changed after main (a later step edited go.sum). */
  keyChanged: boolean;
}

export type SaveDecision = { save: true; why: string } | { save: false; why: string };

export function saveDecision(s: SaveInput): SaveDecision {
  if (s.save === 'never') return { save: false, why: "save is 'never' (restore-only job)" };
  if (!s.mainCompleted)
    return { save: false, why: 'main did not finish; nothing verified to save' };
  if (s.securityError) {
    return { save: false, why: 'go.sum checksum mismatch (SECURITY ERROR); nothing is saved' };
  }
  if (!s.verified) return { save: false, why: 'the module cache is not verified' };
  if (s.changedAfterMain && s.reverified === false) {
    return { save: false, why: 'modules added after main failed verification; not saving them' };
  }
  if (s.changedAfterMain && s.reverified === undefined) {
    return {
      save: false,
      why: 'the module cache changed after main and could not be verified again',
    };
  }
  if (s.rebuilt)
    return { save: true, why: 'the cache was rebuilt; the new entry replaces the corrupt one' };
  if (s.keyChanged)
    return { save: true, why: 'go.sum changed during the job; saving under its new key' };
  switch (s.hitKind) {
    case 'miss':
      return { save: true, why: 'no entry existed for this environment' };
    case 'lineage':
      return {
        save: true,
        why: 'restored an older entry; saving the completed cache for this go.sum',
      };
    case 'local':
      return s.exactEntryExists
        ? { save: false, why: 'an entry for this go.sum already exists' }
        : { save: true, why: 'no entry for this go.sum yet; saving the verified local cache' };
    case 'exact':
      return s.changedAfterMain
        ? { save: true, why: 'later steps added verified modules to an exact hit' }
        : { save: false, why: 'exact hit, verified, nothing new to save' };
  }
}
