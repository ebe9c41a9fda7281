// What a publish needs and the one set of rules for it: every face's input is checked here, with the field at fault.
import { BOOT_WHEN, type BootWhen } from "../boot/when";
import { CHECK_IDS } from "../image";
import { spacesRegionFor } from "./naming";

/** The distributions DigitalOcean accepts for a custom image (its API's `distribution` enum). */
export const DISTRIBUTIONS = [
  "Arch Linux",
  "CentOS",
  "CoreOS",
  "Debian",
  "Fedora",
  "Fedora Atomic",
  "FreeBSD",
  "Gentoo",
  "openSUSE",
  "RancherOS",
  "Rocky Linux",
  "Ubuntu",
  "Unknown",
] as const;

export const ACCESS_MODES = ["presigned", "public-read"] as const;
export type Access = (typeof ACCESS_MODES)[number];

/**
 * How a local file is sent: as it is, as a compressed qcow2 of only its non-zero clusters (produced while it uploads),
 * or `auto`: whichever of the two is smaller by the file's own metadata (see upload-format.ts).
 */
export const UPLOAD_FORMATS = ["auto", "original", "qcow2", "gzip"] as const;
export type UploadFormat = (typeof UPLOAD_FORMATS)[number];

/** Region slugs: three letters and a digit. */
export const REGION_SLUG = /^[a-z]{3}\d$/;
/** DigitalOcean's tag names. */
export const TAG_NAME = /^[a-zA-Z0-9_:-]{1,255}$/;
/** Spaces bucket names: 3 to 63 lowercase letters, digits and dashes, starting and ending with a letter or digit. */
export const BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

/** Where a local file is uploaded before the import. */
export interface SpacesTarget {
  bucket: string;
  /** The bucket's region. @default $SPACES_REGION, else the import region */
  region?: string;
  /** An S3 endpoint other than the region's. */
  endpoint?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** @default "do-image" */
  keyPrefix?: string;
  /** @default "presigned" */
  access?: Access;
  /**
   * How the file is sent: "original" (as it is), "qcow2" (a compressed qcow2 of its non-zero clusters), "gzip" (the
   * file gzip-compressed), or "auto" (qcow2 for raw disks and containers of uncompressed data, else original). @default "auto"
   */
  uploadAs?: UploadFormat;
  /** Keep the uploaded object after the import (it is deleted by default). @default false */
  keepObject?: boolean;
  /** @default 43200 */
  presignSeconds?: number;
}

export interface PublishInputs {
  /** A local image file, uploaded to Spaces first. Exactly one of file and url. */
  file?: string;
  /** An image already reachable over HTTP(S). */
  url?: string;
  name: string;
  /** Regions the image must end up in. */
  regions: string[];
  /** The region the import happens in. @default the first of regions */
  importRegion?: string;
  /** @default "Unknown" */
  distribution?: string;
  description?: string;
  tags?: string[];
  spaces?: SpacesTarget;
  /** Check ids whose failures only warn, and when to boot the image to decide; `false` skips validation altogether. */
  validation?: { skip?: string[]; boot?: BootWhen } | false;
  /** Minutes to wait for the import and for each transfer. @default { import: 60, transfer: 60 } */
  timeouts?: { import?: number; transfer?: number };
}

/** A bad input: the field at fault (as a property path: "regions[1]", "spaces.bucket") and why. */
export interface InputProblem {
  field: string;
  reason: string;
}

export interface CheckInputsOptions {
  /** Values not known yet (Pulumi's preview of another resource's output): accepted without a judgement. */
  isUnknown?: (v: unknown) => boolean;
  env?: NodeJS.ProcessEnv;
}

const unique = <T>(xs: T[]) => [...new Set(xs)];

/**
 * Checks and normalises a publish's inputs: regions deduplicated, the import region and the bucket's region resolved,
 * tags deduplicated and sorted. Every problem is returned (not just the first), each naming its field.
 */
