// The names the pipeline gives things, each rule once: object keys, adoption markers, the Spaces region, image names.
import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import { cacheDir } from "../package";

export const DEFAULT_KEY_PREFIX = "do-image";

/** Objects are addressed by content: <prefix>/<sha256>/<file name>. The same bytes are one object, a change is a new one. */
export function objectKey(sha256: string, file: string, prefix = DEFAULT_KEY_PREFIX): string {
  return `${prefix.replace(/\/+$/, "")}/${sha256}/${basename(file)}`;
}

/**
 * The version of the compact qcow2 conversion. The object key and the adoption marker of a converted upload name it,
 * so the same source sent the same way is found again, and a changed conversion makes a new image.
 */
export const CONVERSION = "qcow2-v2";

/** The version of the gzip conversion (the file as it is, gzip-compressed at level 1 while it uploads). */
export const GZIP_CONVERSION = "gzip-v1";

/** The conversion a format names, for object keys and adoption markers. */
export const conversionOf = (format: "qcow2" | "gzip"): string => (format === "qcow2" ? CONVERSION : GZIP_CONVERSION);

/** Where a converted copy of content `sha256` is kept on this machine (CDKTF's synth uploads it as a file). */
export function convertedCopyPath(sha256: string): string {
  return join(cacheDir(), "converted", `${sha256}.${CONVERSION}.qcow2`);
}

/** What an upload of `file` sent as `format` is called in the bucket: the file's name, and the conversion's. */
export function uploadName(file: string, format: "original" | "qcow2" | "gzip"): string {
  if (format === "original") return basename(file);
  return format === "qcow2" ? `${imageNameFromFile(file)}.${CONVERSION}.qcow2` : `${basename(file)}.${GZIP_CONVERSION}.gz`;
}

const h = (s: string, n: number) => createHash("sha256").update(s).digest("hex").slice(0, n);

/**
 * The tag that lets a retried or repeated publish find the image it already made instead of importing a second one.
 * It names the content (a file's SHA-256, or a URL) and, optionally, an owner: a Pulumi resource names itself
 * ("project/stack/name"), so a replacement never adopts the image it replaces and two resources never share one.
 */
export function adoptionMarker(content: string, owner?: string): string {
  return `do-image-c${h(content, 32)}${owner ? `-o${h(owner, 16)}` : ""}`;
}

/** Markers of this scheme and of do-image 0.2 (`do-image-sha256-…`, `do-image-res-…`), kept out of the tags users see. */
export function isAdoptionMarker(tag: string): boolean {
  return /^do-image-(c[0-9a-f]{32}(-o[0-9a-f]{16})?|sha256-[0-9a-f]{40}|res-[0-9a-f]{32}-c[0-9a-f]{16})$/.test(tag);
}

/** The bucket's region: as given, else $SPACES_REGION, else the region the image is imported into. */
export function spacesRegionFor(explicit: string | undefined, importRegion: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit || env.SPACES_REGION || importRegion;
}

/** An image named after its file: "debian-12.qcow2.gz" → "debian-12.qcow2". */
export function imageNameFromFile(file: string): string {
  return basename(file).replace(/\.(gz|bz2)$/, "");
}
