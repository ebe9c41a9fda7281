// The ext2/3/4 superblock (kernel Documentation/filesystems/ext4/super.rst), read by hand: no Node library reads ext4.
import { ImageError } from "../errors";

export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;
export const EXT_MAGIC = 0xef53;

const COMPAT = { HAS_JOURNAL: 0x4, EXT_ATTR: 0x8, RESIZE_INODE: 0x10, DIR_INDEX: 0x20, SPARSE_SUPER2: 0x200 } as const;
export const INCOMPAT = {
  COMPRESSION: 0x1,
  FILETYPE: 0x2,
  RECOVER: 0x4,
  JOURNAL_DEV: 0x8,
  META_BG: 0x10,
  EXTENTS: 0x40,
  BIT64: 0x80,
  MMP: 0x100,
  FLEX_BG: 0x200,
  EA_INODE: 0x400,
  DIRDATA: 0x1000,
  CSUM_SEED: 0x2000,
  LARGEDIR: 0x4000,
  INLINE_DATA: 0x8000,
  ENCRYPT: 0x10000,
  CASEFOLD: 0x20000,
} as const;
export const RO_COMPAT = {
  SPARSE_SUPER: 0x1,
  LARGE_FILE: 0x2,
  BTREE_DIR: 0x4,
  HUGE_FILE: 0x8,
  GDT_CSUM: 0x10,
  DIR_NLINK: 0x20,
  EXTRA_ISIZE: 0x40,
  QUOTA: 0x100,
  BIGALLOC: 0x200,
  METADATA_CSUM: 0x400,
  READONLY: 0x1000,
  PROJECT: 0x2000,
  VERITY: 0x8000,
  ORPHAN_PRESENT: 0x10000,
} as const;

/** Incompatible features this reader understands; any other set bit is refused rather than read wrongly. */
const READABLE_INCOMPAT =
  INCOMPAT.FILETYPE |
  INCOMPAT.RECOVER |
  INCOMPAT.META_BG |
  INCOMPAT.EXTENTS |
  INCOMPAT.BIT64 |
  INCOMPAT.MMP |
  INCOMPAT.FLEX_BG |
  INCOMPAT.EA_INODE |
  INCOMPAT.CSUM_SEED |
  INCOMPAT.LARGEDIR |
  INCOMPAT.INLINE_DATA |
  INCOMPAT.ENCRYPT |
  INCOMPAT.CASEFOLD;

export interface Superblock {
  inodesCount: number;
  blocksCount: number;
  firstDataBlock: number;
  blockSize: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  revLevel: number;
  inodeSize: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  uuid: string;
  volumeName: string;
  descSize: number;
  firstMetaBg: number;
  logGroupsPerFlex: number;
}

export const Superblock = {
  parse(buf: Buffer, where: string): Superblock {
    if (buf.readUInt16LE(0x38) !== EXT_MAGIC) {
      throw new ImageError(`${where}: no ext2/3/4 superblock magic at byte 1080`, {
        file: where,
        offset: 1080,
        fix: "this is not an ext2/3/4 filesystem",
        code: "ext-not-found",
      });
    }
    const logBlock = buf.readUInt32LE(0x18);
    const revLevel = buf.readUInt32LE(0x4c);
    const featureIncompat = revLevel >= 1 ? buf.readUInt32LE(0x60) : 0;
    const bit64 = (featureIncompat & INCOMPAT.BIT64) !== 0;
    const hex = buf.subarray(0x68, 0x78).toString("hex");
    return {
      inodesCount: buf.readUInt32LE(0x0),
      blocksCount: buf.readUInt32LE(0x4) + (bit64 ? buf.readUInt32LE(0x150) * 2 ** 32 : 0),
      firstDataBlock: buf.readUInt32LE(0x14),
      blockSize: logBlock <= 6 ? 1024 << logBlock : 0,
      blocksPerGroup: buf.readUInt32LE(0x20),
      inodesPerGroup: buf.readUInt32LE(0x28),
      revLevel,
      inodeSize: revLevel >= 1 ? buf.readUInt16LE(0x58) : 128,
      featureCompat: revLevel >= 1 ? buf.readUInt32LE(0x5c) : 0,
      featureIncompat,
      featureRoCompat: revLevel >= 1 ? buf.readUInt32LE(0x64) : 0,
      uuid: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
      volumeName: buf.toString("latin1", 0x78, 0x88).replace(/\0.*$/s, ""),
      descSize: bit64 ? buf.readUInt16LE(0xfe) || 64 : 32,
      firstMetaBg: buf.readUInt32LE(0x104),
      logGroupsPerFlex: buf.readUInt8(0x174),
    };
  },

  /** Checks the fields the reader relies on; returns what is wrong, or null. */
  problem(sb: Superblock): string | null {
    if (sb.blockSize < 1024 || sb.blockSize > 65536) return `block size 2^(10+n) with n out of range`;
    if (sb.inodesPerGroup === 0 || sb.blocksPerGroup === 0) return "zero inodes or blocks per group";
    if (sb.inodeSize < 128 || sb.inodeSize > sb.blockSize || (sb.inodeSize & (sb.inodeSize - 1)) !== 0) return `inode size ${sb.inodeSize}`;
    const unknown = sb.featureIncompat & ~READABLE_INCOMPAT;
    if (unknown)
      return `unsupported incompatible features 0x${unknown.toString(16)}${unknown & INCOMPAT.COMPRESSION ? " (compression)" : ""}${unknown & INCOMPAT.JOURNAL_DEV ? " (external journal device)" : ""}`;
    return null;
  },

  /** ext2, ext3 or ext4, by the same rule blkid uses: features beyond ext3's make it ext4. */
  kind(sb: Superblock): "ext2" | "ext3" | "ext4" {
    const ext3Incompat = INCOMPAT.FILETYPE | INCOMPAT.RECOVER | INCOMPAT.META_BG;
    const ext3RoCompat = RO_COMPAT.SPARSE_SUPER | RO_COMPAT.LARGE_FILE | RO_COMPAT.BTREE_DIR;
    if (sb.featureIncompat & ~ext3Incompat || sb.featureRoCompat & ~ext3RoCompat) return "ext4";
    return sb.featureCompat & COMPAT.HAS_JOURNAL ? "ext3" : "ext2";
  },

  featureNames(sb: Superblock): string[] {
    const names: string[] = [];
    const add = (set: Record<string, number>, value: number) => {
      for (const [name, bit] of Object.entries(set)) if (value & bit) names.push(name.toLowerCase().replace(/^bit64$/, "64bit"));
    };
    add(COMPAT, sb.featureCompat);
    add(INCOMPAT, sb.featureIncompat);
    add(RO_COMPAT, sb.featureRoCompat);
    return names;
  },
};