export function checkInputs(raw: Partial<PublishInputs>, options: CheckInputsOptions = {}): { inputs: PublishInputs; problems: InputProblem[] } {
  const unknown = options.isUnknown ?? (() => false);
  const problems: InputProblem[] = [];
  const fail = (field: string, reason: string) => problems.push({ field, reason });
  const inputs = { ...raw } as PublishInputs;

  if ((raw.file === undefined) === (raw.url === undefined))
    fail(raw.file === undefined ? "file" : "url", "give exactly one of file (a local image to upload) and url (an image already online)");
  if (typeof raw.url === "string" && !unknown(raw.url) && !/^https?:\/\/[^/\s]+/.test(raw.url))
    fail("url", `"${raw.url}" is not an http(s) URL DigitalOcean can download from`);

  // A value a preview does not know yet (a whole list, or one element) is judged when it is known, at the update.
  const regions = raw.regions;
  if (!unknown(regions) && (!Array.isArray(regions) || regions.length === 0)) fail("regions", 'list at least one region slug, e.g. ["nyc3"]');
  else if (Array.isArray(regions)) {
    regions.forEach((r, i) => {
      if (!unknown(r) && (typeof r !== "string" || !REGION_SLUG.test(r)))
        fail(`regions[${i}]`, `"${String(r)}" is not a region slug (three letters and a digit, e.g. nyc3)`);
    });
    inputs.regions = unique(regions);
  }
  if (raw.importRegion !== undefined && !unknown(raw.importRegion) && Array.isArray(regions) && !regions.some(unknown) && !regions.includes(raw.importRegion))
    fail("importRegion", `"${String(raw.importRegion)}" must be one of regions (${(regions ?? []).join(", ")})`);
  const importRegion = raw.importRegion ?? (Array.isArray(regions) ? regions[0] : undefined);

  if (typeof raw.name !== "string" || raw.name.length === 0) {
    if (!unknown(raw.name)) fail("name", "give the image a name");
  } else if (raw.name.length > 255) fail("name", `must be at most 255 characters, not ${raw.name.length}`);
  if (raw.distribution !== undefined && !unknown(raw.distribution) && !(DISTRIBUTIONS as readonly string[]).includes(raw.distribution))
    fail("distribution", `"${raw.distribution}" is not one DigitalOcean knows; use one of ${DISTRIBUTIONS.join(", ")}`);

  if (!unknown(raw.tags)) inputs.tags = unique((raw.tags ?? []).filter((t) => !unknown(t))).sort();
  for (const t of unknown(inputs.tags) ? [] : (inputs.tags ?? []))
    if (!TAG_NAME.test(t)) fail("tags", `tag "${t}" may hold only letters, digits, colons, dashes and underscores (at most 255)`);

  const spaces = unknown(raw.spaces) ? undefined : raw.spaces;
  if (raw.file !== undefined && !unknown(raw.spaces) && !spaces?.bucket) fail("spaces.bucket", "uploading a local file needs a Spaces bucket to upload it to");
  if (spaces?.bucket && !unknown(spaces.bucket) && !BUCKET_NAME.test(spaces.bucket))
    fail("spaces.bucket", `"${spaces.bucket}" is not a bucket name (3 to 63 lowercase letters, digits and dashes)`);
  if (spaces?.access !== undefined && !unknown(spaces.access) && !(ACCESS_MODES as readonly string[]).includes(spaces.access))
    fail("spaces.access", `must be "presigned" or "public-read", not "${spaces.access}"`);
  if (spaces?.uploadAs !== undefined && !unknown(spaces.uploadAs) && !(UPLOAD_FORMATS as readonly string[]).includes(spaces.uploadAs))
    fail("spaces.uploadAs", `must be ${UPLOAD_FORMATS.map((f) => `"${f}"`).join(" or ")}, not "${String(spaces.uploadAs)}"`);
  if (spaces?.region !== undefined && !unknown(spaces.region) && !REGION_SLUG.test(spaces.region))
    fail("spaces.region", `"${spaces.region}" is not a region slug (e.g. nyc3)`);
  if (spaces && typeof importRegion === "string" && !unknown(importRegion) && !unknown(spaces.region))
    inputs.spaces = { ...spaces, region: spacesRegionFor(spaces.region, importRegion, options.env) };

  for (const k of ["import", "transfer"] as const) {
    const v = raw.timeouts?.[k];
    if (v !== undefined && !unknown(v) && (typeof v !== "number" || !(v > 0))) fail(`timeouts.${k}`, "must be a positive number of minutes");
  }
  const skip = raw.validation && !unknown(raw.validation) && !unknown(raw.validation.skip) ? (raw.validation.skip ?? []) : [];
  for (const id of skip)
    if (!unknown(id) && !(CHECK_IDS as readonly string[]).includes(id)) fail("validation.skip", `"${id}" is not a check id (${CHECK_IDS.join(", ")})`);
  const boot = raw.validation && !unknown(raw.validation) ? raw.validation.boot : undefined;
  if (boot !== undefined && !unknown(boot) && !(BOOT_WHEN as readonly unknown[]).includes(boot))
    fail("validation.boot", `"${String(boot)}" is not one of ${BOOT_WHEN.join(", ")}`);
  return { inputs, problems };
}
