/**
 * Cache service v2 lookup: twirp JSON `GetCacheEntryDownloadURL` under
 * `{ACTIONS_RESULTS_URL}/twirp/...`, as @actions/cache's twirp client sends it
 * (proto field names, a bearer token). `ok: false` is a miss.
 */
import { callWithRetries, bodyExcerpt, type RetryTuning } from './http.js';
import { cacheModeGate, checkKeys, deniedReason, errorText } from './common.js';
import type { CacheService, LookupOptions, LookupOutcome } from './types.js';

const SERVICE = 'github.actions.results.api.v1.CacheService';
const LABEL = 'cache service v2 lookup';

export interface ServiceConfig {
  /** ACTIONS_RESULTS_URL (v2) or ACTIONS_CACHE_URL (v1). */
  baseUrl: string;
  /** ACTIONS_RUNTIME_TOKEN. */
  token: string;
  /** ACTIONS_CACHE_MODE, if any. */
  cacheMode?: string;
  tuning?: RetryTuning;
}

export const USER_AGENT = 'verified-go-cache';

export class V2CacheService implements CacheService {
  readonly protocol = 'v2' as const;

  constructor(private readonly config: ServiceConfig) {}

  /** Twirp routes are absolute: any path in the base URL is dropped, as the toolkit's client does. */
  methodUrl(method: string): string {
    return new URL(`/twirp/${SERVICE}/${method}`, this.config.baseUrl).href;
  }

  async lookup(
    primaryKey: string,
    restoreKeys: readonly string[],
    version: string,
    options: LookupOptions,
  ): Promise<LookupOutcome> {
    checkKeys(primaryKey, restoreKeys);
    const gate = cacheModeGate(this.config.cacheMode);
    if (gate) return gate;
    const result = await callWithRetries(
      {
        method: 'POST',
        url: this.methodUrl('GetCacheEntryDownloadURL'),
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          authorization: `Bearer ${this.config.token}`,
          'user-agent': USER_AGENT,
        },
        body: JSON.stringify({ key: primaryKey, restore_keys: restoreKeys, version }),
        timeoutMs: options.timeoutMs,
        label: LABEL,
      },
      this.config.tuning,
    );
    if (result.kind === 'failed') {
      return { kind: 'unavailable', reason: `cache service v2 lookup: ${result.reason}` };
    }
    const { status, text } = result.answer;
    if (status < 200 || status >= 300) {
      const denied = deniedReason(status, text);
      if (denied) return { kind: 'denied', reason: denied };
      return {
        kind: 'unavailable',
        reason: `cache service v2 lookup answered HTTP ${status}: ${bodyExcerpt(errorText(text))}`,
      };
    }
    return parseV2Answer(text);
  }
}

/** Reads a GetCacheEntryDownloadURL answer; anything malformed is `unavailable`, not a crash. */
export function parseV2Answer(text: string): LookupOutcome {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {
      kind: 'unavailable',
      reason: `cache service v2 answered non-JSON: ${bodyExcerpt(text)}`,
    };
  }
  if (json['ok'] !== true) return { kind: 'miss' };
  const url = json['signed_download_url'] ?? json['signedDownloadUrl'];
  const key = json['matched_key'] ?? json['matchedKey'];
  if (typeof url !== 'string' || url === '' || typeof key !== 'string' || key === '') {
    return {
      kind: 'unavailable',
      reason: 'cache service v2 reported a hit without a download URL or matched key',
    };
  }
  return { kind: 'hit', entry: { matchedKey: key, downloadUrl: url } };
}
