// The whole job once, for every face: check inputs → validate → upload → import or adopt → wait → transfer → clean up.
import { DigitalOceanClient, DigitalOceanError, ImportFailedError, waitForImage, type Image } from "../digitalocean";
import type { ValidationReport } from "../image";
import {
  checkSpacesAccess,
  deleteImageObject,
  progressReporter,
  sha256File,
  uploadObject,
  uploadStream,
  type UploadOptions,
  type UploadResult,
} from "../spaces";
import { inputError, PublishError, ValidationFailedError } from "./errors";
import { checkInputs, type SpacesTarget } from "./inputs";
import { lockContent, type ContentLock } from "./lock";
import { adoptionMarker, conversionOf, objectKey, uploadName } from "./naming";
import { uploadFormatFor, type SentFormat, type UploadChoice } from "./upload-format";
import { cachedValidation, requireFile } from "./validation";
import { findByMarker, settle } from "./adoption";
import { updateImage } from "./manage";
import { requireRegions, transfer } from "./regions";
import type { PublishedObject, PublishEvent, PublishOptions, PublishResult } from "./types";

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
  if (!object) return new PublishError(message, { stage: "import", cause: err });
  const where = `${object.bucket}/${object.key}`;
  if (refused && !keepObject) {
    const deleted = await deleteImageObject(object).then(
      () => `the uploaded object ${where} was deleted`,
      (e: unknown) => `the uploaded object ${where} is left behind (deleting it failed: ${(e as Error).message}); do-image gc or the Spaces console removes it`,
    );
    return new PublishError(`${message}; ${deleted}`, { stage: "import", cause: err });
  }
  return new PublishError(`${message}; the uploaded object ${where} was kept`, {
    stage: "import",
    cause: err,
    fix: `run the same command again: it reuses ${where} without uploading, and if DigitalOcean created the image before the failure it finds it by its tag ${marker} instead of importing twice`,
  });
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
  const [{ openImage }, { compressedQcow2, qcow2SizeBound }] = await Promise.all([import("../image"), import("./qcow2")]);
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
          throw new PublishError((err as Error).message, { stage: "upload", cause: err });
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
      throw new PublishError(err.message, { stage: "import", cause: err });
    }
    throw new PublishError(`image ${imageId} was created but did not become available: ${(err as Error).message}`, { imageId, stage: "import", cause: err });
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
      throw new PublishError(`image ${imageId} exists but its metadata could not be updated: ${(err as Error).message}`, {
        imageId,
        stage: "update",
        cause: err,
      });
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
