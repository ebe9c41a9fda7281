// Public face of digitalocean/: a pure API client (as godo is under the Terraform provider), one service per area.
export { DigitalOceanClient } from "./client";
export { HttpClient, type ClientOptions, type RequestOptions, type ApiResponse } from "./http";
export { resolveApiSettings, MissingTokenError, DEFAULT_API_URL, type ApiSettings } from "./config";
export { DigitalOceanError, redact } from "./errors";
export { RETRY_DEFAULTS, type RetryPolicy } from "./retry";
export { RateLimiter, sharedLimiter, DOCUMENTED_LIMITS } from "./limiter";
export { realClock, type Clock } from "./clock";
export { waitForImage, waitForTransfer, ImportFailedError, TransferFailedError, WaitTimeoutError } from "./wait";
export type * from "./types";
