// Regions: checked against what DigitalOcean has open, and an image transferred to every one it is not yet in, at once.
import { waitForTransfer, type DigitalOceanClient, type Image } from "../digitalocean";
import { UsageError } from "../errors";
import { PublishError } from "./errors";
import type { PublishEvent } from "./types";

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
  throw new UsageError(`${why}`, { fix: `use one of ${open.sort().join(", ")}`, field });
}

export interface TransferOptions {
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
export async function transfer(client: DigitalOceanClient, image: Image, regions: string[], options: TransferOptions): Promise<Image> {
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
    throw new PublishError(`image ${imageId} could not be transferred to ${failed.map(([, r]) => r).join(", ")}: ${why}`, {
      imageId,
      stage: "transfer",
      cause: (failed[0][0] as PromiseRejectedResult).reason,
    });
  }
  return client.images.get(imageId);
}
