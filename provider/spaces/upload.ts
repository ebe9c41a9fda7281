// Uploads an image to a Spaces bucket under a content-addressed key: parallel multipart parts, resumable, bounded memory.
//
// Multipart is driven through @aws-sdk/client-s3 directly rather than @aws-sdk/lib-storage's Upload, because
// Upload cannot resume: here an interrupted upload is found again (ListMultipartUploads), its stored parts are
// listed (ListParts) and skipped, and only the missing parts are sent.
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import { DoImageError, EXIT, redact, type ExitCode } from "../errors";
import { resolveSpacesSettings, type ResolvedSpacesSettings, type SpacesSettings } from "./config";
import { progressReporter, type Progress } from "./hash";

export type Access = "presigned" | "public-read";

/**
 * Bytes to upload that are not a file: an image produced in order as it is sent (see image/qcow2-writer.ts), its size
 * known only at the end.
 */
export interface StreamSource {
  /** How it is named in messages. */
  name: string;
  /** The most bytes it can come to: it sets the part size, as S3 takes at most 10,000 parts. */
  maxSize: number;
  chunks: AsyncIterable<Buffer>;
  /** After the last chunk: bytes that replace the start of the object (a header that says where its tables went). */
  head?: () => Buffer;
}

export interface UploadOptions extends SpacesSettings {
  bucket: string;
  /** The object key; the caller chooses it (do-image's publish pipeline addresses objects by content). */
  key: string;
  /** The file's SHA-256, stored as the object's metadata. */
  sha256: string;
  /** A private object with a presigned GET URL, or a public-read object with a plain URL. @default "presigned" */
  access?: Access;
  /** Lifetime of the presigned URL, long enough for a slow import. @default 43200 (12 hours; SigV4 allows 7 days) */
  presignSeconds?: number;
  /** @default 16 MiB for a file, 6 MiB for a stream (each part is in memory), larger when 9,000 parts would not do */
  partSize?: number;
  /** Parts in flight at once; memory use is about concurrency × partSize. @default 4 for a file, 3 for a stream */
  concurrency?: number;
  onProgress?: (p: Progress) => void;
  /** Stops the upload, leaving its parts for a later run to resume. */
  signal?: AbortSignal;
}

export interface UploadResult {
  bucket: string;
  key: string;
  sha256: string;
  size: number;
  /** The URL DigitalOcean imports from: presigned (private object) or public. */
  url: string;
  /** The object already existed with the same key and size: nothing was sent. */
  reused: boolean;
  partsUploaded: number;
  partsReused: number;
  bytesUploaded: number;
}

export class SpacesError extends DoImageError {
  constructor(message: string, code: string, fix: string, cause?: unknown, exit: ExitCode = EXIT.refused) {
    super(message, { code: `spaces-${code}`, fix, exit, cause });
  }
}

