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
 * What main does about restoring. A module cache that holds files (a
 * self-hosted runner's, or one a step put there) is verified as it is; no
 * quarantined entry joins it. Otherwise pre's quarantine is used when pre
 * restored one (its GOMODCACHE guess may differ from Go's: promotion then
 * copies); when pre looked for this very module cache and restored nothing,
 * there is nothing to restore; else main restores itself.
 */
export function mainRestoreAction(o: {
  preRan: boolean;
  /** pre restored an entry into its quarantine. */
  preRestored: boolean;
  preModCache: string;
  goModCache: string;
  cacheNonEmpty: boolean;
  samePath: (a: string, b: string) => boolean;
}): 'use-pre' | 'restore' | 'use-local' | 'none' {
  if (o.cacheNonEmpty) return 'use-local';
  if (o.preRestored) return 'use-pre';
  if (o.preRan && o.samePath(o.preModCache, o.goModCache)) return 'none';
  return 'restore';
}

/**
 * After a lineage or local hit, when an entry for this exact go.sum exists:
 * restore that entry instead ("switch") when the restored cache lacks a large
 * share of what go.sum names, else download the difference ("complete"). In
 * both cases nothing new is saved, so a branch never holds two entries for one
 * go.sum. A local cache is never thrown away.
 */
export function convergeAction(o: {
  hitKind: HitKind;
  missing: number;
  named: number;
}): 'switch' | 'complete' {
  if (o.hitKind !== 'lineage') return 'complete';
  return o.missing > 0 && o.missing * 4 >= o.named ? 'switch' : 'complete';
}

export interface SaveInput {
  save: SaveMode;
  /** The run's cache mode allows writing. */
  canWrite: boolean;
  cacheModeName: string;
  mainCompleted: boolean;
  verified: boolean;
  securityError: boolean;
  hitKind: HitKind;
  rebuilt: boolean;
  repaired: number;
  /** Module versions go.sum names that the verified cache still lacks: never save then. */
  missing: number;
  /** Verified module versions that were not in the restored entry (downloaded by main or later steps). */
  added: number;
  /** An entry for this go.sum exists already (found after a lineage or local hit). */
  exactEntryExists?: boolean;
  /** The go.sum hash changed after main (a later step edited go.sum). */
  keyChanged: boolean;
}

export type SaveDecision = { save: true; why: string } | { save: false; why: string };

export function saveDecision(s: SaveInput): SaveDecision {
  if (s.save === 'never') return { save: false, why: "save is 'never' (restore-only job)" };
  if (!s.canWrite) {
    return { save: false, why: `the cache mode '${s.cacheModeName}' does not permit writes` };
  }
  // Before "main did not finish": a SECURITY ERROR stops main, and the summary must say why.
  if (s.securityError) {
    return { save: false, why: 'go.sum checksum mismatch (SECURITY ERROR); nothing is saved' };
  }
  if (!s.mainCompleted)
    return { save: false, why: 'main did not finish; nothing verified to save' };
  if (!s.verified) return { save: false, why: 'the module cache is not verified' };
  if (s.missing > 0) {
    return {
      save: false,
      why: `the cache lacks ${s.missing} module versions go.sum names; an incomplete cache is never saved`,
    };
  }
  if (s.rebuilt || s.repaired > 0) {
    return { save: true, why: 'the cache was repaired; the new entry replaces the corrupt one' };
  }
  if (s.keyChanged) {
    return { save: true, why: 'go.sum changed during the job; saving under its new key' };
  }
  if (s.exactEntryExists) {
    return { save: false, why: 'an entry for this go.sum already exists' };
  }
  switch (s.hitKind) {
    case 'miss':
      return { save: true, why: 'no entry existed for this environment' };
    case 'lineage':
      return {
        save: true,
        why: 'restored an older entry; saving the completed cache for this go.sum',
      };
    case 'incomplete':
      return { save: true, why: 'the exact entry was incomplete; saving the completed cache' };
    case 'local':
      return { save: true, why: 'no entry for this go.sum yet; saving the verified local cache' };
    case 'exact':
      return s.added > 0
        ? {
            save: true,
            why: `later steps added ${s.added} verified module versions to an exact hit`,
          }
        : { save: false, why: 'exact hit, verified, nothing new to save' };
  }
}
