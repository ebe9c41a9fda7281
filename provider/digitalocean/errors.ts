// Typed API errors carrying what DigitalOcean said and what we did; tokens never appear in them.
import { DoImageError, EXIT } from "../errors";

export { redact } from "../errors";

export interface ApiErrorDetails {
  status: number | null;
  /** DigitalOcean's error id, e.g. "unprocessable_entity", "not_found", "too_many_requests". */
  id: string;
  /** DigitalOcean's message, or the network error's. */
  apiMessage: string;
  requestId?: string;
  method: string;
  path: string;
  /** The API host the call went to. */
  host?: string;
  attempts: number;
  /** For a 429: how long DigitalOcean said to wait (retry-after or ratelimit-reset), when it said. */
  retryAfterMs?: number;
  /** For a 429: whether do-image stopped because that wait was longer than it waits, or after its last attempt. */
  gaveUp?: "wait-too-long" | "attempts";
  cause?: unknown;
}

/** A wait as people say it: seconds under a minute and a half, else minutes. */
export const formatWait = (ms: number): string => (ms < 90_000 ? `${Math.max(1, Math.ceil(ms / 1000))} s` : `${Math.ceil(ms / 60_000)} min`);

/** What to do about a failed call, by what failed. */
function fixFor(d: ApiErrorDetails): string {
  if (d.status === null)
    return `check the network and that ${d.host ?? "the API host"} is reachable (it is set by --api-url or DIGITALOCEAN_API_URL); the call was tried ${d.attempts} time(s) with backoff`;
  if (d.status === 401) return "the token is wrong or revoked: create a new one under API → Tokens in the control panel";
  if (d.status === 403) return "the token lacks a scope this needs: give it read and write access to images (and droplets, tags, regions)";
  if (d.status === 404) return "check the id: the resource does not exist, or belongs to another team";
  if (d.status === 429 && d.retryAfterMs !== undefined && d.retryAfterMs > 0 && d.gaveUp !== "attempts")
    return `DigitalOcean's rate limit (5,000 requests an hour, 250 a minute, shared by every client of the token) reopens in ${formatWait(d.retryAfterMs)}, longer than do-image waits: run again after that, or use a token other tools are not spending`;
  if (d.status === 429 && d.retryAfterMs !== undefined && d.retryAfterMs > 0)
    return `DigitalOcean's rate limit held through ${d.attempts} attempts, each waiting as asked (last ${formatWait(d.retryAfterMs)}): another client is spending the token's budget (5,000 requests an hour, 250 a minute); run again later, or use a token of its own`;
  if (d.status === 429) return "DigitalOcean's rate limit held after every retry: wait a few minutes and run again";
  if (d.status >= 500) return "DigitalOcean had a server error on every attempt: run again later, or check status.digitalocean.com";
  return "correct what DigitalOcean's message names, then run again";
}

export class DigitalOceanError extends DoImageError {
  readonly status: number | null;
  readonly id: string;
  readonly apiMessage: string;
  readonly requestId?: string;
  readonly method: string;
  readonly path: string;
  readonly attempts: number;

  constructor(d: ApiErrorDetails) {
    const what = d.status === null ? `network error: ${d.apiMessage}` : `${d.status} ${d.id}: ${d.apiMessage}`;
    const unavailable = d.status === null || d.status === 429 || d.status >= 500;
    super(
      `DigitalOcean API ${d.method} ${d.path} failed: ${what}${d.requestId ? ` (request ${d.requestId})` : ""} after ${d.attempts} attempt${d.attempts === 1 ? "" : "s"}`,
      { code: `api-${d.id.replace(/_/g, "-")}`, fix: fixFor(d), exit: unavailable ? EXIT.unavailable : EXIT.refused, cause: d.cause },
    );
    this.status = d.status;
    this.id = d.id;
    this.apiMessage = d.apiMessage;
    this.requestId = d.requestId;
    this.method = d.method;
    this.path = d.path;
    this.attempts = d.attempts;
  }

  override details(): Record<string, unknown> {
    return { status: this.status, requestId: this.requestId, attempts: this.attempts };
  }

  get notFound(): boolean {
    return this.status === 404;
  }
}
