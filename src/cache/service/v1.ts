/**
 * Cache service v1 lookup: REST `GET {ACTIONS_CACHE_URL}_apis/artifactcache/cache`
 * with all keys comma-joined, as @actions/cache's HTTP client sends it. Still
 * spoken by GHES and by nektos/act's built-in service. 204 is a miss.
 */
import { callWithRetries, bodyExcerpt } from './http.js';
import { cacheModeGate, checkKeys, deniedReason, errorText } from './common.js';
import { USER_AGENT, type ServiceConfig } from './v2.js';
import type { CacheService, LookupOptions, LookupOutcome } from './types.js';

const LABEL = 'cache service v1 lookup';

export class V1CacheService implements CacheService {
  readonly protocol = 'v1' as const;

  constructor(private readonly config: ServiceConfig) {}

  /** The toolkit appends the resource to the base URL as text; the base ends with a slash. */
  lookupUrl(keys: readonly string[], version: string): string {
    return `${this.config.baseUrl}_apis/artifactcache/cache?keys=${encodeURIComponent(keys.join(','))}&version=${version}`;
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
        method: 'GET',
        url: this.lookupUrl([primaryKey, ...restoreKeys], version),
        headers: {
          accept: 'application/json;api-version=6.0-preview.1',
          ...(this.config.token ? { authorization: `Bearer ${this.config.token}` } : {}),
          'user-agent': USER_AGENT,
        },
        timeoutMs: options.timeoutMs,
        label: LABEL,
      },
      this.config.tuning,
    );
    if (result.kind === 'failed') {
      return { kind: 'unavailable', reason: `cache service v1 lookup: ${result.reason}` };
    }
    const { status, text } = result.answer;
    if (status === 204) return { kind: 'miss' };
    if (status < 200 || status >= 300) {
      const denied = deniedReason(status, text);
      if (denied) return { kind: 'denied', reason: denied };
      return {
        kind: 'unavailable',
        reason: `cache service v1 lookup answered HTTP ${status}: ${bodyExcerpt(errorText(text))}`,
      };
    }
    return parseV1Answer(text);
  }
}

/** Reads a v1 lookup answer `{cacheKey, archiveLocation, ...}`. */
export function parseV1Answer(text: string): LookupOutcome {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {
      kind: 'unavailable',
      reason: `cache service v1 answered non-JSON: ${bodyExcerpt(text)}`,
    };
  }
  const url = json['archiveLocation'];
  const key = json['cacheKey'];
  if (typeof url !== 'string' || url === '' || typeof key !== 'string' || key === '') {
    return {
      kind: 'unavailable',
      reason: 'cache service v1 reported a hit without an archiveLocation or cacheKey',
    };
  }
  return { kind: 'hit', entry: { matchedKey: key, downloadUrl: url } };
}
