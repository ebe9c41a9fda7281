// Waiting on DigitalOcean's slow operations: an import until `available`, a transfer until `completed`.
import { DoImageError, EXIT } from "../errors";
import type { DigitalOceanClient } from "./client";
import type { Action, Image } from "./types";

export class ImportFailedError extends DoImageError {
  constructor(
    readonly image: Image,
    reason: string,
  ) {
    super(`DigitalOcean could not import image ${image.id} ("${image.name}"): ${reason}`, {
      code: "import-failed",
      fix: "run do-image validate and do-image boot on the file to see why; DigitalOcean's reason is above",
    });
  }
}

export class TransferFailedError extends DoImageError {
  constructor(imageId: number, region: string, actionId: number) {
    super(`DigitalOcean could not transfer image ${imageId} to ${region} (action ${actionId} errored)`, {
      code: "transfer-failed",
      fix: "run the same command again to retry the region; if it fails again, pick another region or ask DigitalOcean support",
    });
  }
}

export class WaitTimeoutError extends DoImageError {
  constructor(what: string, minutes: number, last: string) {
    super(`gave up waiting for ${what} after ${minutes} minutes (last status: ${last})`, {
      code: "wait-timeout",
      fix: "it may still finish: check it with do-image ls, or raise the timeout and run again (the image is adopted, not imported twice)",
      exit: EXIT.unavailable,
    });
  }
}

export interface WaitOptions {
  timeoutMs: number;
  /** Called on every poll with the status seen and the time elapsed. */
  onProgress?: (status: string, elapsedMs: number) => void;
}

/**
 * Poll intervals: 1, 2, 4 s (small images import in seconds), then every 5 s, so an operation is seen finished at
 * most 5 s late; four transfers polled together stay near 50 requests a minute, a fifth of the API's limit.
 */
const pollDelay = (n: number) => Math.min(5_000, 1_000 * 2 ** Math.min(n, 3));

export async function waitForImage(client: DigitalOceanClient, id: number, options: WaitOptions): Promise<Image> {
  const clock = client.http.clock;
  const start = clock.now();
  for (let n = 0; ; n++) {
    const image = await client.images.get(id);
    options.onProgress?.(image.status, clock.now() - start);
    if (image.status === "available") return image;
    if (image.status === "deleted" || image.status === "retired")
      throw new ImportFailedError(image, image.error_message || `its status became ${image.status}`);
    if (clock.now() - start > options.timeoutMs)
      throw new WaitTimeoutError(`image ${id} to become available`, Math.round(options.timeoutMs / 60000), image.status);
    await clock.sleep(pollDelay(n));
  }
}

export async function waitForTransfer(client: DigitalOceanClient, imageId: number, action: Action, options: WaitOptions): Promise<Action> {
  const clock = client.http.clock;
  const start = clock.now();
  let current = action;
  for (let n = 0; ; n++) {
    options.onProgress?.(current.status, clock.now() - start);
    if (current.status === "completed") return current;
    if (current.status === "errored") throw new TransferFailedError(imageId, current.region_slug ?? "the region", current.id);
    if (clock.now() - start > options.timeoutMs)
      throw new WaitTimeoutError(`the transfer of image ${imageId} to ${current.region_slug}`, Math.round(options.timeoutMs / 60000), current.status);
    await clock.sleep(pollDelay(n));
    current = await client.imageActions.get(imageId, action.id);
  }
}
