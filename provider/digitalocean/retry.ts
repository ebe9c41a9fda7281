// The retry policy: one exported defaults object merged with the caller's options.

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Backoff before attempt n+1 is min(maxDelayMs, baseDelayMs × 2^(n-1)), with full jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Longest wait honoured from retry-after / ratelimit-reset before giving up. */
  maxRetryAfterMs: number;
  /** Per-request timeout. */
  requestTimeoutMs: number;
}

export const RETRY_DEFAULTS: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 6,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
  requestTimeoutMs: 60_000,
});

export function backoffMs(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(cap * random());
}

/** The wait a 429 asks for: retry-after (seconds or an HTTP date), else ratelimit-reset (epoch seconds). */
export function retryAfterMs(headers: Headers, now = Date.now()): number | null {
  const ra = headers.get("retry-after");
  if (ra) {
    const secs = Number(ra);
    if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
    const date = Date.parse(ra);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = headers.get("ratelimit-reset");
  if (reset && Number.isFinite(Number(reset))) return Math.max(0, Number(reset) * 1000 - now);
  return null;
}
