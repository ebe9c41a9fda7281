// The whole job once, for every face: validate → upload → import (adopting a retried one) → wait → transfer → clean up.
import { validateImage, type ValidationReport } from "../image";
import { deleteImageObject, objectKey, sha256File, uploadImage, type Access, type Progress, type SpacesSettings, type UploadResult } from "../spaces";
import { DigitalOceanClient } from "./client";
import type { ClientOptions } from "./http";
import type { Image } from "./types";
import { ImportFailedError, waitForImage, waitForTransfer } from "./wait";

export interface SpacesTarget extends SpacesSettings {
  bucket: string;
  /** @default "do-image" */
  keyPrefix?: string;
  /** @default "presigned" */
  access?: Access;
  /** Keep the uploaded object after the import (it is deleted by default). @default false */
  keepObject?: boolean;
  /** @default 43200 */
  presignSeconds?: number;
}

export type PublishEvent =
  | { type: "validated"; report: ValidationReport }
  | { type: "progress"; progress: Progress }
  | { type: "uploaded"; upload: UploadResult }
  | { type: "adopted"; image: Image }
  | { type: "importing"; image: Image; status: string; elapsedMs: number }
  | { type: "imported"; image: Image }
  | { type: "transferring"; region: string; status: string; elapsedMs: number }
  | { type: "transferred"; region: string }
  | { type: "cleaned"; what: string };

export interface PublishOptions {
  /** A local image file, uploaded to Spaces first. Exactly one of file and url. */
  file?: string;
  /** An image already reachable over HTTP(S). */
  url?: string;
  name: string;
  /** Regions the image must end up in; the import happens in importRegion or the first. */
  regions: string[];
  importRegion?: string;
  distribution?: string;
  description?: string;
  tags?: string[];
  spaces?: SpacesTarget;
  api?: ClientOptions;
  /** Check ids whose failures only warn; `false` skips validation altogether. */
  validation?: { skip?: string[] } | false;
  /** Minutes to wait for the import and for each transfer. @default { import: 60, transfer: 60 } */
  timeouts?: { import?: number; transfer?: number };
  /** A tag that identifies this image across retries: an image already carrying it is adopted, not created twice. */
  marker?: string;
  onEvent?: (e: PublishEvent) => void;
}

export interface PublishResult {
  image: Image;
  upload?: UploadResult;
  validation?: ValidationReport;
  /** True when the uploaded object was deleted after the import. */
  objectDeleted: boolean;
  adopted: boolean;
}

/** Failed after the image existed: carries its id so a caller (the Pulumi engine) can record it instead of leaking it. */
export class PublishError extends Error {
  constructor(
    message: string,
    readonly imageId: number | undefined,
    readonly stage: "validate" | "upload" | "import" | "transfer",
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "PublishError";
  }
}

export class ValidationFailedError extends PublishError {
  constructor(readonly report: ValidationReport) {
    const failed = report.checks.filter((c) => c.status === "fail");
    super(
      `${report.file} would not work as a DigitalOcean custom image:\n${failed.map((c) => `  ${c.id}: ${c.message}\n    fix: ${c.fix}`).join("\n")}`,
      undefined,
      "validate",
    );
    this.name = "ValidationFailedError";
  }
}

const unique = (xs: string[]) => [...new Set(xs)];

/** A tag naming an image's content, so the same file published again is found instead of imported twice. */
export const contentMarker = (sha256: string) => `do-image-sha256-${sha256.slice(0, 40)}`;

/** An image carrying the marker tag that is not a failed import, if one exists. */
export async function findByMarker(client: DigitalOceanClient, marker: string): Promise<Image | null> {
  for await (const image of client.images.list({ private: true, tagName: marker })) {
    if (image.status !== "deleted" && image.tags.includes(marker)) return image;
  }
  return null;
}

