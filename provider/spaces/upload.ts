// Uploads an image to a Spaces bucket under a content-addressed key: parallel multipart parts, resumable, bounded memory.
//
// Multipart is driven through @aws-sdk/client-s3 directly rather than @aws-sdk/lib-storage's Upload, because
// Upload cannot resume: here an interrupted upload is found again (ListMultipartUploads), its stored parts are
// listed (ListParts) and skipped, and only the missing parts are sent.
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import { DoImageError, EXIT } from "../errors";
import { resolveSpacesSettings, type SpacesSettings } from "./config";
import { progressReporter, type Progress } from "./hash";
import { codeOf, explain, failureOf, FATAL, SpacesError } from "./errors";
import { findUpload, imageUrl, spacesClient, storedObject } from "./objects";

export type Access = "presigned" | "public-read";

/**
 * Bytes to upload that are not a file: an image produced in order as it is sent (see publish/qcow2/), its size
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

const MiB = 1024 * 1024;
const MAX_PARTS = 9000; // S3 allows 10,000; leave room
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
