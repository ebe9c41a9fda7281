// One upload of one object: the S3 client, what has been sent so far, and what becomes of a multipart upload that
// failed. The file and stream uploads (upload-file.ts, upload-stream.ts) drive it part by part.
import { DoImageError, EXIT } from "../errors";
import type { S3Client } from "@aws-sdk/client-s3";
import { resolveSpacesSettings, type ResolvedSpacesSettings } from "./config";
import { codeOf, explain, failureOf, FATAL, SpacesError } from "./errors";
import { findUpload, imageUrl, spacesClient, storedObject } from "./objects";
import type { UploadOptions, UploadResult } from "./upload";

export const MiB = 1024 * 1024;
const MAX_PARTS = 9000; // S3 allows 10,000; leave room

export class UploadSession {
  readonly result: UploadResult;
  private readonly acl: "public-read" | undefined;

  private constructor(
    /** How the source is named in messages. */
    private readonly what: string,
    private readonly options: UploadOptions,
    private readonly settings: ResolvedSpacesSettings,
    private readonly client: S3Client,
    private readonly s3: typeof import("@aws-sdk/client-s3"),
  ) {
    const { bucket, key, sha256 } = options;
    this.result = { bucket, key, sha256, size: 0, url: "", reused: false, partsUploaded: 0, partsReused: 0, bytesUploaded: 0 };
    this.acl = options.access === "public-read" ? "public-read" : undefined;
  }

  static async open(what: string, options: UploadOptions): Promise<UploadSession> {
    const settings = resolveSpacesSettings(options);
    const [client, s3] = await Promise.all([spacesClient(settings), import("@aws-sdk/client-s3")]);
    return new UploadSession(what, options, settings, client, s3);
  }

  private get target() {
    return { Bucket: this.options.bucket, Key: this.options.key };
  }

  /** The object as stored now (size and sha256 metadata), or null. */
  stored() {
    return storedObject(this.client, this.options.bucket, this.options.key);
  }

  /** An unfinished multipart upload of the key, with its stored parts, to resume. */
  resumable() {
    return findUpload(this.client, this.options.bucket, this.options.key);
  }

  /** The part size: the caller's or `fallback`, larger when `size` would take more than 9,000 parts. */
  partSizeFor(size: number, fallback: number): number {
    return Math.max(this.options.partSize ?? fallback, Math.ceil(size / MAX_PARTS / MiB) * MiB);
  }

  async createUpload(): Promise<string> {
    const res = await this.client.send(new this.s3.CreateMultipartUploadCommand({ ...this.target, ACL: this.acl, Metadata: { sha256: this.options.sha256 } }));
    return res.UploadId!;
  }

  async sendPart(uploadId: string, n: number, body: Buffer): Promise<string> {
    const res = await this.client.send(
      new this.s3.UploadPartCommand({ ...this.target, UploadId: uploadId, PartNumber: n, Body: body, ContentLength: body.length }),
      { abortSignal: this.options.signal },
    );
    this.result.partsUploaded++;
    this.result.bytesUploaded += body.length;
    return res.ETag!;
  }

  async putWhole(body: Buffer): Promise<void> {
    await this.client.send(
      new this.s3.PutObjectCommand({ ...this.target, Body: body, ContentLength: body.length, ACL: this.acl, Metadata: { sha256: this.options.sha256 } }),
      { abortSignal: this.options.signal },
    );
    this.result.partsUploaded = 1;
    this.result.bytesUploaded = body.length;
  }

  /** Another process uploading the same content (the key names it) completed this very upload: the object is whole. */
  async completedElsewhere(err: unknown, size?: number): Promise<boolean> {
    if (codeOf(err) !== "NoSuchUpload") return false;
    const stored = await this.stored();
    return stored !== null && stored.sha256 === this.options.sha256 && (size === undefined || stored.size === size);
  }

  async complete(uploadId: string, etags: Map<number, string>, size?: number): Promise<void> {
    const parts = [...etags.entries()].sort((a, b) => a[0] - b[0]).map(([PartNumber, ETag]) => ({ PartNumber, ETag }));
    await this.client
      .send(new this.s3.CompleteMultipartUploadCommand({ ...this.target, UploadId: uploadId, MultipartUpload: { Parts: parts } }))
      .catch(async (err: unknown) => {
        if (!(await this.completedElsewhere(err, size))) throw err;
      });
  }

  /** Aborts a multipart upload (its stored parts would linger and cost money); a failure to abort is not reported. */
  async abort(uploadId: string): Promise<void> {
    await this.client.send(new this.s3.AbortMultipartUploadCommand({ ...this.target, UploadId: uploadId })).catch(() => undefined);
  }

  /** The error for a part that failed: fatal ones abort the upload; the others leave its parts for a run to resume. */
  async partFailed(err: unknown, uploadId: string, partCount: string): Promise<SpacesError> {
    const { bucket, key } = this.options;
    if (FATAL.has(codeOf(err)) || err instanceof SpacesError) {
      await this.abort(uploadId);
      return err instanceof SpacesError ? err : explain(err, this.settings, bucket, key);
    }
    const stopped = this.options.signal?.aborted ? "interrupted" : `stopped by ${failureOf(err)}`;
    return new SpacesError(
      `upload of ${this.what} to ${bucket}/${key} ${stopped} after ${this.result.partsUploaded + this.result.partsReused} of ${partCount} parts`,
      { code: "Interrupted", fix: "run the same command again: the parts already stored are kept and skipped", cause: err, exit: EXIT.unavailable },
    );
  }

  /** Runs the upload, checks the stored size, and gives the import URL; any error comes out naming the bucket and key. */
  async run(body: () => Promise<void>): Promise<UploadResult> {
    const { bucket, key } = this.options;
    try {
      await body();
      if (!this.result.reused) {
        const stored = await this.stored();
        if (stored?.size !== this.result.size)
          throw new SpacesError(`${bucket}/${key} holds ${stored?.size ?? "no"} bytes after the upload, not ${this.result.size}`, {
            code: "SizeMismatch",
            fix: "run again; if it persists, report it",
          });
      }
      this.result.url = await imageUrl(this.client, this.settings, bucket, key, this.options.access ?? "presigned", this.options.presignSeconds);
      return this.result;
    } catch (err) {
      // do-image's own errors (a Spaces error, or the image failing to read while it streams) are already explained.
      if (err instanceof DoImageError) throw err;
      throw explain(err, this.settings, bucket, key);
    } finally {
      this.client.destroy();
    }
  }
}
