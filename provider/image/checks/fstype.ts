// Names what a partition holds from its first bytes (the magic numbers blkid looks for).
import { readUpTo, type ByteSource } from "../source";

export type FsType = "ext" | "xfs" | "btrfs" | "lvm" | "luks" | "swap" | "vfat" | "ntfs" | "squashfs" | "iso9660" | "unknown" | "empty";

export const FS_NAMES: Record<FsType, string> = {
  ext: "ext2/3/4",
  xfs: "XFS",
  btrfs: "btrfs",
  lvm: "an LVM physical volume",
  luks: "LUKS encryption",
  swap: "swap",
  vfat: "FAT",
  ntfs: "NTFS",
  squashfs: "squashfs",
  iso9660: "ISO 9660",
  unknown: "unrecognised data",
  empty: "nothing (all zeros)",
};

export async function sniffFilesystem(src: ByteSource): Promise<FsType> {
  const head = await readUpTo(src, 0, 0x10048);
  const at = (off: number, text: string) => head.length >= off + text.length && head.toString("latin1", off, off + text.length) === text;
  if (head.length >= 1082 && head.readUInt16LE(1080) === 0xef53) return "ext";
  if (at(0, "XFSB")) return "xfs";
  if (at(0x10040, "_BHRfS_M")) return "btrfs";
  if ([0, 512, 1024, 1536].some((o) => at(o, "LABELONE"))) return "lvm";
  if (at(0, "LUKS\xba\xbe")) return "luks";
  if (at(4086, "SWAPSPACE2") || at(4086, "SWAP-SPACE")) return "swap";
  if (at(0, "hsqs")) return "squashfs";
  if (at(3, "NTFS    ")) return "ntfs";
  if (at(0x8001, "CD001")) return "iso9660";
  if (head.length >= 512 && head.readUInt16LE(510) === 0xaa55 && (at(54, "FAT") || at(82, "FAT32"))) return "vfat";
  if (head.every((b) => b === 0)) return "empty";
  return "unknown";
}