const MiB = 1024 * 1024;
const MAX_PARTS = 9000; // S3 allows 10,000; leave room
const codeOf = (err: unknown) => (err as { Code?: string }).Code ?? (err as { name?: string }).name ?? "";
/** Failures with no answer from the server, in words. The SDK names a reset or closed connection "TimeoutError". */
const NO_ANSWER: Record<string, string> = {
  ECONNRESET: "the connection being reset (ECONNRESET)",
  EPIPE: "the connection closing while the part was sent (EPIPE)",
  ETIMEDOUT: "a network timeout (ETIMEDOUT)",
};
function failureOf(err: unknown): string {
  const e = err as { code?: string; message?: string };
  // The code is on the error, or only in its message ("write EPIPE") where the SDK wrapped an error from another realm.
  const sys = e.code ?? /\b(ECONNRESET|EPIPE|ETIMEDOUT)\b/.exec(e.message ?? "")?.[1] ?? "";
  return NO_ANSWER[sys] ?? (codeOf(err) || e.message || "an unknown error");
}
const FATAL = new Set(["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "NoSuchBucket", "InvalidBucketName", "AllAccessDisabled"]);

/** An S3 client for Spaces: path-style addressing, checksums only where required (aws-chunked bodies upset S3-compatible stores). */
export async function spacesClient(settings: ResolvedSpacesSettings): Promise<S3Client> {
  const { S3Client } = await import("@aws-sdk/client-s3");
  return new S3Client({
    region: "us-east-1", // Spaces signs with us-east-1 whatever its region; the endpoint selects the region
    endpoint: settings.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Turns an S3 error into one that names the bucket and key, what was wrong and the fix, without any secret. */
export function explain(err: unknown, settings: ResolvedSpacesSettings, bucket: string, key?: string): SpacesError {
  const e = err as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const code = e.Code ?? e.name ?? "Error";
  const where = `Spaces ${settings.endpoint} bucket "${bucket}"${key ? ` key "${key}"` : ""}`;
  const keyHint = `${settings.accessKeyId.slice(0, 4)}…`;
  switch (code) {
    case "InvalidAccessKeyId":
      return new SpacesError(
        `${where}: the access key ${keyHint} is not known (${code})`,
        code,
        "check SPACES_ACCESS_KEY_ID or digitalocean:spacesAccessId; Spaces keys are listed under API → Spaces Keys",
        err,
      );
    case "SignatureDoesNotMatch":
      return new SpacesError(
        `${where}: the secret key does not match access key ${keyHint} (${code})`,
        code,
        "check SPACES_SECRET_ACCESS_KEY or digitalocean:spacesSecretKey",
        err,
      );
    case "AccessDenied":
      return new SpacesError(
        `${where}: access denied for key ${keyHint}`,
        code,
        "give the key read/write access to this bucket, or use a key with full access",
        err,
      );
    case "NoSuchBucket":
      return new SpacesError(
        `${where}: the bucket does not exist`,
        code,
        `create it (Spaces → Create a Space${settings.region ? `, in region ${settings.region}` : ""}) or name an existing one`,
        err,
      );
    default: {
      // No HTTP answer at all, or a server error: Spaces was unreachable rather than refusing.
      const status = e.$metadata?.httpStatusCode;
      return new SpacesError(
        // What the server said is repeated, never the secret key, even when the server (or a proxy) echoes it.
        `${where}: ${code}${e.message && e.message !== code ? `: ${redact(e.message, settings.secretAccessKey)}` : ""}`,
        code,
        status === undefined
          ? `check the network and the endpoint ${settings.endpoint}, then run again`
          : "retry; if it persists, check the endpoint and the bucket",
        err,
        status === undefined || status >= 500 ? EXIT.unavailable : EXIT.refused,
      );
    }
  }
}

/** The plain URL of a public-read object: virtual-host style on Spaces itself, path style on any other S3 endpoint. */
export function publicObjectUrl(endpoint: string, bucket: string, key: string): string {
  const url = new URL(endpoint);
  return url.hostname.endsWith(".digitaloceanspaces.com")
    ? `${url.protocol}//${bucket}.${url.host}/${encodeURI(key)}`
    : `${endpoint.replace(/\/+$/, "")}/${bucket}/${encodeURI(key)}`;
}

/** The URL DigitalOcean downloads the image from. */
export async function imageUrl(
  client: S3Client,
  settings: ResolvedSpacesSettings,
  bucket: string,
  key: string,
  access: Access,
  presignSeconds = 43200,
): Promise<string> {
  if (access === "public-read") return publicObjectUrl(settings.endpoint, bucket, key);
  const [{ GetObjectCommand }, { getSignedUrl }] = await Promise.all([import("@aws-sdk/client-s3"), import("@aws-sdk/s3-request-presigner")]);
  return getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: Math.min(presignSeconds, 604800) });
}

/**
 * The stored size and SHA-256 metadata of an object, or null, from a one-byte ranged GET (Content-Range carries the
 * total). Not HEAD: HEAD responses have no error body, so a wrong key or a missing bucket would surface as a bare 403.
 */
async function storedObject(client: S3Client, bucket: string, key: string): Promise<{ size: number; sha256?: string } | null> {
  const { GetObjectCommand } = await import("@aws-sdk/client-s3");
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: "bytes=0-0" }));
    (res.Body as { destroy?: () => void } | undefined)?.destroy?.();
    const total = /\/(\d+)$/.exec(res.ContentRange ?? "")?.[1];
    return { size: total !== undefined ? Number(total) : (res.ContentLength ?? 0), sha256: res.Metadata?.sha256 };
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === "NoSuchKey" || (e.$metadata?.httpStatusCode === 404 && e.name !== "NoSuchBucket")) return null;
    if (e.$metadata?.httpStatusCode === 416) return { size: 0 }; // a range on an empty object
    throw err;
  }
}

