// Spaces' answers in words: an S3 error turned into one naming the bucket and key, what was wrong and the fix (never a
// secret), and which failures no retry mends.
import { DoImageError, EXIT, redact, type ExitCode } from "../errors";
import type { ResolvedSpacesSettings } from "./config";

export class SpacesError extends DoImageError {
  /** `code` is S3's own (AccessDenied) or ours (Interrupted), and becomes "spaces-" + code. @default exit 1 */
  constructor(message: string, options: { code: string; fix: string; cause?: unknown; exit?: ExitCode }) {
    super(message, { code: `spaces-${options.code}`, fix: options.fix, exit: options.exit ?? EXIT.refused, cause: options.cause });
  }
}

export const codeOf = (err: unknown) => (err as { Code?: string }).Code ?? (err as { name?: string }).name ?? "";
/** Failures with no answer from the server, in words. The SDK names a reset or closed connection "TimeoutError". */
const NO_ANSWER: Record<string, string> = {
  ECONNRESET: "the connection being reset (ECONNRESET)",
  EPIPE: "the connection closing while the part was sent (EPIPE)",
  ETIMEDOUT: "a network timeout (ETIMEDOUT)",
};
export function failureOf(err: unknown): string {
  const e = err as { code?: string; message?: string };
  // The code is on the error, or only in its message ("write EPIPE") where the SDK wrapped an error from another realm.
  const sys = e.code ?? /\b(ECONNRESET|EPIPE|ETIMEDOUT)\b/.exec(e.message ?? "")?.[1] ?? "";
  return NO_ANSWER[sys] ?? (codeOf(err) || e.message || "an unknown error");
}
export const FATAL = new Set(["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "NoSuchBucket", "InvalidBucketName", "AllAccessDisabled"]);

/** Turns an S3 error into one that names the bucket and key, what was wrong and the fix, without any secret. */
export function explain(err: unknown, settings: ResolvedSpacesSettings, bucket: string, key?: string): SpacesError {
  const e = err as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const code = e.Code ?? e.name ?? "Error";
  const where = `Spaces ${settings.endpoint} bucket "${bucket}"${key ? ` key "${key}"` : ""}`;
  const keyHint = `${settings.accessKeyId.slice(0, 4)}…`;
  switch (code) {
    case "InvalidAccessKeyId":
      return new SpacesError(`${where}: the access key ${keyHint} is not known (${code})`, {
        code,
        fix: "check SPACES_ACCESS_KEY_ID or digitalocean:spacesAccessId; Spaces keys are listed under API → Spaces Keys",
        cause: err,
      });
    case "SignatureDoesNotMatch":
      return new SpacesError(`${where}: the secret key does not match access key ${keyHint} (${code})`, {
        code,
        fix: "check SPACES_SECRET_ACCESS_KEY or digitalocean:spacesSecretKey",
        cause: err,
      });
    case "AccessDenied":
      return new SpacesError(`${where}: access denied for key ${keyHint}`, {
        code,
        fix: "give the key read/write access to this bucket, or use a key with full access",
        cause: err,
      });
    case "NoSuchBucket":
      return new SpacesError(`${where}: the bucket does not exist`, {
        code,
        fix: `create it (Spaces → Create a Space${settings.region ? `, in region ${settings.region}` : ""}) or name an existing one`,
        cause: err,
      });
    default: {
      // No HTTP answer at all, or a server error: Spaces was unreachable rather than refusing.
      const status = e.$metadata?.httpStatusCode;
      return new SpacesError(`${where}: ${code}${e.message && e.message !== code ? `: ${redact(e.message, settings.secretAccessKey)}` : ""}`, {
        code,
        fix:
          status === undefined
            ? `check the network and the endpoint ${settings.endpoint}, then run again`
            : "retry; if it persists, check the endpoint and the bucket",
        cause: err,
        exit: status === undefined || status >= 500 ? EXIT.unavailable : EXIT.refused,
      });
    }
  }
}
