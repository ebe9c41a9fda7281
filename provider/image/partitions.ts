// Reads a virtual disk's partition table (GPT at 512- or 4096-byte sectors, else MBR with logical partitions).
import { ImageError } from "./errors";
import { GptHeader, readGptEntries, type GptEntry } from "./gpt";
import { GPT_TYPES, MBR_EXTENDED, MBR_TYPES } from "./partition-types";
import { readUpTo, type ByteSource } from "./source";

export interface Partition {
  /** Linux numbering: GPT entry index; MBR 1–4 primary, 5… logical. */
  number: number;
  /** Byte offset of the partition on the virtual disk. */
  start: number;
  /** Size in bytes. */
  size: number;
  /** GPT type GUID, or the MBR type byte as two hex digits ("83"). */
  type: string;
  typeName: string;
  /** GPT partition name. */
  name?: string;
  /** GPT unique partition GUID. */
  uuid?: string;
  bootable?: boolean;
}

export interface PartitionTable {
  scheme: "gpt" | "mbr" | "none";
  sectorSize: number;
  /** GPT disk GUID, or the MBR disk signature as 0x-prefixed hex. */
  diskId?: string;
  partitions: Partition[];
  /** Facts a user may want to act on: a damaged primary GPT, a backup not at the end of the disk, a hybrid MBR. */
  notes: string[];
  /** What sits at the start of a disk that has no partition table: a bare filesystem or LVM physical volume. */
  bare?: string;
}

const SECTOR_SIZES = [512, 4096];

function truncated(file: string, what: string, end: number, size: number): ImageError {
  return new ImageError(
    `${file}: ${what} ends at byte ${end}, but the virtual disk has only ${size} bytes; the image is truncated or its partition table is wrong`,
    {
      file,
      offset: size,
      fix: "re-create or re-download the image; if you shrank the disk, shrink the partitions first (resize2fs, then sgdisk or parted)",
      code: "truncated",
    },
  );
}

async function readGpt(disk: ByteSource, file: string): Promise<PartitionTable | null> {
  for (const ss of SECTOR_SIZES) {
    if (disk.size < ss * 3) continue;
    const lba1 = await disk.read(ss, ss);
    const primary = GptHeader.parse(lba1, 1, file, ss);
    const sig = lba1.toString("latin1", 0, 8);
    if (!primary && sig !== "EFI PART") continue;
    const notes: string[] = [];
    let header = primary;
    let entries: GptEntry[] | null = primary ? await readGptEntries(disk, primary, ss, file) : null;
    const lastLba = Math.floor(disk.size / ss) - 1;
    if (primary && primary.alternateLba > lastLba)
      throw truncated(file, `the GPT (backup header at LBA ${primary.alternateLba})`, (primary.alternateLba + 1) * ss, disk.size);
    const backupLba = primary ? primary.alternateLba : lastLba;
    const backup = GptHeader.parse(await disk.read(backupLba * ss, ss), backupLba, file, ss);
    if (!header || !entries) {
      if (!backup) {
        throw new ImageError(`${file}: the GPT at LBA 1 (${ss}-byte sectors) is damaged and no valid backup GPT was found at LBA ${backupLba}`, {
          file,
          offset: ss,
          fix: "repair the partition table with gdisk (its recovery menu rebuilds from whichever copy survives), or re-create the image",
          code: "gpt-corrupt",
        });
      }
      entries = await readGptEntries(disk, backup, ss, file);
      if (!entries) {
        throw new ImageError(`${file}: both GPT partition entry arrays fail their CRC-32 check`, {
          file,
          offset: ss,
          fix: "repair the partition table with gdisk, or re-create the image",
          code: "gpt-corrupt",
        });
      }
      header = backup;
      notes.push(`primary GPT header or entries at LBA 1 are damaged; read the backup at LBA ${backupLba} (repair with: sgdisk -e, or gdisk's recovery menu)`);
    } else if (!backup) {
      notes.push(`no valid backup GPT header at LBA ${backupLba} (after growing a disk, sgdisk -e moves it to the end)`);
    } else if (backupLba !== lastLba) {
      notes.push(`backup GPT header is at LBA ${backupLba}, not the disk's last LBA ${lastLba} (the disk was grown; sgdisk -e moves it)`);
    }
    const partitions = entries.map((e): Partition => {
      const end = (e.lastLba + 1) * ss;
      if (end > disk.size) throw truncated(file, `GPT partition ${e.number}`, end, disk.size);
      return {
        number: e.number,
        start: e.firstLba * ss,
        size: (e.lastLba - e.firstLba + 1) * ss,
        type: e.typeGuid,
        typeName: GPT_TYPES[e.typeGuid] ?? "unknown",
        name: e.name,
        uuid: e.uniqueGuid,
      };
    });
    const mbr = await disk.read(0, 512);
    if (mbr.readUInt16LE(510) === 0xaa55) {
      const types = [0, 1, 2, 3].map((i) => mbr[446 + i * 16 + 4]).filter((t) => t !== 0);
      if (types.length > 1 && types.includes(0xee)) notes.push("hybrid MBR: the MBR lists partitions besides the GPT protective entry");
      else if (!types.includes(0xee))
        notes.push(
          "the MBR has no GPT protective (0xEE) entry; some firmware will not see the GPT (gdisk's expert menu, command n, writes a fresh protective MBR)",
        );
    }
    return { scheme: "gpt", sectorSize: ss, diskId: header.diskGuid, partitions, notes };
  }
  return null;
}

