// An image already published: its name, description, distribution and tags edited in place, or the image deleted
// with the object it was uploaded as.
import { DigitalOceanError, type DigitalOceanClient, type Image } from "../digitalocean";
import { DoImageError } from "../errors";
import { checkSpacesAccess, deleteImageObject } from "../spaces";
import { isAdoptionMarker } from "./naming";
import type { PublishedObject } from "./types";
import type { SpacesTarget } from "./inputs";

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
