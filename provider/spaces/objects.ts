// The bucket's objects: the S3 client, the URL DigitalOcean imports from, what a key already holds (a stored object, an
// unfinished multipart upload), the access probe every change waits on, and the delete.
import type { S3Client } from "@aws-sdk/client-s3";
import { resolveSpacesSettings, type ResolvedSpacesSettings, type SpacesSettings } from "./config";
import { explain } from "./errors";
import type { Access } from "./upload";

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
export async function storedObject(client: S3Client, bucket: string, key: string): Promise<{ size: number; sha256?: string } | null> {
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
export async function findUpload(
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
