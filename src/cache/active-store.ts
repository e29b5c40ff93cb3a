/**
 * The store this job's stages use, chosen once from the `backend` input
 * (src/action/context.ts calls `useStoreFor`). GitHub's cache service unless
 * told otherwise.
 */
import { githubStore } from './github-store.js';
import { LazyS3Store } from './s3/lazy.js';
import type { S3Options } from './s3/store.js';
import type { CacheStore } from './store.js';

let active: CacheStore | undefined;

export function activeStore(): CacheStore {
  return active ?? githubStore;
}

export function useStore(store: CacheStore): void {
  active = store;
}

/** Selects the store for `backend` (and, for s3, its options). */
export function useStoreFor(
  backend: 'github' | 's3',
  s3: S3Options | undefined,
  env: NodeJS.ProcessEnv = process.env,
): CacheStore {
  const store = backend === 's3' && s3 ? new LazyS3Store(s3, env) : githubStore;
  useStore(store);
  return store;
}
