// Typed API errors carrying what DigitalOcean said and what we did; tokens never appear in them.

export interface ApiErrorDetails {
  status: number | null;
  /** DigitalOcean's error id, e.g. "unprocessable_entity", "not_found", "too_many_requests". */
  id: string;
  /** DigitalOcean's message, or the network error's. */
  apiMessage: string;
  requestId?: string;
  method: string;
  path: string;
  attempts: number;
  cause?: unknown;
}

export class DigitalOceanError extends Error {
  readonly status: number | null;
  readonly id: string;
  readonly apiMessage: string;
  readonly requestId?: string;
  readonly method: string;
  readonly path: string;
  readonly attempts: number;

  constructor(d: ApiErrorDetails) {
    const what = d.status === null ? `network error: ${d.apiMessage}` : `${d.status} ${d.id}: ${d.apiMessage}`;
    super(
      `DigitalOcean API ${d.method} ${d.path} failed: ${what}${d.requestId ? ` (request ${d.requestId})` : ""} after ${d.attempts} attempt${d.attempts === 1 ? "" : "s"}`,
      d.cause === undefined ? undefined : { cause: d.cause },
    );
    this.name = "DigitalOceanError";
    this.status = d.status;
    this.id = d.id;
    this.apiMessage = d.apiMessage;
    this.requestId = d.requestId;
    this.method = d.method;
    this.path = d.path;
    this.attempts = d.attempts;
  }

  get notFound(): boolean {
    return this.status === 404;
  }
}

/** Replaces every occurrence of a secret in a text; used on anything that came back from the network. */
export function redact(text: string, ...secrets: (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("[redacted]");
  return out.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, "$1[redacted]");
}
