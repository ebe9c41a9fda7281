// Finds the guest's root filesystem: the GPT root type, /etc/fstab, or the Linux partition that holds /etc/os-release.
//
// Every partition is identified as blkid identifies it (fstype.ts: the magic numbers; UUID and label from the
// superblock); LVM physical volumes are opened and their linear logical volumes added after the partitions (../lvm.ts),
// so that fstab's and the kernel's names for a volume (/dev/mapper/…, /dev/VG/LV, UUID=) resolve to its filesystem.
import type { VirtualDisk } from "../disk";
import { Ext4 } from "../ext4";
import { ImageError } from "../errors";
import { logicalVolumes, readPhysicalVolume, type PhysicalVolume } from "../lvm";
import type { Partition, PartitionTable } from "../partitions";
import { ChunkCacheSource, SliceSource, type ByteSource } from "../source";
import { sniffFilesystem, volumeIds, type FsType } from "./fstype";

export interface GuestPartition {
  /** Partition number, or 0 for a disk without a partition table. */
  number: number;
  fsType: FsType;
  typeName: string;
  /** The filesystem's UUID and label, as blkid reports them (fstab's UUID= and LABEL=). */
  uuid?: string;
  label?: string;
  /** GPT unique partition GUID and name (fstab's PARTUUID= and PARTLABEL=). */
  partUuid?: string;
  partLabel?: string;
  /** For an LVM logical volume (whose `number` is the partition holding its first extent): its names and ids. */
  volume?: { vg: string; lv: string; dmName: string; vgId: string; lvId: string };
  /** Set for ext filesystems that opened cleanly. */
  ext?: Ext4;
  /** Why an ext filesystem could not be opened. */
  error?: ImageError;
}

export interface Guest {
  partitions: GuestPartition[];
  /** The partition whose filesystem holds /etc/os-release (an ext one we can read), if any. */
  root?: GuestPartition & { ext: Ext4 };
  /** The partition DigitalOcean would boot as root when we cannot read it (GPT root type, or a Linux partition). */
  unreadableRoot?: GuestPartition;
}

const GPT_ROOT_TYPES = new Set([
  "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
  "44479540-F297-41B2-9AF7-D131D5F0458A",
  "B921B045-1DF0-41C3-AF44-4C6F280D3FAE",
  "69DAD710-2CE4-4E3C-B16C-21A1D49ABED3",
]);

export async function findGuest(disk: VirtualDisk, table: PartitionTable): Promise<Guest> {
  const slices =
    table.partitions.length > 0
      ? table.partitions
          .filter((p) => p.type !== "05" && p.type !== "0f" && p.type !== "85" && p.size > 0)
          .map((p) => ({
            p: p as Pick<Partition, "number" | "typeName" | "uuid" | "name">,
            // the checks walk thousands of small inodes and files: read them through a bounded chunk cache
            src: new ChunkCacheSource(new SliceSource(disk, p.start, p.size, `partition ${p.number} of ${disk.name}`)),
          }))
      : [{ p: { number: 0, typeName: "whole disk" } as Pick<Partition, "number" | "typeName" | "uuid" | "name">, src: disk as ByteSource }];
  const partitions: GuestPartition[] = [];
  const pvs: { pv: PhysicalVolume; source: ByteSource; partition: number }[] = [];
  for (const { p, src } of slices) {
    const fsType = await sniffFilesystem(src);
    const gp: GuestPartition = { number: p.number, fsType, typeName: p.typeName, partUuid: p.uuid, partLabel: p.name, ...(await volumeIds(src, fsType)) };
    await openExt(gp, src, `partition ${p.number}`);
    if (fsType === "lvm") {
      // A PV whose label or metadata we cannot read stays opaque, as before: what it holds is left to a boot.
      const pv = await readPhysicalVolume(src).catch((err: unknown) => {
        if (err instanceof ImageError) return undefined;
        throw err;
      });
      if (pv) pvs.push({ pv, source: src, partition: p.number });
    }
    partitions.push(gp);
  }
  // Logical volumes come after every partition: a partition number finds the partition, not a volume on it.
  let volumes: ReturnType<typeof logicalVolumes> = [];
  try {
    volumes = logicalVolumes(pvs);
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
  }
  for (const lv of volumes) {
    const volume = { vg: lv.vg, lv: lv.name, dmName: lv.dmName, vgId: lv.vgId, lvId: lv.lvId };
    const number = pvs[lv.on]?.partition ?? 0;
    if (!lv.source) {
      partitions.push({ number, volume, fsType: "unknown", typeName: `LVM logical volume ${lv.vg}/${lv.name} (${lv.unmapped})` });
      continue;
    }
    const fsType = await sniffFilesystem(lv.source);
    const gp: GuestPartition = { number, volume, fsType, typeName: `LVM logical volume ${lv.vg}/${lv.name}`, ...(await volumeIds(lv.source, fsType)) };
    await openExt(gp, lv.source, `logical volume ${lv.vg}/${lv.name}`);
    partitions.push(gp);
  }
  const isRootType = (n: number) => GPT_ROOT_TYPES.has(table.partitions.find((p) => p.number === n)?.type ?? "");
  // Prefer a partition typed as root, then any ext filesystem, that holds /etc/os-release.
  const candidates = [...partitions].sort((a, b) => Number(isRootType(b.number)) - Number(isRootType(a.number)));
  for (const gp of candidates) {
    if (gp.ext && (await gp.ext.type("/etc/os-release")) === "file") return { partitions, root: gp as GuestPartition & { ext: Ext4 } };
  }
  // Nothing readable holds a root: name what most likely is one, so the verdict says what it is.
  const unreadableRoot =
    partitions.find((gp) => isRootType(gp.number) && gp.fsType !== "ext") ??
    partitions.find((gp) => ["xfs", "btrfs", "luks"].includes(gp.fsType)) ??
    partitions.find((gp) => gp.fsType === "lvm") ??
    partitions.find((gp) => gp.ext || gp.error);
  return { partitions, unreadableRoot };
}

async function openExt(gp: GuestPartition, src: ByteSource, name: string): Promise<void> {
  if (gp.fsType !== "ext") return;
  try {
    gp.ext = await Ext4.open(src, name);
    gp.uuid = gp.ext.info.uuid;
    gp.label = gp.ext.info.label;
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    gp.error = err;
  }
}

/** How messages name a partition or logical volume: "partition 2", "logical volume vg0/root (LVM on partition 3)". */
export const placeOf = (p: GuestPartition): string =>
  p.volume ? `logical volume ${p.volume.vg}/${p.volume.lv} (LVM on partition ${p.number})` : `partition ${p.number}`;

/**
 * Whether a partition holds a filesystem our reading cannot open, so what a boot loader finds there is unknown: not
 * ext (which we read), not empty or swap, and not a BIOS boot partition (GRUB's core image, no filesystem).
 */
export const opaquePartition = (p: GuestPartition): boolean => !p.ext && !["empty", "swap"].includes(p.fsType) && p.typeName !== "BIOS boot";

/** Splits a text file into lines with their 1-based numbers, for evidence. */
export function lines(text: string): { line: number; text: string }[] {
  return text.split("\n").map((t, i) => ({ line: i + 1, text: t }));
}
