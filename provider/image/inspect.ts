// `inspect`: the facts about an image (format, sizes, partitions) from its metadata alone, plus the size finding.
import type { Compression, ContainerFormat } from "./disk";
import { ImageError } from "./errors";
import { judgeVirtualSize, type Finding } from "./limits";
import { openImage, type OpenOptions } from "./open";
import { readPartitionTable, type PartitionTable } from "./partitions";

export interface InspectReport {
  file: string;
  format: ContainerFormat;
  formatDetails: Record<string, string | number | boolean>;
  compression: Compression;
  /** Bytes of the file as given. */
  fileSize: number;
  /** The guest disk's size in bytes. */
  virtualSize: number;
  /** Bytes of guest data the container stores. */
  allocatedBytes: number;
  partitionTable: PartitionTable;
  findings: Finding[];
}

export function partitionFindings(table: PartitionTable): Finding[] {
  if (table.scheme !== "none") return [];
  if (table.bare) {
    return [
      {
        severity: "error",
        code: "no-partition-table",
        message: `the disk holds ${table.bare} with no partition table around it; DigitalOcean needs an MBR or GPT disk`,
        fix: "put it in a partitioned disk: truncate -s +2M disk.raw; sgdisk -n 1:2048:0 disk.raw; then copy the filesystem in at 1 MiB (dd if=fs.img of=disk.raw bs=1M seek=1 conv=notrunc) and install a boot loader",
      },
    ];
  }
  return [
    {
      severity: "error",
      code: "no-partition-table",
      message: "no partition table: no MBR signature at byte 510 and no GPT header at LBA 1",
      fix: "pass a bootable disk image with an MBR or GPT partition table (for example one built by Packer or virt-install)",
    },
  ];
}

export async function inspectImage(path: string, options: OpenOptions = {}): Promise<InspectReport> {
  const image = await openImage(path, options);
  try {
    const { disk } = image;
    // The container's block map first: damage to the container makes the file unreadable (exit 2), as in validate.
    const allocatedBytes = await disk.allocatedBytes();
    // A partition table that cannot be read is a finding about the guest disk, as validate's partition-table check
    // fails on it (exit 1); one that runs past the end of the disk says the file was cut short (exit 2 in both).
    let partitionTable: PartitionTable;
    const damaged: Finding[] = [];
    try {
      partitionTable = await readPartitionTable(disk, disk.name);
    } catch (err) {
      if (!(err instanceof ImageError) || err.code === "truncated") throw err;
      partitionTable = { scheme: "none", sectorSize: 512, partitions: [], notes: [] };
      damaged.push({ severity: "error", code: err.code, message: err.message, fix: err.fix });
    }
    const findings = [judgeVirtualSize(disk.size), ...(damaged.length > 0 ? damaged : partitionFindings(partitionTable))].filter(
      (f): f is Finding => f !== null,
    );
    return {
      file: path,
      format: disk.format,
      formatDetails: { ...disk.details },
      compression: image.compression,
      fileSize: image.fileSize,
      virtualSize: disk.size,
      allocatedBytes,
      partitionTable,
      findings,
    };
  } finally {
    await image.close();
  }
}
