// The virtual disk every container reader exposes, and the block-mapped read loop they share.
import type { ByteSource, HostSource } from "./source";
import { ImageError } from "./errors";

export type ContainerFormat = "raw" | "qcow2" | "vmdk" | "vdi" | "vhdx";
export type Compression = "none" | "gzip" | "bzip2";

/** A guest's disk as the guest sees it: `size` is the virtual size, reads outside stored data return zeros. */
export interface VirtualDisk extends ByteSource {
  readonly format: ContainerFormat;
  /** Format details worth showing a user (version, cluster size, subformat, …). */
  readonly details: Readonly<Record<string, string | number | boolean>>;
  /** Bytes of guest data the container stores (allocated clusters or blocks), from metadata only. */
  allocatedBytes(): Promise<number>;
  /** Reads into the caller's buffer (a whole-disk reader reuses one; holes are written as zeros). */
  readInto(target: Buffer, targetOffset: number, length: number, position: number): Promise<void>;
}

/** Where one block of the virtual disk lives. */
export type BlockLocation = { kind: "zero" } | { kind: "host"; offset: number } | { kind: "bytes"; data: Buffer }; // already decoded (a compressed cluster or grain)

type Locate = (block: number) => BlockLocation | Promise<BlockLocation>;

/**
 * Reads [offset, offset+length) of a virtual disk whose blocks of `blockSize` bytes are located by `locate`.
 * Runs of blocks that are contiguous in the host file are read with one pread, straight into the result.
 */
export async function readMapped(
  disk: { name: string; size: number },
  host: HostSource,
  blockSize: number,
  locate: Locate,
  offset: number,
  length: number,
): Promise<Buffer> {
  const out = Buffer.alloc(length);
  await readMappedInto(disk, host, blockSize, locate, out, 0, offset, length, true);
  return out;
}

/**
 * As readMapped, into `target` at `targetOffset`: a caller reading a whole disk reuses one buffer rather than
 * allocating (and the kernel zeroing) fresh memory for every read. Unallocated blocks are zero-filled unless the
 * target is known to be zeros already.
 */
export async function readMappedInto(
  disk: { name: string; size: number },
  host: HostSource,
  blockSize: number,
  locate: Locate,
  target: Buffer,
  targetOffset: number,
  offset: number,
  length: number,
  zeroed = false,
): Promise<void> {
  if (offset < 0 || length < 0 || offset + length > disk.size) {
    throw new ImageError(`${disk.name}: read of ${length} bytes at offset ${offset} is outside the virtual disk (${disk.size} bytes)`, {
      file: disk.name,
      offset,
      fix: "a partition or filesystem in the image points past the end of the disk; the partition table or the image is damaged",
      code: "read-outside-disk",
    });
  }
  let pos = offset;
  const end = offset + length;
  const at = (p: number) => targetOffset + p - offset;
  while (pos < end) {
    const block = Math.floor(pos / blockSize);
    const within = pos - block * blockSize;
    let n = Math.min(blockSize - within, end - pos);
    const loc = await locate(block);
    if (loc.kind === "host") {
      // Extend across following blocks that continue the same host run.
      let next = block + 1;
      while (pos + n < end) {
        const l = await locate(next);
        if (l.kind !== "host" || l.offset !== loc.offset + (next - block) * blockSize) break;
        n += Math.min(blockSize, end - pos - n);
        next++;
      }
      await host.readInto(target, at(pos), n, loc.offset + within);
    } else if (loc.kind === "bytes") {
      loc.data.copy(target, at(pos), within, within + n);
    } else if (!zeroed) {
      target.fill(0, at(pos), at(pos) + n);
    }
    pos += n;
  }
}

/** A small least-recently-used cache for decoded metadata tables and clusters. */
export class LruCache<V> {
  private readonly entries = new Map<number, V>();
  constructor(private readonly capacity: number) {}

  get(key: number): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  set(key: number, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as number;
      this.entries.delete(oldest);
    }
  }
}

/** Fails with a truncation error when [offset, offset+length) of the host file lies past its end. */
export function checkWithinFile(host: { name: string; size: number }, what: string, offset: number, length: number): void {
  if (offset + length > host.size) {
    throw new ImageError(
      `${host.name}: ${what} at offset ${offset} (${length} bytes) ends at ${offset + length}, past the end of the file (${host.size} bytes); the file is truncated`,
      {
        file: host.name,
        offset,
        fix: "the upload or copy was cut short: copy the image again, or re-create it with qemu-img convert",
        code: "truncated",
      },
    );
  }
}