/** An unfinished multipart upload of this key, with the parts it already holds. */
async function findUpload(
  client: S3Client,
  bucket: string,
  key: string,
): Promise<{ uploadId: string; parts: Map<number, { size: number; etag: string }> } | null> {
  const { ListMultipartUploadsCommand, ListPartsCommand } = await import("@aws-sdk/client-s3");
  // Listed without a Prefix and filtered here: open uploads are few, and s3rver mis-signs a prefix holding "/".
  let upload: { UploadId?: string } | undefined;
  let keyMarker: string | undefined;
  let idMarker: string | undefined;
  for (;;) {
    const list = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
    upload = (list.Uploads ?? []).filter((u) => u.Key === key && u.UploadId).pop() ?? upload;
    if (!list.IsTruncated) break;
    keyMarker = list.NextKeyMarker;
    idMarker = list.NextUploadIdMarker;
  }
  if (!upload) return null;
  const parts = new Map<number, { size: number; etag: string }>();
  let marker: string | undefined;
  for (;;) {
    const res = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId, PartNumberMarker: marker }));
    for (const p of res.Parts ?? []) if (p.PartNumber && p.ETag) parts.set(p.PartNumber, { size: p.Size ?? 0, etag: p.ETag });
    if (!res.IsTruncated) break;
    marker = res.NextPartNumberMarker;
  }
  return { uploadId: upload.UploadId!, parts };
}

