// Public face of the DigitalOcean client.
export { DigitalOceanClient } from "./client";
export { HttpClient, type ClientOptions, type RequestOptions } from "./http";
export { resolveApiSettings, MissingTokenError, DEFAULT_API_URL, type ApiSettings } from "./config";
export { DigitalOceanError, redact } from "./errors";
export { RETRY_DEFAULTS, type RetryPolicy } from "./retry";
export { RateLimiter, sharedLimiter, DOCUMENTED_LIMITS } from "./limiter";
export { scaledClock, realClock, type Clock } from "./clock";
export { waitForImage, waitForTransfer, ImportFailedError, WaitTimeoutError } from "./wait";
export type * from "./types";
export {
  publishImage,
  addRegions,
  contentMarker,
  findByMarker,
  PublishError,
  ValidationFailedError,
  type PublishOptions,
  type PublishResult,
  type PublishEvent,
  type SpacesTarget,
} from "./publish";
