// Uploads an image to a Spaces bucket under a content-addressed key: parallel multipart parts, resumable, bounded memory.
//
// Multipart is driven through @aws-sdk/client-s3 directly rather than @aws-sdk/lib-storage's Upload, because
// Upload cannot resume: here an interrupted upload is found again (ListMultipartUploads), its stored parts are
// listed (ListParts) and skipped, and only the missing parts are sent.
import { open, stat } from "node:fs/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import { DoImageError, EXIT, redact, type ExitCode } from "../errors";
import { resolveSpacesSettings, type ResolvedSpacesSettings, type SpacesSettings } from "./config";
import { progressReporter, type Progress } from "./hash";

export type Access = "presigned" | "public-read";

/** Bytes to upload that are not a file: an image produced on demand (see image/qcow2-writer.ts), read part by part. */
export interface UploadSource {
  /** How it is named in messages. */
  name: string;
  size: number;
  read(offset: number, length: number): Promise<Buffer>;
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
  /** @default 16 MiB, larger when a file would need more than 9,000 parts */
  partSize?: number;
  /** Parts in flight at once; memory use is about concurrency × partSize. @default 4 */
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
function explain(err: unknown, settings: ResolvedSpacesSettings, bucket: string, key?: string): SpacesError {
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
 * The stored size of an object, or null, from a one-byte ranged GET (Content-Range carries the total). Not HEAD:
 * HEAD responses have no error body, so a wrong key or a missing bucket would surface as a bare 403 or 404.
 */
async function existingSize(client: S3Client, bucket: string, key: string): Promise<number | null> {
  const { GetObjectCommand } = await import("@aws-sdk/client-s3");
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: "bytes=0-0" }));
    (res.Body as { destroy?: () => void } | undefined)?.destroy?.();
    const total = /\/(\d+)$/.exec(res.ContentRange ?? "")?.[1];
    return total !== undefined ? Number(total) : (res.ContentLength ?? 0);
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === "NoSuchKey" || (e.$metadata?.httpStatusCode === 404 && e.name !== "NoSuchBucket")) return null;
    if (e.$metadata?.httpStatusCode === 416) return 0; // a range on an empty object
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

/**
 * Uploads a file (or a source produced on demand) as one object, resuming an unfinished multipart upload of the same
 * key; an object of the same size is reused.
 */
