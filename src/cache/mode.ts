/**
 * The run's cache mode (`ACTIONS_CACHE_MODE`, a workflow's `cache-mode`;
 * untrusted triggers get read-only cache tokens). Pure.
 *
 * - `write` (or unset/unknown): restore, verify, save.
 * - `read`: restore and verify; never prune, never try to save.
 * - `write-only`: skip the restore; save what the job verified.
 * - `none`: neither look up nor save.
 */
export type CacheModeName = 'write' | 'read' | 'write-only' | 'none' | 'unset';

export interface CacheMode {
  name: CacheModeName;
  canRead: boolean;
  canWrite: boolean;
}

export function cacheModeFromEnv(env: NodeJS.ProcessEnv = process.env): CacheMode {
  const raw = (env['ACTIONS_CACHE_MODE'] ?? '').trim().toLowerCase();
  switch (raw) {
    case 'read':
      return { name: 'read', canRead: true, canWrite: false };
    case 'write-only':
      return { name: 'write-only', canRead: false, canWrite: true };
    case 'none':
      return { name: 'none', canRead: false, canWrite: false };
    case 'write':
      return { name: 'write', canRead: true, canWrite: true };
    default:
      return { name: 'unset', canRead: true, canWrite: true };
  }
}

/** The summary's line for the mode; empty when the runner set none. */
export function describeCacheMode(m: CacheMode): string {
  switch (m.name) {
    case 'unset':
      return '';
    case 'write':
      return 'write (restore and save)';
    case 'read':
      return 'read (restore and verify only; nothing is saved)';
    case 'write-only':
      return 'write-only (no restore; the verified cache is saved)';
    case 'none':
      return 'none (no restore, no save)';
  }
}
