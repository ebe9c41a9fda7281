// Unfinished multipart uploads under a prefix: listed, and aborted when older than a threshold. An interrupted push
// leaves its parts for the next run to resume; the ones nobody resumes are stored, and billed, until aborted.
import { resolveSpacesSettings, type SpacesSettings } from "./config";
import { explain } from "./errors";
import { spacesClient } from "./objects";

export interface UnfinishedUpload {
  key: string;
  uploadId: string;
  /** When the upload was started, where the store says. */
  initiated?: Date;
}

export interface CollectOptions extends SpacesSettings {
  bucket: string;
  /** Only uploads whose key starts with this. */
  prefix: string;
  /** Uploads started less than this long ago are kept: a push may still be resuming them. */
  olderThanMs: number;
  /** List what would be aborted without aborting it. */
  dryRun?: boolean;
  now?: () => number;
}

export interface CollectResult {
  aborted: UnfinishedUpload[];
  /** Too recent to abort (or of unknown age), left for a push to resume. */
  kept: UnfinishedUpload[];
}

export async function collectUnfinishedUploads(options: CollectOptions): Promise<CollectResult> {
  const settings = resolveSpacesSettings(options);
  const client = await spacesClient(settings);
  const { ListMultipartUploadsCommand, AbortMultipartUploadCommand } = await import("@aws-sdk/client-s3");
  const now = (options.now ?? Date.now)();
  const result: CollectResult = { aborted: [], kept: [] };
  try {
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    const found: UnfinishedUpload[] = [];
    for (;;) {
      // Filtered here, not with Prefix: open uploads are few, and S3-compatible stores differ on prefixes holding "/".
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket: options.bucket, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
      for (const u of page.Uploads ?? [])
        if (u.Key?.startsWith(options.prefix) && u.UploadId) found.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated });
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      idMarker = page.NextUploadIdMarker;
    }
    for (const u of found) {
      const old = u.initiated !== undefined ? now - u.initiated.getTime() >= options.olderThanMs : options.olderThanMs === 0;
      if (!old) {
        result.kept.push(u);
        continue;
      }
      if (!options.dryRun) await client.send(new AbortMultipartUploadCommand({ Bucket: options.bucket, Key: u.key, UploadId: u.uploadId }));
      result.aborted.push(u);
    }
    return result;
  } catch (err) {
    // An unreachable endpoint or a refused key says so, naming the bucket, as a push does.
    throw explain(err, settings, options.bucket);
  } finally {
    client.destroy();
  }
}