async function readMbr(disk: ByteSource, file: string, sector: Buffer): Promise<PartitionTable | null> {
  if (sector.length < 512 || sector.readUInt16LE(510) !== 0xaa55) return null;
  const entries = [0, 1, 2, 3].map((i) => sector.subarray(446 + i * 16, 462 + i * 16));
  if (entries.some((e) => e[0] !== 0 && e[0] !== 0x80)) return null; // a boot sector of a bare filesystem, not an MBR
  const partitions: Partition[] = [];
  const check = (p: Partition) => {
    // A protective entry may claim more than the disk (it is capped at 2^32 sectors anyway); the GPT reader checks the real extent.
    if (p.type !== "ee" && p.start + p.size > disk.size) throw truncated(file, `MBR partition ${p.number}`, p.start + p.size, disk.size);
    partitions.push(p);
  };
  let extended: { start: number; size: number } | null = null;
  entries.forEach((e, i) => {
    const type = e[4];
    const sectors = e.readUInt32LE(12);
    if (type === 0 || sectors === 0) return;
    const p: Partition = {
      number: i + 1,
      start: e.readUInt32LE(8) * 512,
      size: sectors * 512,
      type: type.toString(16).padStart(2, "0"),
      typeName: MBR_TYPES[type] ?? "unknown",
      bootable: e[0] === 0x80,
    };
    check(p);
    if (MBR_EXTENDED.has(type) && !extended) extended = { start: p.start, size: p.size };
  });
  const ext = extended as { start: number; size: number } | null;
  if (ext) {
    // Walk the chain of extended boot records; each holds one logical partition and a link to the next.
    let ebr = ext.start;
    let number = 5;
    const seen = new Set<number>();
    while (ebr && !seen.has(ebr) && seen.size < 256) {
      seen.add(ebr);
      if (ebr + 512 > disk.size) throw truncated(file, `extended boot record for partition ${number}`, ebr + 512, disk.size);
      const rec = await disk.read(ebr, 512);
      if (rec.readUInt16LE(510) !== 0xaa55) break;
      const logical = rec.subarray(446, 462);
      const link = rec.subarray(462, 478);
      if (logical[4] !== 0 && logical.readUInt32LE(12) !== 0) {
        check({
          number: number++,
          start: ebr + logical.readUInt32LE(8) * 512,
          size: logical.readUInt32LE(12) * 512,
          type: logical[4].toString(16).padStart(2, "0"),
          typeName: MBR_TYPES[logical[4]] ?? "unknown",
          bootable: logical[0] === 0x80,
        });
      }
      ebr = link[4] !== 0 && MBR_EXTENDED.has(link[4]) ? ext.start + link.readUInt32LE(8) * 512 : 0;
    }
  }
  return { scheme: "mbr", sectorSize: 512, diskId: `0x${sector.readUInt32LE(440).toString(16).padStart(8, "0")}`, partitions, notes: [] };
}

/** What a disk without a partition table starts with, for the error that names it. */
async function bareContent(disk: ByteSource): Promise<string | undefined> {
  const head = await readUpTo(disk, 0, 0x10048);
  if (head.length >= 1082 && head.readUInt16LE(1080) === 0xef53) return "an ext2/3/4 filesystem";
  if (head.toString("latin1", 0, 4) === "XFSB") return "an XFS filesystem";
  if (head.length >= 0x10048 && head.toString("latin1", 0x10040, 0x10048) === "_BHRfS_M") return "a btrfs filesystem";
  if (head.toString("latin1", 512, 520) === "LABELONE") return "an LVM physical volume";
  if (head.length >= 512 && head.readUInt16LE(510) === 0xaa55) return "a FAT or other boot sector";
  return undefined;
}

export async function readPartitionTable(disk: ByteSource, file: string): Promise<PartitionTable> {
  const sector0 = await readUpTo(disk, 0, 512);
  const mbr = await readMbr(disk, file, sector0);
  const protective = mbr?.partitions.some((p) => p.type === "ee");
  if (!mbr || protective) {
    const gpt = await readGpt(disk, file);
    if (gpt) return gpt;
  }
  if (mbr && !protective) return mbr;
  if (mbr && protective) {
    throw new ImageError(`${file}: the MBR is a GPT protective MBR, but no GPT header was found at LBA 1 (512- or 4096-byte sectors)`, {
      file,
      offset: 512,
      fix: "repair the partition table with gdisk (its recovery menu can rebuild the GPT), or re-create the image",
      code: "gpt-corrupt",
    });
  }
  return { scheme: "none", sectorSize: 512, partitions: [], notes: [], bare: await bareContent(disk) };
}
