// How the CLI shows images: the JSON shape of an image, and `ls`'s table with doctl-style --format columns.
import type { Image } from "../digitalocean";
import { isAdoptionMarker } from "../publish/naming";
import { table } from "./format";

export function imageJson(image: Image) {
  return {
    id: image.id,
    name: image.name,
    status: image.status,
    regions: image.regions,
    distribution: image.distribution,
    description: image.description ?? "",
    // The adoption marker is do-image's own bookkeeping, not a tag the user chose.
    tags: image.tags.filter((t) => !isAdoptionMarker(t)),
    sizeGigabytes: image.size_gigabytes,
    minDiskSize: image.min_disk_size,
    createdAt: image.created_at,
    ...(image.error_message ? { errorMessage: image.error_message } : {}),
  };
}

type ImageJson = ReturnType<typeof imageJson>;

/** The columns `ls --format` knows, named as doctl names them. */
export const LS_COLUMNS: Record<string, { header: string; value: (i: ImageJson) => string }> = {
  ID: { header: "ID", value: (i) => String(i.id) },
  Name: { header: "Name", value: (i) => i.name },
  Status: { header: "Status", value: (i) => i.status },
  Regions: { header: "Regions", value: (i) => i.regions.join(",") },
  Distribution: { header: "Distribution", value: (i) => i.distribution },
  Size: { header: "Size", value: (i) => (i.sizeGigabytes === null ? "" : `${i.sizeGigabytes} GB`) },
  MinDisk: { header: "MinDisk", value: (i) => (i.minDiskSize === null ? "" : `${i.minDiskSize} GB`) },
  Tags: { header: "Tags", value: (i) => i.tags.join(",") },
  Created: { header: "Created", value: (i) => i.createdAt },
};
export const LS_DEFAULT_FORMAT = "ID,Name,Status,Regions,Distribution,Size";

/** Aligned columns, as doctl prints them; headers unless asked not to. */
export function renderImages(images: ImageJson[], columns: string[], header = true): string {
  const rows = images.map((i) => columns.map((c) => LS_COLUMNS[c].value(i)));
  if (header) rows.unshift(columns.map((c) => LS_COLUMNS[c].header));
  return rows.length === 0 ? "" : table(rows, "");
}
