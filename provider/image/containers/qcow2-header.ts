// The qcow2 header (QEMU's docs/interop/qcow2.txt), read here: its fields, its extensions and the names of its feature
// bits, for the reader in qcow2.ts to refuse what it cannot read by name.
import { diskSize, readU64BE } from "../bytes";
import { ImageError } from "../errors";

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
export const V2_HEADER_SIZE = 72;
export const V3_MIN_HEADER_SIZE = 104;

export const INCOMPAT_DIRTY = 1n << 0n;
export const INCOMPAT_CORRUPT = 1n << 1n;
export const INCOMPAT_DATA_FILE = 1n << 2n;
export const INCOMPAT_COMPRESSION = 1n << 3n;
export const INCOMPAT_EXTL2 = 1n << 4n;
export const INCOMPAT_KNOWN = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;

export const EXT_END = 0x00000000;
export const EXT_FEATURE_NAMES = 0x6803f857;
export const EXT_CRYPTO = 0x0537be77;
export const EXT_DATA_FILE = 0x44415441;

export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  snapshotCount: number;
  snapshotsOffset: number;
  incompatibleFeatures: bigint;
  headerLength: number;
  compressionType: "zlib" | "zstd";
}

export const Qcow2Header = {
  parse(buf: Buffer, file: string): Qcow2Header {
    const where = { file, offset: 0 };
    if (buf.length < V2_HEADER_SIZE || buf.readUInt32BE(0) !== QCOW2_MAGIC) {
      throw new ImageError(`${file}: not a qcow2 image (no QFI\\xfb magic at offset 0)`, { file, offset: 0, fix: "pass a qcow2 image" });
    }
    const version = buf.readUInt32BE(4);
    if (version !== 2 && version !== 3) {
      throw new ImageError(`${file}: qcow2 version ${version} at offset 4 is not supported (expected 2 or 3)`, {
        file,
        offset: 4,
        fix: "convert it with qemu-img convert -O qcow2 -o compat=1.1",
        code: "qcow2-version",
      });
    }
    const v3 = version === 3;
    if (v3 && buf.length < V3_MIN_HEADER_SIZE) {
      throw new ImageError(`${file}: qcow2 version 3 header needs ${V3_MIN_HEADER_SIZE} bytes, but the file has ${buf.length}; the file is truncated`, {
        file,
        offset: 0,
        fix: "the upload or copy was cut short: copy the image again",
        code: "truncated",
      });
    }
    const headerLength = v3 ? buf.readUInt32BE(100) : V2_HEADER_SIZE;
    const incompatibleFeatures = v3 ? buf.readBigUInt64BE(72) : 0n;
    const compressionType = v3 && headerLength > V3_MIN_HEADER_SIZE && incompatibleFeatures & INCOMPAT_COMPRESSION ? buf.readUInt8(104) : 0;
    if (compressionType > 1) {
      throw new ImageError(`${file}: qcow2 compression type ${compressionType} at offset 104 is unknown (expected 0 zlib or 1 zstd)`, {
        file,
        offset: 104,
        fix: "convert it with qemu-img convert -O qcow2 to rewrite it with zlib compression",
        code: "qcow2-compression-type",
      });
    }
    return {
      version,
      backingFileOffset: readU64BE(buf, 8, "backing_file_offset", where),
      backingFileSize: buf.readUInt32BE(16),
      clusterBits: buf.readUInt32BE(20),
      size: diskSize(buf.readBigUInt64BE(24), "size", { file: where.file, offset: where.offset + 24 }),
      cryptMethod: buf.readUInt32BE(32),
      l1Size: buf.readUInt32BE(36),
      l1TableOffset: readU64BE(buf, 40, "l1_table_offset", where),
      refcountTableOffset: readU64BE(buf, 48, "refcount_table_offset", where),
      refcountTableClusters: buf.readUInt32BE(56),
      snapshotCount: buf.readUInt32BE(60),
      snapshotsOffset: readU64BE(buf, 64, "snapshots_offset", where),
      incompatibleFeatures,
      headerLength,
      compressionType: compressionType === 1 ? "zstd" : "zlib",
    };
  },
};

export interface HeaderExtension {
  type: number;
  offset: number;
  data: Buffer;
}

export function parseExtensions(buf: Buffer, start: number, clusterSize: number): HeaderExtension[] {
  const exts: HeaderExtension[] = [];
  let off = start;
  while (off + 8 <= Math.min(buf.length, clusterSize)) {
    const type = buf.readUInt32BE(off);
    const len = buf.readUInt32BE(off + 4);
    if (type === EXT_END) break;
    exts.push({ type, offset: off, data: buf.subarray(off + 8, off + 8 + len) });
    off += 8 + Math.ceil(len / 8) * 8;
  }
  return exts;
}

/** Names of incompatible feature bits from the feature name table, for a precise refusal message. */
export function featureNames(exts: HeaderExtension[]): Map<number, string> {
  const names = new Map<number, string>();
  for (const ext of exts.filter((e) => e.type === EXT_FEATURE_NAMES)) {
    for (let i = 0; i + 48 <= ext.data.length; i += 48) {
      if (ext.data[i] === 0)
        names.set(
          ext.data[i + 1],
          ext.data
            .subarray(i + 2, i + 48)
            .toString("latin1")
            .replace(/\0.*$/s, ""),
        );
    }
  }
  return names;
}
