// The whole job once, for every face: check inputs → validate → upload → import or adopt → wait → transfer → clean up.
import { DigitalOceanClient, DigitalOceanError, ImportFailedError, waitForImage, waitForTransfer, type ClientOptions, type Image } from "../digitalocean";
import type { ValidationReport } from "../image";
import {
  checkSpacesAccess,
  deleteImageObject,
  progressReporter,
  sha256File,
  uploadObject,
  uploadStream,
  type Progress,
  type UploadOptions,
  type UploadResult,
} from "../spaces";
import { DoImageError, UsageError } from "../errors";
import { inputError, PublishError, ValidationFailedError } from "./errors";
import { checkInputs, type PublishInputs, type SpacesTarget } from "./inputs";
import { lockContent, type ContentLock } from "./lock";
import { adoptionMarker, conversionOf, isAdoptionMarker, objectKey, uploadName } from "./naming";
import { uploadFormatFor, type SentFormat, type UploadChoice } from "./upload-format";
import { cachedValidation, requireFile } from "./validation";

export type PublishEvent =
  | { type: "validated"; report: ValidationReport }
  | { type: "progress"; progress: Progress }
  | { type: "sending-as"; format: SentFormat; reason: string }
  | { type: "converted"; format: "qcow2"; bytes: number; virtualSize: number; dataClusters: number }
  | { type: "converted"; format: "gzip"; bytes: number; fileSize: number }
  | { type: "uploaded"; upload: UploadResult }
  | { type: "adopted"; image: Image }
  | { type: "waiting"; lock: string }
  | { type: "duplicate-removed"; duplicate: number; image: Image }
  | { type: "updated"; image: Image; changed: string[] }
  | { type: "importing"; image: Image; status: string; elapsedMs: number }
  | { type: "imported"; image: Image }
  | { type: "transferring"; region: string; status: string; elapsedMs: number }
  | { type: "transferred"; region: string }
  | { type: "cleaned"; what: string };

export interface PublishOptions extends PublishInputs {
  api?: ClientOptions;
  /**
   * Who owns the image, for adoption: a retried publish with the same content and owner adopts the image instead of
   * importing it twice. Without one, the content alone decides (the CLI: the same bytes pushed again are one image).
   */
  owner?: string;
  /** How the face names an input field in its errors (the CLI: "spaces.bucket" → "--bucket"). @default the field */
  fieldName?: (field: string) => string;
  onEvent?: (e: PublishEvent) => void;
}

/** Where the uploaded object lives; set whenever a file was published, adopted or not. */
export interface PublishedObject {
  bucket: string;
  region: string;
  key: string;
}

export interface PublishResult {
  image: Image;
  upload?: UploadResult;
  validation?: ValidationReport;
  object?: PublishedObject;
  sha256?: string;
  /** How the file was (or would have been) sent, and why. */
  uploadAs?: UploadChoice;
  /** True when the uploaded object was deleted after the import. */
  objectDeleted: boolean;
  adopted: boolean;
}

/**
 * The image carrying the marker tag that is not a failed import, if one exists; the oldest (lowest id) when pushes
 * on several machines each created one, so that every one of them settles on the same image.
 */
export async function findByMarker(client: DigitalOceanClient, marker: string): Promise<Image | null> {
  let oldest: Image | null = null;
  for await (const image of client.images.list({ private: true, tagName: marker })) {
    if (image.status !== "deleted" && image.tags.includes(marker) && (!oldest || image.id < oldest.id)) oldest = image;
  }
  return oldest;
}

/**
 * After creating `mine`: if a push elsewhere created an image of the same content first, delete ours and use theirs.
 * (Pushes on one machine never get here twice: the content lock makes the later ones adopt before uploading.)
 */
async function settle(client: DigitalOceanClient, marker: string, mine: Image, emit: (e: PublishEvent) => void): Promise<Image> {
  const first = await findByMarker(client, marker);
  if (!first || first.id >= mine.id) return mine;
  await client.images.delete(mine.id).catch((err: unknown) => {
    if (!(err instanceof DigitalOceanError && err.notFound)) throw err;
  });
  emit({ type: "duplicate-removed", duplicate: mine.id, image: first });
  return first;
}

const unique = (xs: string[]) => [...new Set(xs)];

/**
 * Regions DigitalOcean does not have, or has closed to new resources, as a usage error naming them and the open ones,
 * before anything is uploaded or created.
 */
