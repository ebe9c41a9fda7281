// Reader for VHDX images (Microsoft's [MS-VHDX] v1), dynamic and fixed, written here: no Node library reads VHDX.
import { diskSize, guidToString, isZero, readU64LE } from "../bytes";
import { crc32c } from "../codecs/crc32c";
import { checkWithinFile, readMapped, readMappedInto, type BlockLocation, type VirtualDisk } from "../disk";
import { ImageError } from "../errors";
import type { HostSource } from "../source";

export const VHDX_SIGNATURE = "vhdxfile";
const HEADER_OFFSETS = [64 * 1024, 128 * 1024];
const REGION_TABLE_OFFSETS = [192 * 1024, 256 * 1024];
const HEADER_SIZE = 4096;
const REGION_TABLE_SIZE = 64 * 1024;
const MiB = 1024 * 1024;

const BAT_GUID = "2DC27766-F623-4200-9D64-115E9BFD4A08";
const METADATA_GUID = "8B7CA206-4790-4B9A-B8FE-575F050F886E";
const FILE_PARAMETERS = "CAA16737-FA36-4D43-B3B6-33F0AA44E76B";
const VIRTUAL_DISK_SIZE = "2FA54224-CD1B-4876-B211-5DBED83BF4B8";
const LOGICAL_SECTOR_SIZE = "8141BF1D-A96F-4709-BA47-F233A8FAAB5F";

// Payload block states in the low 3 bits of a BAT entry.
const PAYLOAD_FULLY_PRESENT = 6;
const PAYLOAD_PARTIALLY_PRESENT = 7;

export interface VhdxHeader {
  offset: number;
  sequenceNumber: bigint;
  logGuid: string;
  logLength: number;
  logOffset: number;
  version: number;
}

export const VhdxHeader = {
  /** Parses one of the two headers, or returns null when its signature or CRC-32C does not hold. */
  parse(buf: Buffer, offset: number, file: string): VhdxHeader | null {
    if (buf.toString("latin1", 0, 4) !== "head") return null;
    const copy = Buffer.from(buf.subarray(0, HEADER_SIZE));
    const stored = copy.readUInt32LE(4);
    copy.writeUInt32LE(0, 4);
    if (crc32c(copy) !== stored) return null;
    return {
      offset,
      sequenceNumber: buf.readBigUInt64LE(8),
      logGuid: isZero(buf.subarray(48, 64)) ? "" : guidToString(buf, 48),
      version: buf.readUInt16LE(66),
      logLength: buf.readUInt32LE(68),
      logOffset: readU64LE(buf, 72, "LogOffset", { file, offset }),
    };
  },
};

interface RegionEntry {
  guid: string;
  fileOffset: number;
  length: number;
}

function parseRegionTable(buf: Buffer, offset: number, file: string): RegionEntry[] | null {
  if (buf.toString("latin1", 0, 4) !== "regi") return null;
  const copy = Buffer.from(buf);
  const stored = copy.readUInt32LE(4);
  copy.writeUInt32LE(0, 4);
  if (crc32c(copy) !== stored) return null;
  const count = buf.readUInt32LE(8);
  if (count > 2047) return null;
  const entries: RegionEntry[] = [];
  for (let i = 0; i < count; i++) {
    const e = 16 + i * 32;
    entries.push({ guid: guidToString(buf, e), fileOffset: readU64LE(buf, e + 16, "region FileOffset", { file, offset }), length: buf.readUInt32LE(e + 24) });
  }
  return entries;
}

export class VhdxDisk implements VirtualDisk {
  readonly format = "vhdx" as const;
  readonly name: string;
  readonly details: Record<string, string | number | boolean>;

  private constructor(
    private readonly host: HostSource,
    readonly size: number,
    private readonly blockSize: number,
    private readonly chunkRatio: number,
    private readonly bat: BigUint64Array,
    subformat: string,
    logicalSectorSize: number,
  ) {
    this.name = `vhdx virtual disk of ${host.name}`;
    this.details = { subformat, blockSize, logicalSectorSize };
  }

