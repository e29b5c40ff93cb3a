/**
 * Rules both protocols share: key validation as @actions/cache does it (so a
 * bad key fails the same way whichever client is used), the cache-mode gate
 * and the "cache read denied:" policy answer.
 */
import type { LookupOutcome } from './types.js';

/** The stable prefix GitHub's cache service puts in a policy refusal of a read. */
export const READ_DENIED_PREFIX = 'cache read denied:';
const MAX_KEYS = 10;
const MAX_KEY_LENGTH = 512;

/**
 * Throws for keys the service would refuse: more than 10 keys, a key over 512
 * characters, or one containing a comma (v1 joins keys with commas).
 */
export function checkKeys(primaryKey: string, restoreKeys: readonly string[]): void {
  const keys = [primaryKey, ...restoreKeys];
  if (keys.length > MAX_KEYS) {
    throw new Error(
      `Too many cache keys: ${keys.length} (the primary key and at most ${MAX_KEYS - 1} restore keys); drop some restore keys.`,
    );
  }
  for (const key of keys) {
    if (key.length === 0) throw new Error('A cache key is empty; give every key some text.');
    if (key.length > MAX_KEY_LENGTH) {
      throw new Error(
        `Cache key "${key.slice(0, 40)}..." is ${key.length} characters; the service allows ${MAX_KEY_LENGTH}. Shorten it.`,
      );
    }
    if (key.includes(',')) {
      throw new Error(`Cache key "${key}" contains a comma, which the service refuses; remove it.`);
    }
  }
}

const KNOWN_MODES = new Set(['none', 'read', 'write', 'write-only']);

/**
 * `denied` when ACTIONS_CACHE_MODE forbids reads (`write-only`, `none`), as
 * @actions/cache decides it: unknown or unset modes allow reading.
 */
export function cacheModeGate(mode: string | undefined): LookupOutcome | undefined {
  const m = (mode ?? '').trim().toLowerCase();
  if (!KNOWN_MODES.has(m) || m === 'read' || m === 'write') return undefined;
  return {
    kind: 'denied',
    reason: `the effective cache-mode '${m}' does not permit reads (ACTIONS_CACHE_MODE)`,
  };
}

/** The service's own error text from a JSON error body (twirp `msg`, v1 `message`), else the raw text. */
export function errorText(text: string): string {
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    const msg = json['msg'] ?? json['message'] ?? json['Message'];
    if (typeof msg === 'string') return msg;
  } catch {
    // not JSON: use the text as it is
  }
  return text;
}

/** A policy denial of the read, recognised by its stable prefix anywhere in the error text. */
export function deniedReason(status: number, text: string): string | undefined {
  const msg = errorText(text);
  if (!msg.includes(READ_DENIED_PREFIX)) return undefined;
  return `${msg.slice(msg.indexOf(READ_DENIED_PREFIX))} (HTTP ${status})`;
}