export async function uploadObject(source: string | UploadSource, options: UploadOptions): Promise<UploadResult> {
  const settings = resolveSpacesSettings(options);
  const { bucket, key, sha256 } = options;
  const access = options.access ?? "presigned";
  const file = typeof source === "string" ? source : source.name;
  const size = typeof source === "string" ? (await stat(source)).size : source.size;
  const client = await spacesClient(settings);
  const s3 = await import("@aws-sdk/client-s3");
  const result: UploadResult = { bucket, key, sha256, size, url: "", reused: false, partsUploaded: 0, partsReused: 0, bytesUploaded: 0 };
  try {
    const existing = await existingSize(client, bucket, key).catch((err) => {
      throw explain(err, settings, bucket, key);
    });
    if (existing === size) {
      result.reused = true;
      result.url = await imageUrl(client, settings, bucket, key, access, options.presignSeconds);
      options.onProgress?.({ phase: "upload", bytes: size, total: size, rate: 0, etaSeconds: 0 });
      return result;
    }
    const partSize = Math.max(options.partSize ?? 16 * MiB, Math.ceil(size / MAX_PARTS / MiB) * MiB);
    const partCount = Math.max(1, Math.ceil(size / partSize));
    const report = progressReporter("upload", size, options.onProgress);
    const acl = access === "public-read" ? "public-read" : undefined;
    const metadata = { sha256 };
    const handle = typeof source === "string" ? await open(source, "r") : null;
    /** Fills `into` with the bytes at `offset`; how many it got. */
    const readAt = async (into: Buffer, offset: number): Promise<number> => {
      if (handle) return (await handle.read(into, 0, into.length, offset)).bytesRead;
      const bytes = await (source as UploadSource).read(offset, into.length);
      return bytes.copy(into);
    };
    try {
      if (partCount === 1) {
        const body = Buffer.alloc(size);
        if (size > 0) await readAt(body, 0);
        await client.send(new s3.PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: size, ACL: acl, Metadata: metadata }), {
          abortSignal: options.signal,
        });
        result.partsUploaded = 1;
        result.bytesUploaded = size;
        report(size, true);
      } else {
        const found = await findUpload(client, bucket, key);
        const uploadId =
          found?.uploadId ?? (await client.send(new s3.CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ACL: acl, Metadata: metadata }))).UploadId!;
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
        const concurrency = Math.max(1, options.concurrency ?? 4);
        let failure: unknown = null;
        const worker = async () => {
          // One buffer per worker, reused for every part it sends: memory stays at concurrency × partSize.
          const buffer = Buffer.allocUnsafe(partSize);
          while (todo.length > 0 && !failure) {
            const n = todo.shift()!;
            const offset = (n - 1) * partSize;
            const length = Math.min(partSize, size - offset);
            const body = buffer.subarray(0, length);
            const bytesRead = await readAt(body, offset);
            if (bytesRead !== length)
              throw new SpacesError(`${file} is shorter than when it was hashed`, "FileChanged", "let whatever writes the file finish, then run again");
            try {
              const res = await client.send(
                new s3.UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body, ContentLength: length }),
                { abortSignal: options.signal },
              );
              etags.set(n, res.ETag!);
            } catch (err) {
              failure = failure ?? err;
              throw err;
            }
            result.partsUploaded++;
            result.bytesUploaded += length;
            done += length;
            report(done, done === size);
          }
        };
        const workers = await Promise.allSettled(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
        const rejected = workers.find((w): w is PromiseRejectedResult => w.status === "rejected");
        // Another process uploading the same content (the key is its hash) completed this very upload: the object is whole.
        const completedElsewhere = async (err: unknown) => codeOf(err) === "NoSuchUpload" && (await existingSize(client, bucket, key)) === size;
        if (rejected && (await completedElsewhere(rejected.reason))) {
          report(size, true);
        } else if (rejected) {
          const err = rejected.reason;
          const code = codeOf(err);
          if (FATAL.has(code) || err instanceof SpacesError) {
            // This upload cannot be finished by trying again: abort it so its parts do not linger (and cost money).
            await client.send(new s3.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
            throw err instanceof SpacesError ? err : explain(err, settings, bucket, key);
          }
          const stopped = options.signal?.aborted ? "interrupted" : `stopped by ${code || (err as Error).message}`;
          throw new SpacesError(
            `upload of ${file} to ${bucket}/${key} ${stopped} after ${result.partsUploaded + result.partsReused} of ${partCount} parts`,
            "Interrupted",
            "run the same command again: the parts already stored are kept and skipped",
            err,
            EXIT.unavailable,
          );
        } else {
          const parts = [...etags.entries()].sort((a, b) => a[0] - b[0]).map(([PartNumber, ETag]) => ({ PartNumber, ETag }));
          await client
            .send(new s3.CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }))
            .catch(async (err: unknown) => {
              if (!(await completedElsewhere(err))) throw err;
            });
          report(size, true);
        }
      }
    } finally {
      await handle?.close();
    }
    const stored = await existingSize(client, bucket, key);
    if (stored !== size)
      throw new SpacesError(`${bucket}/${key} holds ${stored} bytes after the upload, not ${size}`, "SizeMismatch", "run again; if it persists, report it");
    result.url = await imageUrl(client, settings, bucket, key, access, options.presignSeconds);
    return result;
  } catch (err) {
    if (err instanceof SpacesError) throw err;
    throw explain(err, settings, bucket, key);
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
    const existed = (await existingSize(client, options.bucket, options.key)) !== null;
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