/** What the two kinds of upload share: the client, the result, and what becomes of a multipart upload that failed. */
async function session(what: string, options: UploadOptions) {
  const settings = resolveSpacesSettings(options);
  const { bucket, key, sha256 } = options;
  const client = await spacesClient(settings);
  const s3 = await import("@aws-sdk/client-s3");
  const access = options.access ?? "presigned";
  const result: UploadResult = { bucket, key, sha256, size: 0, url: "", reused: false, partsUploaded: 0, partsReused: 0, bytesUploaded: 0 };
  const acl = access === "public-read" ? "public-read" : undefined;
  const metadata = { sha256 };
  const url = () => imageUrl(client, settings, bucket, key, access, options.presignSeconds);
  const partSizeFor = (size: number, fallback: number) => Math.max(options.partSize ?? fallback, Math.ceil(size / MAX_PARTS / MiB) * MiB);
  const createUpload = async () =>
    (await client.send(new s3.CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ACL: acl, Metadata: metadata }))).UploadId!;
  const sendPart = async (uploadId: string, n: number, body: Buffer) => {
    const res = await client.send(
      new s3.UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body, ContentLength: body.length }),
      {
        abortSignal: options.signal,
      },
    );
    result.partsUploaded++;
    result.bytesUploaded += body.length;
    return res.ETag!;
  };
  const putWhole = async (body: Buffer) => {
    await client.send(new s3.PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ACL: acl, Metadata: metadata }), {
      abortSignal: options.signal,
    });
    result.partsUploaded = 1;
    result.bytesUploaded = body.length;
  };
  /** Another process uploading the same content (the key names it) completed this very upload: the object is whole. */
  const completedElsewhere = async (err: unknown, size?: number) => {
    if (codeOf(err) !== "NoSuchUpload") return false;
    const stored = await storedObject(client, bucket, key);
    return stored !== null && stored.sha256 === sha256 && (size === undefined || stored.size === size);
  };
  const complete = async (uploadId: string, etags: Map<number, string>, size?: number) => {
    const parts = [...etags.entries()].sort((a, b) => a[0] - b[0]).map(([PartNumber, ETag]) => ({ PartNumber, ETag }));
    await client
      .send(new s3.CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }))
      .catch(async (err: unknown) => {
        if (!(await completedElsewhere(err, size))) throw err;
      });
  };
  const abort = (uploadId: string) =>
    client.send(new s3.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).then(
      () => undefined,
      () => undefined,
    );
  /** The error for a part that failed: fatal ones abort the upload (its parts would linger and cost money). */
  const partFailed = async (err: unknown, uploadId: string, partCount: string): Promise<SpacesError> => {
    const code = codeOf(err);
    if (FATAL.has(code) || err instanceof SpacesError) {
      await abort(uploadId);
      return err instanceof SpacesError ? err : explain(err, settings, bucket, key);
    }
    const stopped = options.signal?.aborted ? "interrupted" : `stopped by ${failureOf(err)}`;
    return new SpacesError(
      `upload of ${what} to ${bucket}/${key} ${stopped} after ${result.partsUploaded + result.partsReused} of ${partCount} parts`,
      "Interrupted",
      "run the same command again: the parts already stored are kept and skipped",
      err,
      EXIT.unavailable,
    );
  };
  /** Runs the upload; any error comes out naming the bucket and key. */
  const run = async (body: () => Promise<void>): Promise<UploadResult> => {
    try {
      await body();
      if (!result.reused) {
        const stored = await storedObject(client, bucket, key);
        if (stored?.size !== result.size)
          throw new SpacesError(
            `${bucket}/${key} holds ${stored?.size ?? "no"} bytes after the upload, not ${result.size}`,
            "SizeMismatch",
            "run again; if it persists, report it",
          );
      }
      result.url = await url();
      return result;
    } catch (err) {
      // do-image's own errors (a Spaces error, or the image failing to read while it streams) are already explained.
      if (err instanceof DoImageError) throw err;
      throw explain(err, settings, bucket, key);
    } finally {
      client.destroy();
    }
  };
  const stored = () => storedObject(client, bucket, key);
  const resumable = () => findUpload(client, bucket, key);
  return { result, stored, resumable, partSizeFor, createUpload, sendPart, putWhole, complete, completedElsewhere, abort, partFailed, run };
}

