// One request path for every call: rate limiting, retries by the policy, typed and redacted errors, pagination.
import { realClock, type Clock } from "./clock";
import { resolveApiSettings, type ApiSettings, type ResolvedApiSettings } from "./config";
import { DigitalOceanError, redact } from "./errors";
import { RateLimiter, sharedLimiter } from "./limiter";
import { backoffMs, RETRY_DEFAULTS, retryAfterMs, type RetryPolicy } from "./retry";

export interface ClientOptions extends ApiSettings {
  retry?: Partial<RetryPolicy>;
  /** Where time comes from (waits, backoff, polling). @default the real clock */
  clock?: Clock;
  /** @default the limiter the process shares, or a private one when a clock is given */
  limiter?: RateLimiter;
  /** A log line per retry or wait; never contains the token. */
  log?: (line: string) => void;
  userAgent?: string;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /**
   * For a POST that creates something: retry only where the first attempt cannot have taken effect (a 429, or a
   * connection that was never established). Everything else is retried on 429, 5xx and network errors.
   */
  createsResource?: boolean;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** Network errors raised before the request reached the server: retrying cannot duplicate anything. */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENETUNREACH"]);

function networkCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: string }).code;
    if (code) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export class HttpClient {
  readonly settings: ResolvedApiSettings;
  readonly policy: RetryPolicy;
  readonly clock: Clock;
  readonly limiter: RateLimiter;
  private readonly log: (line: string) => void;
  private readonly userAgent: string;

  constructor(options: ClientOptions = {}) {
    this.settings = resolveApiSettings(options);
    this.policy = { ...RETRY_DEFAULTS, ...options.retry };
    this.clock = options.clock ?? realClock;
    this.limiter = options.limiter ?? (this.clock === realClock ? sharedLimiter : new RateLimiter(undefined, this.clock));
    this.log = options.log ?? (() => undefined);
    this.userAgent = options.userAgent ?? "do-image";
  }

  private url(path: string, query?: RequestOptions["query"]): URL {
    const url = new URL(path.startsWith("http") ? path : `${this.settings.endpoint}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const url = this.url(path, options.query);
    if (url.origin !== new URL(this.settings.endpoint).origin) {
      // A pagination link pointing elsewhere must never receive the token.
      throw new DigitalOceanError({
        status: null,
        id: "bad_link",
        apiMessage: `refusing to send the token to ${url.origin}`,
        method,
        path: url.pathname,
        attempts: 0,
      });
    }
    const shownPath = url.pathname + url.search;
    const { token } = this.settings;
    let attempt = 0;
    for (;;) {
      attempt++;
      await this.limiter.acquire();
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            accept: "application/json",
            "user-agent": this.userAgent,
          },
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: AbortSignal.timeout(this.policy.requestTimeoutMs),
        });
      } catch (err) {
        const code = networkCode(err);
        const safe = !options.createsResource || (code !== undefined && NOT_SENT.has(code));
        const message = redact(`${(err as Error).message}${code ? ` (${code})` : ""}`, token);
        if (safe && attempt < this.policy.maxAttempts) {
          const wait = backoffMs(this.policy, attempt);
          this.log(`${method} ${shownPath}: ${message}; retrying in ${wait} ms (attempt ${attempt + 1} of ${this.policy.maxAttempts})`);
          await this.clock.sleep(wait);
          continue;
        }
        const hint = safe ? "" : "; the request may have reached DigitalOcean, so it was not repeated";
        throw new DigitalOceanError({
          status: null,
          id: code ?? "network_error",
          apiMessage: `${message}${hint}`,
          method,
          path: shownPath,
          host: url.host,
          attempts: attempt,
          cause: err,
        });
      }
      const text = await res.text();
      let body: unknown = undefined;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      if (res.ok) return { status: res.status, body: body as T, headers: res.headers };
      const e = (body ?? {}) as { id?: string; message?: string; request_id?: string };
      const requestId = e.request_id ?? res.headers.get("x-request-id") ?? undefined;
      const retryable = res.status === 429 || (res.status >= 500 && !options.createsResource);
      if (retryable && attempt < this.policy.maxAttempts) {
        // A 429 says when the rate window reopens (retry-after, else ratelimit-reset); a 503 may say retry-after. On
        // any other status the ratelimit headers describe the hourly budget, not this failure, so they are not read.
        const asked =
          res.status === 429
            ? retryAfterMs(res.headers, this.clock.now())
            : res.status === 503 && res.headers.has("retry-after")
              ? retryAfterMs(res.headers, this.clock.now())
              : null;
        if (asked === null || asked <= this.policy.maxRetryAfterMs) {
          const wait = asked ?? backoffMs(this.policy, attempt);
          const why = asked === null ? "" : res.status === 429 ? " (rate limited: waiting as DigitalOcean asks)" : " (waiting as DigitalOcean asks)";
          this.log(
            `${method} ${shownPath}: ${res.status}${e.id ? ` ${e.id}` : ""}; retrying in ${wait} ms${why} (attempt ${attempt + 1} of ${this.policy.maxAttempts})`,
          );
          await this.clock.sleep(wait);
          continue;
        }
      }
      throw new DigitalOceanError({
        status: res.status,
        id: e.id ?? `http_${res.status}`,
        apiMessage: redact(e.message ?? (text.slice(0, 200) || res.statusText), token),
        requestId,
        method,
        path: shownPath,
        attempts: attempt,
        retryAfterMs: res.status === 429 ? (retryAfterMs(res.headers, this.clock.now()) ?? undefined) : undefined,
        gaveUp: res.status === 429 ? (attempt >= this.policy.maxAttempts ? "attempts" : "wait-too-long") : undefined,
      });
    }
  }

  /** Every item of a paginated list, following links.pages.next; `perPage` only where the endpoint declares it. */
  async *paginate<T>(path: string, key: string, query: RequestOptions["query"] = {}, perPage: number | null = 200): AsyncGenerator<T> {
    let next: string | undefined = this.url(path, { per_page: perPage ?? undefined, ...query }).toString();
    while (next) {
      const res: ApiResponse<Record<string, unknown>> = await this.request<Record<string, unknown>>("GET", next);
      for (const item of (res.body[key] as T[] | undefined) ?? []) yield item;
      next = (res.body.links as { pages?: { next?: string } } | undefined)?.pages?.next;
    }
  }
}
