// Adoption: the image a push of the same content (and owner) already made, found by its marker tag, and the race
// between pushes on several machines settled on the oldest.
import { DigitalOceanError, type DigitalOceanClient, type Image } from "../digitalocean";
import type { PublishEvent } from "./types";

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
export async function settle(client: DigitalOceanClient, marker: string, mine: Image, emit: (e: PublishEvent) => void): Promise<Image> {
  const first = await findByMarker(client, marker);
  if (!first || first.id >= mine.id) return mine;
  await client.images.delete(mine.id).catch((err: unknown) => {
    if (!(err instanceof DigitalOceanError && err.notFound)) throw err;
  });
  emit({ type: "duplicate-removed", duplicate: mine.id, image: first });
  return first;
}