/** Uploads a file as one object, resuming an unfinished multipart upload of the same key; an object of the same size is reused. */
export async function uploadObject(file: string, options: UploadOptions): Promise<UploadResult> {
  const size = (await stat(file)).size;
  const up = await session(file, options);
  const { result } = up;
  result.size = size;
  return up.run(async () => {
    if ((await up.stored())?.size === size) {
      result.reused = true;
      options.onProgress?.({ phase: "upload", bytes: size, total: size, rate: 0, etaSeconds: 0 });
      return;
    }
    const partSize = up.partSizeFor(size, 16 * MiB);
    const partCount = Math.max(1, Math.ceil(size / partSize));
    const report = progressReporter("upload", size, options.onProgress);
    const handle = await open(file, "r");
    try {
      if (partCount === 1) {
        const body = Buffer.alloc(size);
        if (size > 0) await handle.read(body, 0, size, 0);
        await up.putWhole(body);
        report(size, true);
        return;
      }
      const found = await up.resumable();
      const uploadId = found?.uploadId ?? (await up.createUpload());
      const etags = new Map<number, string>();
      const todo: number[] = [];
      let done = 0;
      for (let n = 1; n <= partCount; n++) {
        const expected = Math.min(partSize, size - (n - 1) * partSize);
        const stored = found?.parts.get(n);
        if (stored && stored.size === expected) {
          etags.set(n, stored.etag);
          result.partsReused++;
          done += expected;
        } else todo.push(n);
      }
      report(done, true);
      let failure: unknown = null;
      const worker = async () => {
        // One buffer per worker, reused for every part it sends: memory stays at concurrency × partSize.
        const buffer = Buffer.allocUnsafe(partSize);
        while (todo.length > 0 && !failure) {
          const n = todo.shift()!;
          const offset = (n - 1) * partSize;
          const body = buffer.subarray(0, Math.min(partSize, size - offset));
          if ((await handle.read(body, 0, body.length, offset)).bytesRead !== body.length)
            throw new SpacesError(`${file} is shorter than when it was hashed`, "FileChanged", "let whatever writes the file finish, then run again");
          try {
            etags.set(n, await up.sendPart(uploadId, n, body));
          } catch (err) {
            failure = failure ?? err;
            throw err;
          }
          done += body.length;
          report(done, done === size);
        }
      };
      const workers = await Promise.allSettled(Array.from({ length: Math.min(Math.max(1, options.concurrency ?? 4), todo.length) }, worker));
      const rejected = workers.find((w): w is PromiseRejectedResult => w.status === "rejected");
      if (rejected && !(await up.completedElsewhere(rejected.reason, size))) throw await up.partFailed(rejected.reason, uploadId, String(partCount));
      if (!rejected) await up.complete(uploadId, etags, size);
      report(size, true);
    } finally {
      await handle.close();
    }
  });
}

/**
 * Uploads bytes produced as they are sent: parts go out as they fill, at most `concurrency` at a time, while the first
 * part waits in memory for the source's head (sent last, it is the only part that changes once the rest is known). An
 * unfinished upload of the same key is resumed: a part already stored with the same MD5 is not sent again.
 */
