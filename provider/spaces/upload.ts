// Uploads an image to a Spaces bucket under a content-addressed key: parallel multipart parts, resumable, bounded memory.
//
// Multipart is driven through @aws-sdk/client-s3 directly rather than @aws-sdk/lib-storage's Upload, because
// Upload cannot resume: here an interrupted upload is found again (ListMultipartUploads), its stored parts are
// listed (ListParts) and skipped, and only the missing parts are sent.
//
// This file holds what a caller passes and gets back; the upload itself is a session (session.ts) driven by
// upload-file.ts or upload-stream.ts.
import type { SpacesSettings } from "./config";
import type { Progress } from "./hash";

export { uploadObject } from "./upload-file";
export { uploadStream } from "./upload-stream";

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