export async function requireRegions(client: DigitalOceanClient, regions: string[], field = "regions"): Promise<void> {
  const known = new Map<string, boolean>();
  for await (const r of client.regions.list()) known.set(r.slug, r.available);
  const bad = regions.filter((r) => known.get(r) !== true);
  if (bad.length === 0) return;
  const open = [...known].filter(([, available]) => available).map(([slug]) => slug);
  const why = bad.map((r) => (known.has(r) ? `${r} is not available for new resources` : `${r} is not a DigitalOcean region`)).join("; ");
  throw new UsageError(`${why}`, `use one of ${open.sort().join(", ")}`, field);
}

interface TransferOptions {
  timeoutMinutes?: number;
  onEvent?: (e: PublishEvent) => void;
}

/** Checks the regions DigitalOcean has, then transfers the image to every one it is not yet in, all at once. */
export async function addRegions(client: DigitalOceanClient, imageId: number, regions: string[], options: TransferOptions = {}): Promise<Image> {
  const image = await client.images.get(imageId);
  const missing = unique(regions).filter((r) => !image.regions.includes(r));
  if (missing.length > 0) await requireRegions(client, missing);
  return transfer(client, image, missing, options);
}

/** Transfers an image to regions already checked, all at once, and waits for them all; a transfer under way is joined. */
async function transfer(client: DigitalOceanClient, image: Image, regions: string[], options: TransferOptions): Promise<Image> {
  const imageId = image.id;
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

export interface ImageMetadata {
  name?: string;
  description?: string;
  distribution?: string;
  /** The user's tags; adoption markers on the image are kept whatever this says. */
  tags?: string[];
}

/** Brings an image's name, description, distribution and tags to what is asked, in place; returns what changed. */
export async function updateImage(client: DigitalOceanClient, image: Image, want: ImageMetadata): Promise<{ image: Image; changed: string[] }> {
  const changed: string[] = [];
  const put: { name?: string; description?: string; distribution?: string } = {};
  if (want.name !== undefined && want.name !== image.name) put.name = want.name;
  if (want.description !== undefined && want.description !== (image.description ?? "")) put.description = want.description;
  if (want.distribution && want.distribution !== image.distribution) put.distribution = want.distribution;
  if (Object.keys(put).length > 0) {
    await client.images.update(image.id, put);
    changed.push(...Object.keys(put));
  }
  if (want.tags) {
    const have = new Set(image.tags.filter((t) => !isAdoptionMarker(t)));
    const wanted = new Set(want.tags);
    const resource = [{ resource_id: String(image.id), resource_type: "image" as const }];
    for (const t of wanted) {
      if (have.has(t)) continue;
      await client.tags.create(t);
      await client.tags.tag(t, resource);
      changed.push(`+tag ${t}`);
    }
    for (const t of have)
      if (!wanted.has(t)) {
        await client.tags.untag(t, resource);
        changed.push(`-tag ${t}`);
      }
  }
  return { image: changed.length > 0 ? await client.images.get(image.id) : image, changed };
}

/**
 * Deletes an image and the object it was uploaded as; an image or object already gone is not an error. With an object,
 * the Spaces keys are tried first: keys that cannot reach the bucket stop the delete before the image is gone, so
 * nothing is left half-deleted (an image removed, its object orphaned).
 */
export async function deleteImage(
  client: DigitalOceanClient,
  imageId: number,
  object?: PublishedObject & Pick<SpacesTarget, "endpoint" | "accessKeyId" | "secretAccessKey">,
): Promise<{ image: "deleted" | "already-gone"; objectDeleted: boolean }> {
  let image: "deleted" | "already-gone" = "deleted";
  // a bucket deleted since holds no object: the image still goes
  const bucketGone = object
    ? await checkSpacesAccess(object).then(
        () => false,
        (err: unknown) => {
          if (err instanceof DoImageError && err.code === "spaces-NoSuchBucket") return true;
          throw err;
        },
      )
    : false;
  try {
    await client.images.delete(imageId);
  } catch (err) {
    if (!(err instanceof DigitalOceanError && err.notFound)) throw err;
    image = "already-gone";
  }
  const objectDeleted = object && !bucketGone ? await deleteImageObject(object) : false;
  return { image, objectDeleted };
}

/**
 * The error for a create that failed after an upload, saying what became of the object: deleted when DigitalOcean
 * refused the request (a 4xx: nothing was created), kept when the outcome is unknown or worth retrying (a network
 * error, a 5xx), with how a re-run carries on from it.
 */
async function failedCreate(
  err: unknown,
  marker: string,
  object: (PublishedObject & Pick<SpacesTarget, "endpoint" | "accessKeyId" | "secretAccessKey">) | undefined,
  keepObject: boolean,
): Promise<PublishError> {
  const message = (err as Error).message;
  const refused = err instanceof DigitalOceanError && err.status !== null && err.status >= 400 && err.status < 500 && err.status !== 429;
  if (!object) return new PublishError(message, undefined, "import", err);
  const where = `${object.bucket}/${object.key}`;
  if (refused && !keepObject) {
    const deleted = await deleteImageObject(object).then(
      () => `the uploaded object ${where} was deleted`,
      (e: unknown) => `the uploaded object ${where} is left behind (deleting it failed: ${(e as Error).message}); do-image gc or the Spaces console removes it`,
    );
    return new PublishError(`${message}; ${deleted}`, undefined, "import", err);
  }
  return new PublishError(
    `${message}; the uploaded object ${where} was kept`,
    undefined,
    "import",
    err,
    `run the same command again: it reuses ${where} without uploading, and if DigitalOcean created the image before the failure it finds it by its tag ${marker} instead of importing twice`,
  );
}

/**
 * Uploads the file as it is, or converted part by part while it uploads (never written to disk): a compressed qcow2
 * of its non-zero clusters, or the file gzip-compressed.
 */
async function sendFile(file: string, format: SentFormat, options: UploadOptions, emit: (e: PublishEvent) => void): Promise<UploadResult> {
  if (format === "original") return uploadObject(file, options);
  if (format === "gzip") {
    const [{ gzipChunks, gzipSizeBound }, { stat }] = await Promise.all([import("./gzip"), import("node:fs/promises")]);
    const { size } = await stat(file);
    const report = progressReporter("convert", size, options.onProgress);
    const chunks = gzipChunks(file, (bytes) => report(bytes, bytes === size));
    const upload = await uploadStream({ name: `${file} (gzip-compressed)`, maxSize: gzipSizeBound(size), chunks }, options);
    if (!upload.reused) emit({ type: "converted", format, bytes: upload.size, fileSize: size });
    return upload;
  }
  const { openImage, compressedQcow2, qcow2SizeBound } = await import("../image");
  const image = await openImage(file);
  try {
    const report = progressReporter("convert", image.disk.size, options.onProgress);
    const q = compressedQcow2(image.disk, { onScan: (bytes, total) => report(bytes, bytes === total) });
    const upload = await uploadStream(
      { name: `${file} (as a compressed qcow2)`, maxSize: qcow2SizeBound(image.disk.size), chunks: q.chunks, head: () => q.header() },
      options,
    );
    if (!upload.reused) emit({ type: "converted", format, bytes: q.stats.size, virtualSize: q.stats.virtualSize, dataClusters: q.stats.dataClusters });
    return upload;
  } finally {
    await image.close();
  }
}

/** How `file` is sent; a file whose metadata cannot be read is sent as it is, and validation says what is wrong. */
function uploadChoice(file: string, requested: SpacesTarget["uploadAs"] = "auto"): Promise<UploadChoice> {
  return uploadFormatFor(file, requested).catch(() => ({
    format: "original" as const,
    reason: "its metadata could not be read, so it is not converted (validation says what is wrong)",
  }));
}

export async function publishImage(options: PublishOptions): Promise<PublishResult> {
  const { inputs, problems } = checkInputs(options);
  if (problems.length > 0) throw inputError(problems, options.fieldName);
  const { file, regions, spaces } = inputs;
  const importRegion = inputs.importRegion ?? regions[0];
  const client = new DigitalOceanClient(options.api);
  const emit = options.onEvent ?? (() => undefined);
  // The API's token is proven by the region list, the Spaces keys by a listing of the bucket: before the file is
  // hashed, and before anything is renamed, tagged, uploaded or imported.
  await requireRegions(client, regions);
  if (file && spaces) await checkSpacesAccess({ ...spaces, bucket: spaces.bucket, region: spaces.region! });

  let sha256: string | undefined;
  if (file) {
    await requireFile(file);
    sha256 = (await sha256File(file, (progress) => emit({ type: "progress", progress }))).sha256;
  }
  const choice = file && spaces ? await uploadChoice(file, spaces.uploadAs) : undefined;
  const format: SentFormat = choice?.format ?? "original";
  // A converted upload is another object, and another image, than the file sent as it is: both name the conversion.
  const marker = adoptionMarker(format === "original" ? (sha256 ?? inputs.url!) : `${sha256}:${conversionOf(format)}`, options.owner);
  const object =
    file && spaces ? { bucket: spaces.bucket, region: spaces.region!, key: objectKey(sha256!, uploadName(file, format), spaces.keyPrefix) } : undefined;
  const spacesSettings = spaces && object ? { ...spaces, ...object } : undefined;

  // On this machine one push of this content at a time gets past here; the next ones find its image and adopt it.
  const lock: ContentLock = await lockContent(marker, (path) => emit({ type: "waiting", lock: path }));
  let image: Image | null;
  let adopted: boolean;
  let validation: ValidationReport | undefined;
  let upload: UploadResult | null | undefined;
  try {
    image = await findByMarker(client, marker);
    adopted = image !== null;
    if (image) {
      emit({ type: "adopted", image });
    } else {
      let url = inputs.url;
      if (file && spacesSettings) {
        emit({ type: "sending-as", format, reason: choice!.reason });
        if (inputs.validation !== false) {
          validation = await cachedValidation(file, sha256!, inputs.validation?.skip, inputs.validation?.boot);
          if (!validation.ok) throw new ValidationFailedError(validation);
          emit({ type: "validated", report: validation });
        }
        upload = await sendFile(
          file,
          format,
          { ...spacesSettings, sha256: sha256!, onProgress: (progress) => emit({ type: "progress", progress }) },
          emit,
        ).catch(async (err) => {
          // A push elsewhere may have finished with this content meanwhile, and removed the object under this upload.
          if (await findByMarker(client, marker).catch(() => null)) return null;
          throw new PublishError((err as Error).message, undefined, "upload", err);
        });
        if (upload) {
          emit({ type: "uploaded", upload });
          url = upload.url;
        }
      }
      image = upload === null ? await findByMarker(client, marker) : null;
      if (image) {
        adopted = true;
        emit({ type: "adopted", image });
      } else {
        const created = await client.images
          .createCustom({
            name: inputs.name,
            url: url!,
            region: importRegion,
            distribution: inputs.distribution ?? "Unknown",
            description: inputs.description,
            tags: [...(inputs.tags ?? []), marker],
          })
          .catch(async (err: unknown) => {
            throw await failedCreate(err, marker, upload ? spacesSettings : undefined, spaces?.keepObject === true);
          });
        image = await settle(client, marker, created, emit);
        adopted = image.id !== created.id;
      }
    }
  } finally {
    await lock.release();
  }

  const imageId = image.id;
  try {
    image = await waitForImage(client, imageId, {
      timeoutMs: (inputs.timeouts?.import ?? 60) * 60_000,
      onProgress: (status, elapsedMs) => emit({ type: "importing", image: image!, status, elapsedMs }),
    });
  } catch (err) {
    if (err instanceof ImportFailedError) {
      // A failed import leaves a `deleted` image record behind; remove it and the object so nothing is orphaned.
      await client.images.delete(imageId).catch(() => undefined);
      if (spacesSettings && !spaces?.keepObject) await deleteImageObject(spacesSettings).catch(() => undefined);
      throw new PublishError(err.message, undefined, "import", err);
    }
    throw new PublishError(`image ${imageId} was created but did not become available: ${(err as Error).message}`, imageId, "import", err);
  }
  emit({ type: "imported", image });

  if (adopted) {
    // The same content published again with other metadata: apply it in place, as an update would.
    const r = await updateImage(client, image, {
      name: inputs.name,
      description: inputs.description,
      distribution: inputs.distribution,
      tags: inputs.tags,
    }).catch((err) => {
      throw new PublishError(`image ${imageId} exists but its metadata could not be updated: ${(err as Error).message}`, imageId, "update", err);
    });
    image = r.image;
    if (r.changed.length > 0) emit({ type: "updated", image, changed: r.changed });
  }
  // The regions were checked before the upload.
  if (regions.some((r) => !image!.regions.includes(r)))
    image = await transfer(client, image, regions, { timeoutMinutes: inputs.timeouts?.transfer, onEvent: emit });

  let objectDeleted = false;
  if (spacesSettings && object && !spaces?.keepObject) {
    // An adopted image's object, if an earlier attempt left one, is found by the same content-addressed key.
    objectDeleted = await deleteImageObject(spacesSettings);
    if (objectDeleted) emit({ type: "cleaned", what: `${object.bucket}/${object.key}` });
  }
  return { image, upload: upload ?? undefined, validation, object, sha256, uploadAs: choice, objectDeleted, adopted };
}
