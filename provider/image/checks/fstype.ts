// Names what a partition holds from its first bytes (the magic numbers blkid looks for).
import { isZero } from "../bytes";
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
  if (isZero(head)) return "empty";
  return "unknown";
}

export interface VolumeIds {
  uuid?: string;
  label?: string;
}

const hex = (b: Buffer) => b.toString("hex");
const guid = (b: Buffer) => {
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
};
const cstr = (b: Buffer) => b.toString("utf8").replace(/\0.*$/s, "").trim();

/** The UUID and label blkid would report for a filesystem other than ext (whose superblock reader has its own). */
export async function volumeIds(src: ByteSource, type: FsType): Promise<VolumeIds> {
  const head = await readUpTo(src, 0, 0x10200);
  switch (type) {
    case "xfs":
      return { uuid: guid(head.subarray(32, 48)), label: cstr(head.subarray(108, 120)) };
    case "btrfs":
      return { uuid: guid(head.subarray(0x10020, 0x10030)), label: cstr(head.subarray(0x1012b, 0x1022b)) };
    case "swap":
      return { uuid: guid(head.subarray(1036, 1052)), label: cstr(head.subarray(1052, 1068)) };
    case "vfat": {
      // FAT32 keeps the serial at 0x43 and the label at 0x47; FAT12/16 at 0x27 and 0x2b. blkid prints the serial as XXXX-XXXX.
      const fat32 = head.toString("latin1", 82, 87) === "FAT32";
      const serial = head
        .readUInt32LE(fat32 ? 0x43 : 0x27)
        .toString(16)
        .toUpperCase()
        .padStart(8, "0");
      const label = head.toString("latin1", fat32 ? 0x47 : 0x2b, (fat32 ? 0x47 : 0x2b) + 11).trim();
      return { uuid: `${serial.slice(0, 4)}-${serial.slice(4)}`, label: label === "NO NAME" ? undefined : label };
    }
    case "iso9660":
      return { label: head.toString("latin1", 0x8028, 0x8048).trim() };
    default:
      return {};
  }
}
