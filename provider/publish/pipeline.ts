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
import { checkInputs, type PublishInputs, type SpacesTarget } from "./inputs";
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

/** What is published: a local file sent through a Spaces bucket, or an image DigitalOcean downloads from a URL. */
type Source =
  | { kind: "url"; url: string }
  | {
      kind: "file";
      file: string;
      sha256: string;
      /** How it is sent, and why. */
      choice: UploadChoice;
      object: PublishedObject;
      /** Everything the uploader needs to reach the object. */
      spaces: SpacesTarget & PublishedObject;
    };

/** The file's or URL's source, checked: the Spaces keys reach the bucket, the file is there, hashed and its sending chosen. */
async function sourceOf(inputs: PublishInputs, emit: (e: PublishEvent) => void): Promise<Source> {
  const { file, url, spaces } = inputs;
  if (file === undefined) {
    if (url === undefined) throw new Error("publishImage: checkInputs let through neither a file nor a url");
    return { kind: "url", url };
  }
  if (!spaces?.region) throw new Error("publishImage: checkInputs let a file through without a bucket and its region");
  // The Spaces keys are proven by a listing of the bucket: before the file is hashed, and before anything is renamed,
  // tagged, uploaded or imported.
  await checkSpacesAccess({ ...spaces, region: spaces.region });
  await requireFile(file);
  const { sha256 } = await sha256File(file, (progress) => emit({ type: "progress", progress }));
  const choice = await uploadChoice(file, spaces.uploadAs);
  const object = { bucket: spaces.bucket, region: spaces.region, key: objectKey(sha256, uploadName(file, choice.format), spaces.keyPrefix) };
  return { kind: "file", file, sha256, choice, object, spaces: { ...spaces, ...object } };
}

export async function publishImage(options: PublishOptions): Promise<PublishResult> {
  const { inputs, problems } = checkInputs(options);
  if (problems.length > 0) throw inputError(problems, options.fieldName);
  const { regions } = inputs;
  const keepObject = inputs.spaces?.keepObject === true;
  const importRegion = inputs.importRegion ?? regions[0];
  const client = new DigitalOceanClient(options.api);
  const emit = options.onEvent ?? (() => undefined);
  // The API's token is proven by the region list, before anything else.
  await requireRegions(client, regions);
  const source = await sourceOf(inputs, emit);
  const sent = source.kind === "file" ? source : undefined;
  // A converted upload is another object, and another image, than the file sent as it is: both name the conversion.
  const marker = adoptionMarker(
    source.kind === "url" ? source.url : source.choice.format === "original" ? source.sha256 : `${source.sha256}:${conversionOf(source.choice.format)}`,
    options.owner,
  );

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
      let url = source.kind === "url" ? source.url : undefined;
      if (sent) {
        emit({ type: "sending-as", format: sent.choice.format, reason: sent.choice.reason });
        if (inputs.validation !== false) {
          validation = await cachedValidation(sent.file, sent.sha256, inputs.validation?.skip, inputs.validation?.boot);
          if (!validation.ok) throw new ValidationFailedError(validation);
          emit({ type: "validated", report: validation });
        }
        upload = await sendFile(
          sent.file,
          sent.choice.format,
          { ...sent.spaces, sha256: sent.sha256, onProgress: (progress) => emit({ type: "progress", progress }) },
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
        if (url === undefined) throw new Error("publishImage: nothing to import from (no upload URL and no url)");
        const created = await client.images
          .createCustom({
            name: inputs.name,
            url,
            region: importRegion,
            distribution: inputs.distribution ?? "Unknown",
            description: inputs.description,
            tags: [...(inputs.tags ?? []), marker],
          })
          .catch(async (err: unknown) => {
            throw await failedCreate(err, marker, upload ? sent?.spaces : undefined, keepObject);
          });
        image = await settle(client, marker, created, emit);
        adopted = image.id !== created.id;
      }
    }
  } finally {
    await lock.release();
  }

  const found = image;
  try {
    image = await waitForImage(client, found.id, {
      timeoutMs: (inputs.timeouts?.import ?? 60) * 60_000,
      onProgress: (status, elapsedMs) => emit({ type: "importing", image: found, status, elapsedMs }),
    });
  } catch (err) {
    if (err instanceof ImportFailedError) {
      // A failed import leaves a `deleted` image record behind; remove it and the object so nothing is orphaned.
      await client.images.delete(found.id).catch(() => undefined);
      if (sent && !keepObject) await deleteImageObject(sent.spaces).catch(() => undefined);
      throw new PublishError(err.message, { stage: "import", cause: err });
    }
    throw new PublishError(`image ${found.id} was created but did not become available: ${(err as Error).message}`, {
      imageId: found.id,
      stage: "import",
      cause: err,
    });
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
      throw new PublishError(`image ${found.id} exists but its metadata could not be updated: ${(err as Error).message}`, {
        imageId: found.id,
        stage: "update",
        cause: err,
      });
    });
    image = r.image;
    if (r.changed.length > 0) emit({ type: "updated", image, changed: r.changed });
  }
  // The regions were checked before the upload.
  const available = image.regions;
  if (regions.some((r) => !available.includes(r))) image = await transfer(client, image, regions, { timeoutMinutes: inputs.timeouts?.transfer, onEvent: emit });

  let objectDeleted = false;
  if (sent && !keepObject) {
    // An adopted image's object, if an earlier attempt left one, is found by the same content-addressed key.
    objectDeleted = await deleteImageObject(sent.spaces);
    if (objectDeleted) emit({ type: "cleaned", what: `${sent.object.bucket}/${sent.object.key}` });
  }
  return { image, upload: upload ?? undefined, validation, object: sent?.object, sha256: sent?.sha256, uploadAs: sent?.choice, objectDeleted, adopted };
}