/** Transfers an image to every region it is not yet in, all at once, and waits for them all. */
export async function addRegions(
  client: DigitalOceanClient,
  imageId: number,
  regions: string[],
  options: { timeoutMinutes?: number; onEvent?: (e: PublishEvent) => void } = {},
): Promise<Image> {
  const image = await client.images.get(imageId);
  const missing = unique(regions).filter((r) => !image.regions.includes(r));
  const inFlight = new Map<string, number>();
  for await (const a of client.imageActions.list(imageId))
    if (a.type === "transfer" && a.status === "in-progress" && a.region_slug) inFlight.set(a.region_slug, a.id);
  const results = await Promise.allSettled(
    missing.map(async (region) => {
      const existing = inFlight.get(region);
      // A transfer already under way (a retried update) is waited on, not started twice.
      const action = existing ? await client.imageActions.get(imageId, existing) : await client.imageActions.transfer(imageId, region);
      await waitForTransfer(client, imageId, action, {
        timeoutMs: (options.timeoutMinutes ?? 60) * 60_000,
        onProgress: (status, elapsedMs) => options.onEvent?.({ type: "transferring", region, status, elapsedMs }),
      });
      options.onEvent?.({ type: "transferred", region });
    }),
  );
  const failed = results.map((r, i) => [r, missing[i]] as const).filter(([r]) => r.status === "rejected");
  if (failed.length > 0) {
    const why = failed.map(([r, region]) => `${region}: ${((r as PromiseRejectedResult).reason as Error).message}`).join("; ");
    throw new PublishError(
      `image ${imageId} could not be transferred to ${failed.map(([, r]) => r).join(", ")}: ${why}`,
      imageId,
      "transfer",
      (failed[0][0] as PromiseRejectedResult).reason,
    );
  }
  return client.images.get(imageId);
}

export async function publishImage(options: PublishOptions): Promise<PublishResult> {
  if ((options.file === undefined) === (options.url === undefined))
    throw new Error("give exactly one of file (a local image) and url (an image already online)");
  const regions = unique(options.regions);
  if (regions.length === 0) throw new Error("regions must name at least one region");
  const importRegion = options.importRegion ?? regions[0];
  const client = new DigitalOceanClient(options.api);
  const emit = options.onEvent ?? (() => undefined);
  const tags = unique([...(options.tags ?? []), ...(options.marker ? [options.marker] : [])]);

  let image = options.marker ? await findByMarker(client, options.marker) : null;
  const adopted = image !== null;
  if (image) emit({ type: "adopted", image });

  let validation: ValidationReport | undefined;
  let upload: UploadResult | undefined;
  if (!image) {
    let url = options.url;
    if (options.file) {
      if (options.validation !== false) {
        validation = await validateImage(options.file, { skip: options.validation?.skip });
        emit({ type: "validated", report: validation });
        if (!validation.ok) throw new ValidationFailedError(validation);
      }
      if (!options.spaces) throw new Error("uploading a local file needs spaces.bucket (a Spaces bucket to upload it to)");
      upload = await uploadImage(options.file, { ...options.spaces, onProgress: (progress) => emit({ type: "progress", progress }) }).catch((err) => {
        throw new PublishError((err as Error).message, undefined, "upload", err);
      });
      emit({ type: "uploaded", upload });
      url = upload.url;
    }
    image = await client.images.createCustom({
      name: options.name,
      url: url!,
      region: importRegion,
      distribution: options.distribution,
      description: options.description,
      tags,
    });
  }

  const imageId = image.id;
  try {
    image = await waitForImage(client, imageId, {
      timeoutMs: (options.timeouts?.import ?? 60) * 60_000,
      onProgress: (status, elapsedMs) => emit({ type: "importing", image: image!, status, elapsedMs }),
    });
  } catch (err) {
    if (err instanceof ImportFailedError) {
      // A failed import leaves a `deleted` image record behind; remove it so nothing is orphaned, then say why.
      await client.images.delete(imageId).catch(() => undefined);
      if (upload && !options.spaces?.keepObject) await deleteImageObject({ ...options.spaces!, key: upload.key }).catch(() => undefined);
      throw new PublishError(err.message, undefined, "import", err);
    }
    throw new PublishError(`image ${imageId} was created but did not become available: ${(err as Error).message}`, imageId, "import", err);
  }
  emit({ type: "imported", image });

  if (regions.some((r) => !image!.regions.includes(r))) {
    image = await addRegions(client, imageId, regions, { timeoutMinutes: options.timeouts?.transfer, onEvent: emit });
  }

  let objectDeleted = false;
  if (options.file && options.spaces && !options.spaces.keepObject) {
    // An adopted image's object came from an earlier attempt; its key follows from the (cached) content hash.
    const key = upload?.key ?? objectKey((await sha256File(options.file)).sha256, options.file, options.spaces.keyPrefix);
    await deleteImageObject({ ...options.spaces, key });
    objectDeleted = true;
    emit({ type: "cleaned", what: `${options.spaces.bucket}/${key}` });
  }
  return { image, upload, validation, objectDeleted, adopted };
}