export async function uploadStream(source: StreamSource, options: UploadOptions): Promise<UploadResult> {
  const up = await session(source.name, options);
  const { result } = up;
  return up.run(async () => {
    const existing = await up.stored();
    if (existing && existing.sha256 === options.sha256) {
      result.reused = true;
      result.size = existing.size;
      return;
    }
    const partSize = up.partSizeFor(source.maxSize, 6 * MiB);
    // Three in flight rather than a file's four: every part of a stream is in memory until it is sent.
    const concurrency = Math.max(1, options.concurrency ?? 3);
    const free: Buffer[] = [];
    const first = Buffer.allocUnsafe(partSize);
    let firstLength = 0;
    let current: Buffer | null = null;
    let currentLength = 0;
    /** The number of the next part after the first. */
    let n = 2;
    let multipart = null as { uploadId: string; found: Awaited<ReturnType<typeof up.resumable>> } | null;
    const etags = new Map<number, string>();
    const inFlight = new Set<Promise<void>>();
    let failure = null as { err: unknown } | null;

    const sendOrReuse = async (part: number, body: Buffer) => {
      const stored = multipart!.found?.parts.get(part);
      if (stored && stored.size === body.length && stored.etag.replace(/"/g, "") === createHash("md5").update(body).digest("hex")) {
        etags.set(part, stored.etag);
        result.partsReused++;
        return;
      }
      etags.set(part, await up.sendPart(multipart!.uploadId, part, body));
    };
    const enqueue = async (part: number, body: Buffer, recycle: boolean) => {
      if (!multipart) {
        const found = await up.resumable();
        multipart = { uploadId: found?.uploadId ?? (await up.createUpload()), found };
      }
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      if (failure) return;
      const p: Promise<void> = sendOrReuse(part, body)
        .catch((err: unknown) => void (failure ??= { err }))
        .finally(() => {
          inFlight.delete(p);
          if (recycle) free.push(body);
        });
      inFlight.add(p);
    };

    let size = 0;
    try {
      for await (const chunk of source.chunks) {
        size += chunk.length;
        let at = 0;
        while (at < chunk.length && !failure) {
          if (firstLength < partSize) {
            const k = chunk.copy(first, firstLength, at);
            firstLength += k;
            at += k;
            continue;
          }
          if (!current) {
            current = free.pop() ?? Buffer.allocUnsafe(partSize);
            currentLength = 0;
          }
          const k = chunk.copy(current, currentLength, at);
          currentLength += k;
          at += k;
          if (currentLength === partSize) {
            await enqueue(n++, current, true);
            current = null;
          }
        }
        if (failure) break;
      }
    } catch (err) {
      // The source failed (the image could not be read): nothing more will come, so what was sent is aborted.
      await Promise.allSettled(inFlight);
      if (multipart) await up.abort(multipart.uploadId);
      throw err;
    }
    const head = failure ? null : (source.head?.() ?? null);
    if (head && head.length > firstLength) throw new Error(`uploadStream: a head of ${head.length} bytes is longer than the first part`);
    head?.copy(first, 0);
    if (!failure && !multipart) {
      // It all fit in one part: one PUT.
      result.size = firstLength;
      await up.putWhole(first.subarray(0, firstLength));
      return;
    }
    if (!failure && current && currentLength > 0) await enqueue(n++, current.subarray(0, currentLength), false);
    if (!failure) await enqueue(1, first.subarray(0, firstLength), false);
    await Promise.all(inFlight);
    result.size = size;
    const { uploadId } = multipart!;
    if (failure) {
      if (!(await up.completedElsewhere(failure.err))) throw await up.partFailed(failure.err, uploadId, String(n - 1));
      result.size = (await up.stored())!.size;
    } else await up.complete(uploadId, etags);
  });
}

/** The key checkSpacesAccess asks for: one no upload writes, so the answer is "no such key" when the keys work. */
const ACCESS_PROBE_KEY = ".do-image-access-check";

/**
 * Proves the keys and the bucket with one cheap authenticated call (a ranged GET of a key that is not there) before anything is
 * changed: a wrong secret, an unknown key or a missing bucket is found here, not after an image was renamed or
 * imported. Throws explain()'s error naming the bucket and the fix.
 */
export async function checkSpacesAccess(options: SpacesSettings & { bucket: string }): Promise<void> {
  const settings = resolveSpacesSettings(options);
  const client = await spacesClient(settings);
  const s3 = await import("@aws-sdk/client-s3");
  try {
    // A GET answers with S3's error codes in its body (a HEAD cannot); a key that does not exist is the good answer.
    const res = await client.send(new s3.GetObjectCommand({ Bucket: options.bucket, Key: ACCESS_PROBE_KEY, Range: "bytes=0-0" }));
    await res.Body?.transformToByteArray();
  } catch (err) {
    const code = (err as { Code?: string; name?: string }).Code ?? (err as { name?: string }).name;
    if (code === "NoSuchKey") return;
    throw explain(err, settings, options.bucket);
  } finally {
    client.destroy();
  }
}

/**
 * Deletes an uploaded object and any unfinished multipart upload of the same key; a missing object is not an error.
 * Returns whether there was anything to delete.
 */
export async function deleteImageObject(options: SpacesSettings & { bucket: string; key: string }): Promise<boolean> {
  const settings = resolveSpacesSettings(options);
  const client = await spacesClient(settings);
  const s3 = await import("@aws-sdk/client-s3");
  try {
    const existed = (await storedObject(client, options.bucket, options.key)) !== null;
    if (existed) await client.send(new s3.DeleteObjectCommand({ Bucket: options.bucket, Key: options.key }));
    const found = await findUpload(client, options.bucket, options.key).catch(() => null);
    if (found) await client.send(new s3.AbortMultipartUploadCommand({ Bucket: options.bucket, Key: options.key, UploadId: found.uploadId }));
    return existed || found !== null;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw explain(err, settings, options.bucket, options.key);
  } finally {
    client.destroy();
  }
}
