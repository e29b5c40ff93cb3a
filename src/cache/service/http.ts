/**
 * One JSON call to the cache service with the retry policy both protocols
 * share. Service trouble comes back as a value, never as an exception:
 *
 * - 500/502/503/504/408 and resets are retried with exponential backoff:
 *   6 attempts, waits of 1, 2, 4, 8 and 10 s (each up to 20% longer), about
 *   25-30 s in all. @actions/cache's v2 client waits 3 + 4.5 + 6.75 + 10.1 s
 *   (about 24 s, jittered up to 35 s) over 5 attempts, its v1 client 5 s over
 *   2: ours is at least as patient, and asks again sooner after a blip;
 * - 429 is retried after its Retry-After when that fits the cap and budget;
 * - connection refused, unknown host and timeouts end the call at once: a
 *   service that is not there will not be there 500 ms later either, and a
 *   retry storm only delays the job;
 * - every wait and attempt fits in one overall budget (`timeoutMs`, the
 *   `lookup-timeout` input): a backoff that would overrun it is shortened to
 *   leave one last attempt room, and none is made when too little is left;
 * - every retry is logged (`onRetry`, by default an info line in the job log).
 */
import * as core from '@actions/core';
import * as http from 'node:http';
import * as https from 'node:https';

export interface RetryTuning {
  /** Attempts in all, the first included. */
  maxAttempts?: number;
  /** First backoff; doubled per attempt, up to 20% longer (jitter), capped at 10 s. */
  baseDelayMs?: number;
  /** Longest Retry-After honoured; a longer one ends the call as rate limited. */
  maxRetryAfterMs?: number;
  /** Told of every retry, with a line for the log. Default: an info line in the job log. */
  onRetry?: (line: string) => void;
  /** Time as the retries see it; tests replace it to run a whole schedule without waiting. */
  clock?: Clock;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export interface CallRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Budget for the whole call, retries and waits included. */
  timeoutMs: number;
  /** What the call is, for log lines: `cache service v2 lookup`. */
  label?: string;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export type CallResult = { kind: 'answer'; answer: Answer } | { kind: 'failed'; reason: string };

const DEFAULTS: Required<RetryTuning> = {
  maxAttempts: 6,
  baseDelayMs: 1_000,
  maxRetryAfterMs: 10_000,
  onRetry: (line) => core.info(line),
  clock: realClock,
};
const MAX_BACKOFF_MS = 10_000;
/** Time kept for the last attempt when a backoff is shortened to fit the budget. */
const LAST_ATTEMPT_MS = 1_000;
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

/**
 * Backoff before attempt `attempt + 1` (attempt counts from 0): base * 2^n,
 * capped at 10 s, made up to 20% longer at random so that jobs failed by one
 * outage do not all come back at once. Never shorter than the plain value.
 */
export function backoffMs(attempt: number, baseDelayMs: number, random = Math.random()): number {
  const plain = Math.min(MAX_BACKOFF_MS, baseDelayMs * 2 ** attempt);
  return Math.round(plain * (1 + random * 0.2));
}

/**
 * The wait before the next attempt, fitted into what is left of the budget:
 * a Retry-After is the server's word and is never shortened (undefined when
 * it does not fit); a backoff is cut to leave the last attempt
 * `LAST_ATTEMPT_MS`, and is undefined when not even that is left.
 */
export function fitWait(
  waitMs: number,
  remainingMs: number,
  fromServer: boolean,
): number | undefined {
  if (waitMs < remainingMs - LAST_ATTEMPT_MS) return waitMs;
  if (fromServer) return undefined;
  const cut = remainingMs - LAST_ATTEMPT_MS;
  return cut > 0 ? cut : undefined;
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

/** `250 ms`, `1.5 s`, `10 min`: a wait or a limit, for a log line. */
export function describeDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000 || ms % 60_000 !== 0) return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')} s`;
  return `${ms / 60_000} min`;
}

/** A short, single-line excerpt of an error body for a reason string. */
export function bodyExcerpt(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

/** The tuning with every field it leaves out (or leaves undefined) set to the default. */
function withDefaults(tuning: RetryTuning): Required<RetryTuning> {
  const given = Object.entries(tuning).filter(([, v]) => v !== undefined);
  return { ...DEFAULTS, ...(Object.fromEntries(given) as RetryTuning) };
}

/** What one attempt came to: a final answer, a final failure, or a reason to ask again. */
type AttemptVerdict =
  | { kind: 'answer'; answer: Answer }
  | { kind: 'final'; reason: string }
  | { kind: 'retry'; why: string; waitMs: number; fromServer: boolean };

/** Sends one attempt and judges it by the rules in the file comment. */
async function attemptOnce(
  req: CallRequest,
  t: Required<RetryTuning>,
  attempt: number,
  remainingMs: number,
): Promise<AttemptVerdict> {
  let answer: Answer;
  try {
    answer = await sendOnce(req, remainingMs);
  } catch (e) {
    if (e instanceof CallTimeout) {
      return { kind: 'final', reason: `no answer within ${req.timeoutMs} ms` };
    }
    const err = e as NodeJS.ErrnoException;
    const why = describeNetworkError(err);
    if (err.code && FINAL_NETWORK_CODES.has(err.code)) return { kind: 'final', reason: why };
    return { kind: 'retry', why, waitMs: backoffMs(attempt, t.baseDelayMs), fromServer: false };
  }
  if (answer.status === 429) {
    const after = retryAfterMs(answer.headers['retry-after'] as string | undefined);
    const why = `rate limited (429${after === undefined ? '' : `, Retry-After ${Math.ceil(after / 1000)} s`})`;
    if (after !== undefined && after > t.maxRetryAfterMs) return { kind: 'final', reason: why };
    if (after !== undefined) return { kind: 'retry', why, waitMs: after, fromServer: true };
    return { kind: 'retry', why, waitMs: backoffMs(attempt, t.baseDelayMs), fromServer: false };
  }
  if (RETRIED_STATUSES.has(answer.status)) {
    const why = `HTTP ${answer.status}${answer.text ? `: ${bodyExcerpt(answer.text)}` : ''}`;
    return { kind: 'retry', why, waitMs: backoffMs(attempt, t.baseDelayMs), fromServer: false };
  }
  return { kind: 'answer', answer };
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
  const t = withDefaults(tuning);
  const label = req.label ?? `${req.method} ${new URL(req.url).pathname}`;
  const { clock } = t;
  const deadline = clock.now() + req.timeoutMs;
  let last = '';
  let made = 0;
  for (let attempt = 0; attempt < t.maxAttempts; attempt++) {
    const remaining = deadline - clock.now();
    if (remaining <= 0) break;
    made++;
    const verdict = await attemptOnce(req, t, attempt, remaining);
    if (verdict.kind === 'answer') return verdict;
    if (verdict.kind === 'final') return { kind: 'failed', reason: verdict.reason };
    last = verdict.why;
    if (attempt + 1 >= t.maxAttempts) break;
    const waitMs = fitWait(verdict.waitMs, deadline - clock.now(), verdict.fromServer);
    if (waitMs === undefined) {
      return {
        kind: 'failed',
        reason: `${last}; no time left for a retry within ${req.timeoutMs} ms`,
      };
    }
    t.onRetry(
      `${label}: ${last} (attempt ${attempt + 1} of ${t.maxAttempts}); retrying in ${describeDuration(waitMs)}`,
    );
    await clock.sleep(waitMs);
  }
  return {
    kind: 'failed',
    reason: `${last || 'no answer'} after ${made} attempt${made === 1 ? '' : 's'}`,
  };
}
