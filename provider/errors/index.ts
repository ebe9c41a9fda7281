// The one error model every layer extends: a stable code, the message, the fix, and the exit code it maps to.
// This module imports nothing, so the image readers can use it without reaching the network side.

/** What every `do-image` command's exit status means; the README's table is this one. */
export const EXIT = Object.freeze({
  /** Done; the image passed. */
  ok: 0,
  /** Refused: a check failed, or DigitalOcean or Spaces said no (a 4xx, a failed import). */
  refused: 1,
  /** The input cannot be read: a damaged or unsupported file. */
  unreadable: 2,
  /** Usage: an unknown flag, a bad argument, a missing setting. */
  usage: 64,
  /** A service (the API, Spaces, QEMU) unreachable or not finishing, after retries. */
  unavailable: 69,
  /** A bug in do-image. */
  internal: 70,
});

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * Every error code do-image gives, as the JSON reports carry it ("code"): kebab-case names of our own, and two
 * families whose second half is the service's own code, kept as the service spells it so it can be looked up in the
 * service's documentation: `spaces-<S3 error code>` (spaces-NoSuchBucket) and `api-<DigitalOcean error id>`
 * (api-not-found, api-unauthorized, and api-<errno> such as api-ECONNREFUSED when no answer came).
 */
export const ERROR_CODES = [
  "usage",
  "missing-token",
  "missing-spaces-keys",
  "file-changed",
  "internal",
  "truncated",
  "read-outside-disk",
  "field-out-of-range",
  "size-over-limit",
  "size-over-100gb",
  "decompressed-over-limit",
  "scratch-space",
  "scratch-unusable",
  "empty-file",
  "xz",
  "zstd",
  "zip",
  "tar",
  "vhd",
  "iso9660",
  "gzip-corrupt",
  "nested-compression",
  "bzip2-corrupt",
  "bzip2-randomised",
  "boot-compressed",
  "no-partition-table",
  "gpt-corrupt",
  "qcow2-backing-file",
  "qcow2-compression-type",
  "qcow2-corrupt",
  "qcow2-encrypted",
  "qcow2-external-data-file",
  "qcow2-unknown-feature",
  "qcow2-version",
  "vhdx-corrupt",
  "vhdx-differencing",
  "vhdx-log-replay",
  "vdi-unsupported",
  "vdi-differencing",
  "vdi-corrupt",
  "vmdk-compression",
  "vmdk-corrupt",
  "vmdk-external-extents",
  "ext-corrupt",
  "ext-not-found",
  "ext-symlink-loop",
  "ext-directory-over-limit",
  "ext-unsupported",
  "kvm-unavailable",
  "qemu-broken",
  "qemu-failed",
  "qemu-missing",
  "image-unreadable",
  "validation-failed",
  "validate-failed",
  "upload-failed",
  "import-failed",
  "transfer-failed",
  "update-failed",
  "delete-failed",
  "wait-timeout",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number] | `spaces-${string}` | `api-${string}`;

export interface DoImageErrorOptions {
  /** Stable and machine-readable, e.g. "qcow2-backing-file", "missing-token". */
  code: ErrorCode;
  /** What the user should do about it. */
  fix: string;
  /** @default EXIT.refused */
  exit?: ExitCode;
  cause?: unknown;
}

export class DoImageError extends Error {
  readonly code: ErrorCode;
  readonly fix: string;
  readonly exitCode: ExitCode;

  constructor(message: string, options: DoImageErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.fix = options.fix;
    this.exitCode = options.exit ?? EXIT.refused;
  }

  /** Fields beyond code, message and fix that a JSON report should carry (file, offset, status and so on); none by default. */
  details(): Record<string, unknown> {
    return {};
  }
}

/** A bad argument or a missing setting: the command cannot start. */
export class UsageError extends DoImageError {
  /** The flag or field at fault, e.g. "--region" or "regions[1]". */
  readonly field?: string;

  constructor(message: string, options: { fix: string; field?: string; cause?: unknown }) {
    super(message, { code: "usage", fix: options.fix, exit: EXIT.usage, cause: options.cause });
    this.field = options.field;
  }

  override details(): Record<string, unknown> {
    return this.field ? { field: this.field } : {};
  }
}

/**
 * The first credential set among `sources` (each a name people know it by, and its value), refused with a usage
 * error naming it when it holds a control character: a newline from `echo > file`, a carriage return from a Windows
 * editor. Such a value cannot go into an HTTP header, and would otherwise fail as a network error after every retry.
 */
export function credential(sources: [name: string, value: string | undefined][]): { name: string; value: string } | undefined {
  const found = sources.find(([, v]) => v);
  if (!found) return undefined;
  const [name, value] = found as [string, string];
  let at = -1;
  for (let i = 0; i < value.length && at < 0; i++) if (value.charCodeAt(i) < 0x20 || value.charCodeAt(i) === 0x7f) at = i;
  if (at >= 0)
    throw new UsageError(`${name} contains a control character (${JSON.stringify(value[at])} at position ${at + 1} of ${value.length})`, {
      fix: `set ${name} to the value alone, without a trailing newline or other control characters${/^[A-Z_]+$/.test(name) ? ` (e.g. export ${name}="$(tr -d '\\r\\n' < file)")` : ""}`,
      field: name,
    });
  return { name, value };
}

/** The exit code an error maps to: its own for ours, 70 (a bug) for anything else. */
export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof DoImageError ? err.exitCode : EXIT.internal;
}

/** The JSON shape of an error: code, message and fix, plus only the fields that apply. */
export function errorJson(err: unknown): { code: string; message: string; fix: string } & Record<string, unknown> {
  if (err instanceof DoImageError) return { code: err.code, message: err.message, fix: err.fix, ...defined(err.details()) };
  return { code: "internal", message: String((err as Error)?.message ?? err), fix: "this is a bug in do-image: report it with the command you ran" };
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** Replaces every occurrence of a secret (and any bearer token) in a text; used on anything that came back from the network. */
export function redact(text: string, ...secrets: (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("[redacted]");
  return out.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, "$1[redacted]");
}
