/**
 * Restoring the newest entry of a lineage into an empty module cache: the
 * sequence pre and main share. Service trouble and broken archives become a
 * warning and an empty module cache, never a failure.
 */
import * as core from '@actions/core';
import { describeUnavailable, type Backend } from './backend.js';
import { cachePathSpec, forceRemove } from '../go/modcache.js';

export type RestoreOutcome =
  | { kind: 'restored'; matchedKey: string; archiveBytes?: number }
  | { kind: 'miss' }
  | { kind: 'unavailable' };

export async function restoreNewest(
  backend: Backend,
  modCache: string,
  primaryKey: string,
  restoreKeys: string[],
  lookupTimeoutMs: number,
): Promise<RestoreOutcome> {
  if (!backend.available()) {
    core.warning(describeUnavailable('no cache service URL in this job'));
    return { kind: 'unavailable' };
  }
  const paths = [cachePathSpec(modCache)];
  core.info(
    `Looking up ${primaryKey}${restoreKeys.length ? ` then ${restoreKeys.join(', ')}` : ''}`,
  );
  const found = await backend.lookup(paths, primaryKey, restoreKeys, lookupTimeoutMs);
  if (found.kind === 'unavailable') {
    core.warning(describeUnavailable(found.reason));
    return { kind: 'unavailable' };
  }
  if (found.kind === 'miss') {
    core.info('No entry for this environment yet.');
    return { kind: 'miss' };
  }
  const restored = await backend.restore(paths, found.matchedKey);
  if (restored.kind === 'failed') {
    core.warning(
      `Restoring ${found.matchedKey} failed (${restored.reason}); removing what was extracted ` +
        'and going on without a cache.',
    );
    await forceRemove(modCache);
    return { kind: 'unavailable' };
  }
  return restored;
}
