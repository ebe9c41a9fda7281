// Fixed-offset field readers shared by the on-disk structure parsers; 64-bit fields are range-checked bigints.
import { EXIT } from "../errors";
import { ImageError } from "./errors";

/** Converts a 64-bit field to a number, failing with the field's name and location when it exceeds 2^53. */
export function u64(value: bigint, field: string, where: { file: string; offset: number }): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ImageError(`${where.file}: ${field} at offset ${where.offset} is ${value}, larger than any disk this tool reads`, {
      file: where.file,
      offset: where.offset,
      fix: "the header is corrupt or this is not the format it claims to be; check the file with qemu-img check",
      code: "field-out-of-range",
    });
  }
  return Number(value);
}

/**
 * A disk's virtual size: a well-formed header may state any size up to 2^64, and one past 2^53 bytes (8 PiB) is far
 * over DigitalOcean's 100 GiB limit, so it is refused as too big (exit 1), not as damage (exit 2).
 */
export function diskSize(value: bigint, field: string, where: { file: string; offset: number }): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ImageError(`${where.file}: virtual size ${value} bytes (${field} at offset ${where.offset}) is over DigitalOcean's limit of 100 GiB`, {
      file: where.file,
      offset: where.offset,
      fix: "make the disk smaller: shrink the filesystem and its partition, then qemu-img resize --shrink IMAGE SIZE (or build it at the size you need)",
      code: "size-over-limit",
      exit: EXIT.refused,
    });
  }
  return Number(value);
}

export const readU64BE = (buf: Buffer, off: number, field: string, where: { file: string; offset: number }): number =>
  u64(buf.readBigUInt64BE(off), field, { file: where.file, offset: where.offset + off });

export const readU64LE = (buf: Buffer, off: number, field: string, where: { file: string; offset: number }): number =>
  u64(buf.readBigUInt64LE(off), field, { file: where.file, offset: where.offset + off });

/** Formats a mixed-endian GUID (as GPT and VHDX store them) in its canonical upper-case text form. */
export function guidToString(buf: Buffer, off: number): string {
  const hex = (b: Buffer) => b.toString("hex");
  const le = (start: number, len: number) => hex(Buffer.from(buf.subarray(off + start, off + start + len)).reverse());
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${hex(buf.subarray(off + 8, off + 10))}-${hex(buf.subarray(off + 10, off + 16))}`.toUpperCase();
}

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

/** 1536 → "1.50 KiB": binary units, three significant digits. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}

const ZEROS = Buffer.alloc(1024 * 1024);

/** Whether bytes are all zeros: a native memcmp against zeros, 1 MiB at a time. */
export function isZero(buf: Uint8Array): boolean {
  for (let off = 0; off < buf.length; off += ZEROS.length) {
    const piece = buf.subarray(off, Math.min(off + ZEROS.length, buf.length));
    if (Buffer.compare(piece, ZEROS.subarray(0, piece.length)) !== 0) return false;
  }
  return true;
}
