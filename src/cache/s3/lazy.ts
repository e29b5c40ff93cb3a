/**
 * The S3 store, loaded on first use. The AWS SDK is about 1.7 MB of each
 * stage's bundle; evaluating it cost every stage about 70 ms at start-up, on
 * GitHub's service too, where it is never used. Importing it only when a job
 * with `backend: s3` first looks up, saves or lists keeps that cost to them.
 */
import type { SaveResult } from '../backend.js';
import type { Inventory } from '../inventory.js';
import type { CacheStore, LookupResult } from '../store.js';
import type { S3Options, S3Store } from './store.js';

export class LazyS3Store implements CacheStore {
  readonly name = 's3';
  private loaded: Promise<S3Store> | undefined;

  constructor(
    private readonly o: S3Options,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  private store(): Promise<S3Store> {
    this.loaded ??= import('./store.js').then((m) => new m.S3Store(this.o, this.env));
    return this.loaded;
  }

  async lookup(
    primaryKey: string,
    restoreKeys: string[],
    timeoutMs: number,
  ): Promise<LookupResult> {
    return (await this.store()).lookup(primaryKey, restoreKeys, timeoutMs);
  }

  async save(directory: string, key: string, timeoutMs: number): Promise<SaveResult> {
    return (await this.store()).save(directory, key, timeoutMs);
  }

  inventory(): Inventory {
    const inv = this.store().then((s) => s.inventory());
    return {
      list: async (keyPrefix) => (await inv).list(keyPrefix),
      usage: async () => (await inv).usage(),
      deleteById: async (id) => (await inv).deleteById(id),
    };
  }
}