  static async open(host: HostSource): Promise<VhdxDisk> {
    const file = host.name;
    const corrupt = (what: string, offset: number): never => {
      throw new ImageError(`${file}: ${what}`, {
        file,
        offset,
        fix: `the file is damaged or truncated; re-create it with qemu-img convert -O vhdx ${file} out.vhdx`,
        code: "vhdx-corrupt",
      });
    };
    checkWithinFile(host, "VHDX headers and region tables", 0, REGION_TABLE_OFFSETS[1] + REGION_TABLE_SIZE);
    const headers: VhdxHeader[] = [];
    for (const off of HEADER_OFFSETS) {
      const h = VhdxHeader.parse(await host.read(off, HEADER_SIZE), off, file);
      if (h) headers.push(h);
    }
    if (headers.length === 0) corrupt("neither VHDX header (at 64 KiB and 128 KiB) has a valid signature and CRC-32C", HEADER_OFFSETS[0]);
    // The current header is the valid one with the larger sequence number.
    const header = headers.reduce((a, b) => (b.sequenceNumber > a.sequenceNumber ? b : a));
    if (header.version !== 1) corrupt(`VHDX header at offset ${header.offset} has version ${header.version} (expected 1)`, header.offset + 66);
    if (header.logGuid) {
      throw new ImageError(
        `VHDX header of ${file} at offset ${header.offset}: the log (GUID ${header.logGuid}, ${header.logLength} bytes at offset ${header.logOffset}) holds writes that were never applied, because the image was not closed cleanly`,
        {
          file,
          offset: header.offset + 48,
          fix: `replay the log by opening the image read-write once: attach and detach it in Hyper-V, or run qemu-img check -r all ${file}`,
          code: "vhdx-log-replay",
        },
      );
    }
    let regions: RegionEntry[] | null = null;
    for (const off of REGION_TABLE_OFFSETS) {
      regions = parseRegionTable(await host.read(off, REGION_TABLE_SIZE), off, file);
      if (regions) break;
    }
    if (!regions) return corrupt("neither VHDX region table (at 192 KiB and 256 KiB) has a valid signature and CRC-32C", REGION_TABLE_OFFSETS[0]);
    const batRegion = regions.find((r) => r.guid === BAT_GUID);
    const metaRegion = regions.find((r) => r.guid === METADATA_GUID);
    if (!batRegion || !metaRegion) return corrupt("the VHDX region table lacks the BAT or metadata region", REGION_TABLE_OFFSETS[0]);

    checkWithinFile(host, "VHDX metadata region", metaRegion.fileOffset, metaRegion.length);
    const meta = await host.read(metaRegion.fileOffset, metaRegion.length);
    if (meta.toString("latin1", 0, 8) !== "metadata") corrupt(`no VHDX metadata table at offset ${metaRegion.fileOffset}`, metaRegion.fileOffset);
    const items = new Map<string, Buffer>();
    const count = meta.readUInt16LE(10);
    for (let i = 0; i < count; i++) {
      const e = 32 + i * 32;
      const off = meta.readUInt32LE(e + 16);
      const len = meta.readUInt32LE(e + 20);
      if (off + len > meta.length) corrupt(`VHDX metadata item ${guidToString(meta, e)} runs past its region`, metaRegion.fileOffset + e);
      items.set(guidToString(meta, e), meta.subarray(off, off + len));
    }
    const params = items.get(FILE_PARAMETERS);
    const sizeItem = items.get(VIRTUAL_DISK_SIZE);
    const sectorItem = items.get(LOGICAL_SECTOR_SIZE);
    if (!params || !sizeItem || !sectorItem)
      return corrupt("VHDX metadata lacks File Parameters, Virtual Disk Size or Logical Sector Size", metaRegion.fileOffset);
    const blockSize = params.readUInt32LE(0);
    const flags = params.readUInt32LE(4);
    if (flags & 2) {
      throw new ImageError(`${file} is a differencing VHDX whose data is split with a parent image`, {
        file,
        offset: metaRegion.fileOffset,
        fix: `merge it into one file: qemu-img convert -O vhdx ${file} merged.vhdx (with the parent next to it)`,
        code: "vhdx-differencing",
      });
    }
    const size = diskSize(sizeItem.readBigUInt64LE(0), "VirtualDiskSize", { file, offset: metaRegion.fileOffset });
    const logicalSectorSize = sectorItem.readUInt32LE(0);
    if (blockSize < MiB || blockSize > 256 * MiB || (blockSize & (blockSize - 1)) !== 0)
      corrupt(`VHDX block size ${blockSize} is invalid`, metaRegion.fileOffset);
    if (logicalSectorSize !== 512 && logicalSectorSize !== 4096) corrupt(`VHDX logical sector size ${logicalSectorSize} is invalid`, metaRegion.fileOffset);
    const chunkRatio = (2 ** 23 * logicalSectorSize) / blockSize;
    const dataBlocks = Math.ceil(size / blockSize);
    const batEntries = dataBlocks + Math.floor((dataBlocks - 1) / chunkRatio);
    if (batEntries * 8 > batRegion.length) corrupt(`VHDX BAT region (${batRegion.length} bytes) is too small for ${dataBlocks} blocks`, batRegion.fileOffset);
    checkWithinFile(host, "VHDX BAT", batRegion.fileOffset, batEntries * 8);
    const raw = await host.read(batRegion.fileOffset, batEntries * 8);
    const bat = new BigUint64Array(batEntries);
    for (let i = 0; i < batEntries; i++) bat[i] = raw.readBigUInt64LE(i * 8);
    const subformat = flags & 1 ? "fixed" : "dynamic";
    return new VhdxDisk(host, size, blockSize, chunkRatio, bat, subformat, logicalSectorSize);
  }

  private entry(block: number): bigint {
    return this.bat[block + Math.floor(block / this.chunkRatio)];
  }

  private locate = (block: number): BlockLocation => {
    const e = this.entry(block);
    const state = Number(e & 7n);
    if (state === PAYLOAD_PARTIALLY_PRESENT) {
      throw new ImageError(`${this.host.name}: VHDX block ${block} is partially present, which only differencing disks use`, {
        file: this.host.name,
        fix: `merge it: qemu-img convert -O vhdx ${this.host.name} merged.vhdx`,
        code: "vhdx-differencing",
      });
    }
    if (state !== PAYLOAD_FULLY_PRESENT) return { kind: "zero" };
    const offset = Number(e >> 20n) * MiB;
    checkWithinFile(this.host, `VHDX payload block ${block}`, offset, this.blockSize);
    return { kind: "host", offset };
  };

  read(offset: number, length: number): Promise<Buffer> {
    return readMapped(this, this.host, this.blockSize, this.locate, offset, length);
  }

  readInto(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    return readMappedInto(this, this.host, this.blockSize, this.locate, target, targetOffset, position, length);
  }

  async allocatedBytes(): Promise<number> {
    let n = 0;
    const blocks = Math.ceil(this.size / this.blockSize);
    for (let b = 0; b < blocks; b++) if (this.locate(b).kind === "host") n++;
    return Math.min(n * this.blockSize, this.size);
  }

  close(): Promise<void> {
    return this.host.close();
  }
}
