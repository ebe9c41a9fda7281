// DigitalOcean's documented limits on a custom image, as findings with the limit that applied and the fix.
import type { ErrorCode } from "../errors";
import { formatBytes } from "./bytes";

/** DigitalOcean's limit on an image's virtual size. Its documentation says "100 GB"; its API enforces 100 GiB. */
export const MAX_VIRTUAL_SIZE = 100 * 1024 ** 3;
/** 100 GB in decimal units: sizes between this and MAX_VIRTUAL_SIZE are accepted but worth a warning. */
export const DECIMAL_100_GB = 100 * 1000 ** 3;

export interface Finding {
  severity: "error" | "warning";
  code: ErrorCode;
  message: string;
  fix: string;
}

export function judgeVirtualSize(size: number): Finding | null {
  const fix = "shrink the filesystem and its partition (resize2fs -M, then parted or sgdisk), then the disk: qemu-img resize --shrink IMAGE SIZE";
  if (size > MAX_VIRTUAL_SIZE) {
    return {
      severity: "error",
      code: "size-over-limit",
      message: `virtual size ${size} bytes (${formatBytes(size)}) is over DigitalOcean's limit of 100 GiB (${MAX_VIRTUAL_SIZE} bytes); the import would fail`,
      fix,
    };
  }
  if (size > DECIMAL_100_GB) {
    return {
      severity: "warning",
      code: "size-over-100gb",
      message: `virtual size ${size} bytes (${formatBytes(size)}) is within the 100 GiB limit DigitalOcean enforces but over the 100 GB (${DECIMAL_100_GB} bytes) its documentation states`,
      fix: `to stay clear of both readings of the limit, ${fix}`,
    };
  }
  return null;
}
