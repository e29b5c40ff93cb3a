/**
 * One JSON call to the cache service with the retry policy both protocols
 * share. Service trouble comes back as a value, never as an exception:
 *
 * - 500/502/503/504/408 and resets are retried with exponential backoff;
 * - 429 is retried after its Retry-After when that fits the cap and budget;
 * - connection refused, unknown host and timeouts end the call at once: a
 *   service that is not there will not be there 500 ms later either, and a
 *   retry storm only delays the job;
 * - every wait and attempt fits in one overall budget (`timeoutMs`).
 */
import * as http from 'node:http';
import * as https from 'node:https';

export interface RetryTuning {
  /** Attempts in all, the first included. */
  maxAttempts?: number;
  /** First backoff; doubled per attempt, with jitter, capped at 8 s. */
  baseDelayMs?: number;
  /** Longest Retry-After honoured; a longer one ends the call as rate limited. */
  maxRetryAfterMs?: number;
}

export interface CallRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Budget for the whole call, retries and waits included. */
  timeoutMs: number;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export type CallResult = { kind: 'answer'; answer: Answer } | { kind: 'failed'; reason: string };

const DEFAULTS: Required<RetryTuning> = {
  maxAttempts: 4,
  baseDelayMs: 500,
  maxRetryAfterMs: 10_000,
};
const MAX_BACKOFF_MS = 8_000;
const MAX_BODY_BYTES = 1024 * 1024;
const RETRIED_STATUSES = new Set([408, 500, 502, 503, 504]);
/** Network errors that mean "nobody is listening": no point in asking again. */
const FINAL_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

class CallTimeout extends Error {}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds from now. */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Backoff before attempt `attempt + 1` (attempt counts from 0): base * 2^n, jittered +-20%. */
export function backoffMs(attempt: number, baseDelayMs: number): number {
  const plain = Math.min(MAX_BACKOFF_MS, baseDelayMs * 2 ** attempt);
  return Math.round(plain * (0.8 + Math.random() * 0.4));
}

function describeNetworkError(e: NodeJS.ErrnoException): string {
  return e.code ? `${e.code} (${e.message})` : e.message;
}

/** Sends one request; resolves with the answer, rejects with the network error. */
function sendOnce(req: CallRequest, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(req.url);
    const transport = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    const r = transport.request(url, { method: req.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY_BYTES) chunks.push(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const timer = setTimeout(() => {
      r.destroy(new CallTimeout(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    r.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    r.end(req.body);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A short, single-line excerpt of an error body for a reason string. */
export function bodyExcerpt(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

/**
 * Makes the call, retrying as described above. A final answer is returned
 * whatever its status (the caller decides what a 403 or 404 means); only
 * exhausted retries, timeouts and network failures become `failed`.
 */
export async function callWithRetries(
  req: CallRequest,
  tuning: RetryTuning = {},
): Promise<CallResult> {
  const t = { ...DEFAULTS, ...tuning };
  const deadline = Date.now() + req.timeoutMs;
  let last = '';
  let made = 0;
  for (let attempt = 0; attempt < t.maxAttempts; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    let waitMs: number;
    made++;
    try {
      const answer = await sendOnce(req, remaining);
      if (answer.status === 429) {
        const after = retryAfterMs(answer.headers['retry-after'] as string | undefined);
        last = `rate limited (429${after === undefined ? '' : `, Retry-After ${Math.ceil(after / 1000)} s`})`;
        if (after !== undefined && after > t.maxRetryAfterMs) {
          return { kind: 'failed', reason: last };
        }
        waitMs = after ?? backoffMs(attempt, t.baseDelayMs);
      } else if (RETRIED_STATUSES.has(answer.status)) {
        last = `HTTP ${answer.status}${answer.text ? `: ${bodyExcerpt(answer.text)}` : ''}`;
        waitMs = backoffMs(attempt, t.baseDelayMs);
      } else {
        return { kind: 'answer', answer };
      }
    } catch (e) {
      if (e instanceof CallTimeout) {
        return { kind: 'failed', reason: `no answer within ${req.timeoutMs} ms` };
      }
      const err = e as NodeJS.ErrnoException;
      if (err.code && FINAL_NETWORK_CODES.has(err.code)) {
        return { kind: 'failed', reason: describeNetworkError(err) };
      }
      last = describeNetworkError(err);
      waitMs = backoffMs(attempt, t.baseDelayMs);
    }
    if (attempt + 1 >= t.maxAttempts) break;
    if (Date.now() + waitMs >= deadline) {
      return {
        kind: 'failed',
        reason: `${last}; no time left for a retry within ${req.timeoutMs} ms`,
      };
    }
    await sleep(waitMs);
  }
  return {
    kind: 'failed',
    reason: `${last || 'no answer'} after ${made} attempt${made === 1 ? '' : 's'}`,
  };
}
