// Reader for VMDK hosted sparse extents (monolithicSparse, streamOptimized), after VMware's Virtual Disk Format 5.0 spec.
import { readU64LE } from "../bytes";
import { checkWithinFile, LruCache, readMapped, readMappedInto, type BlockLocation, type VirtualDisk } from "../disk";
import { ImageError } from "../errors";
import type { HostSource } from "../source";
import { zlib } from "../codecs/zlib";

export const VMDK_MAGIC = 0x564d444b; // "KDMV" read little-endian
export const VMDK_DESCRIPTOR_TEXT = "# Disk DescriptorFile";
const SECTOR = 512;
const HEADER_SIZE = 512;
const GD_AT_END = 0xffffffffffffffffn;
const FLAG_COMPRESSED = 1 << 16;
const FLAG_MARKERS = 1 << 17;
const COMPRESSION_DEFLATE = 1;

export interface VmdkSparseHeader {
  version: number;
  flags: number;
  capacitySectors: number;
  grainSectors: number;
  descriptorOffset: number;
  descriptorSize: number;
  numGTEsPerGT: number;
  gdOffset: bigint;
  compressAlgorithm: number;
}

export const VmdkSparseHeader = {
  parse(buf: Buffer, file: string, offset: number): VmdkSparseHeader {
    const where = { file, offset };
    if (buf.readUInt32LE(0) !== VMDK_MAGIC) {
      throw new ImageError(`${file}: no VMDK sparse header (KDMV) at offset ${offset}`, { file, offset, fix: "pass a VMDK image" });
    }
    return {
      version: buf.readUInt32LE(4),
      flags: buf.readUInt32LE(8),
      capacitySectors: readU64LE(buf, 12, "capacity", where),
      grainSectors: readU64LE(buf, 20, "grainSize", where),
      descriptorOffset: readU64LE(buf, 28, "descriptorOffset", where),
      descriptorSize: readU64LE(buf, 36, "descriptorSize", where),
      numGTEsPerGT: buf.readUInt32LE(44),
      gdOffset: buf.readBigUInt64LE(56),
      compressAlgorithm: buf.readUInt16LE(77),
    };
  },
};

/** A parsed VMDK text descriptor: its createType and the extent files it references. */
export interface VmdkDescriptor {
  createType: string;
  extents: { access: string; sectors: number; type: string; file: string }[];
}

function parseVmdkDescriptor(text: string): VmdkDescriptor {
  const createType = /^\s*createType\s*=\s*"?([^"\s]+)"?/m.exec(text)?.[1] ?? "unknown";
  const extents: VmdkDescriptor["extents"] = [];
  for (const m of text.matchAll(/^\s*(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)\s+"([^"]*)"/gm)) {
    extents.push({ access: m[1], sectors: Number(m[2]), type: m[3], file: m[4] });
  }
  return { createType, extents };
}

/** Refuses a descriptor-only VMDK (flat, split, or pointing at other files), naming what it references. */
export function refuseDescriptorVmdk(text: string, file: string): never {
  const d = parseVmdkDescriptor(text);
  const files = d.extents.map((e) => `"${e.file}"`).join(", ") || "(no extents listed)";
  throw new ImageError(
    `${file} is a VMDK descriptor (createType "${d.createType}") whose data lives in other files: ${files}; DigitalOcean imports one self-contained file`,
    {
      file,
      offset: 0,
      fix: `convert it into one file next to those extents: qemu-img convert -O vmdk -o subformat=streamOptimized ${file} single.vmdk (or -O qcow2)`,
      code: "vmdk-external-extents",
    },
  );
}

export class VmdkDisk implements VirtualDisk {
  readonly format = "vmdk" as const;
  readonly name: string;
  readonly size: number;
  readonly details: Record<string, string | number | boolean>;
  private readonly grainSize: number;
  private readonly gtCoverage: number;
  private readonly gtCache = new LruCache<Uint32Array>(64);
  private readonly grainCache = new LruCache<Buffer>(4);

  private constructor(
    private readonly host: HostSource,
    private readonly header: VmdkSparseHeader,
    private readonly gd: Uint32Array,
    createType: string,
  ) {
    this.name = `vmdk virtual disk of ${host.name}`;
    this.size = header.capacitySectors * SECTOR;
    this.grainSize = header.grainSectors * SECTOR;
    this.gtCoverage = header.numGTEsPerGT * this.grainSize;
    this.details = { subformat: createType, version: header.version, grainSize: this.grainSize, compressed: this.compressed };
  }

  private get compressed(): boolean {
    return (this.header.flags & FLAG_COMPRESSED) !== 0;
  }

  static async open(host: HostSource): Promise<VmdkDisk> {
    const file = host.name;
    checkWithinFile(host, "VMDK sparse header", 0, HEADER_SIZE);
    let header = VmdkSparseHeader.parse(await host.read(0, HEADER_SIZE), file, 0);
    let createType = "monolithicSparse";
    if (header.descriptorOffset > 0 && header.descriptorSize > 0) {
      checkWithinFile(host, "VMDK embedded descriptor", header.descriptorOffset * SECTOR, header.descriptorSize * SECTOR);
      const text = (await host.read(header.descriptorOffset * SECTOR, header.descriptorSize * SECTOR)).toString("latin1").replace(/\0.*$/s, "");
      const d = parseVmdkDescriptor(text);
      createType = d.createType;
      const foreign = d.extents.filter((e) => e.type !== "SPARSE" && e.type !== "ZERO");
      if (d.extents.filter((e) => e.type === "SPARSE").length > 1 || foreign.length > 0) refuseDescriptorVmdk(text, file);
    }
    if (header.gdOffset === GD_AT_END) {
      // streamOptimized: the real header is the footer, 1024 bytes before the end (footer marker, footer, end-of-stream marker).
      checkWithinFile(host, "VMDK footer", host.size - 1024, HEADER_SIZE);
      const footerOffset = host.size - 1024;
      const footer = await host.read(footerOffset, HEADER_SIZE);
      if (footer.readUInt32LE(0) !== VMDK_MAGIC) {
        throw new ImageError(
          `${file}: streamOptimized VMDK has no footer at offset ${footerOffset} (its grain directory is written there); the file is truncated`,
          {
            file,
            offset: footerOffset,
            fix: "copy the image again; the end of the file is missing",
            code: "truncated",
          },
        );
      }
      header = VmdkSparseHeader.parse(footer, file, footerOffset);
      if (createType === "monolithicSparse") createType = "streamOptimized";
    }
    if (header.flags & FLAG_COMPRESSED && header.compressAlgorithm !== COMPRESSION_DEFLATE) {
      throw new ImageError(`${file}: VMDK compression algorithm ${header.compressAlgorithm} at offset 77 is unknown (expected 1, deflate)`, {
        file,
        offset: 77,
        fix: `convert it: qemu-img convert -O qcow2 ${file} out.qcow2`,
        code: "vmdk-compression",
      });
    }
    if (header.grainSectors === 0 || header.numGTEsPerGT === 0 || header.gdOffset === GD_AT_END) {
      throw new ImageError(`${file}: VMDK header has grainSize ${header.grainSectors} and numGTEsPerGT ${header.numGTEsPerGT}; the header is corrupt`, {
        file,
        offset: 20,
        fix: `re-create the image: qemu-img convert -O vmdk ${file} out.vmdk`,
        code: "vmdk-corrupt",
      });
    }
    // qemu's own bounds (block/vmdk.c): a grain over 1 GiB (0x200000 sectors) or a grain table over 512 entries is a
    // corrupt header, refused before anything that size is allocated
    if (header.grainSectors > 0x200000 || header.numGTEsPerGT > 512) {
      throw new ImageError(
        `${file}: VMDK header has grainSize ${header.grainSectors} sectors and numGTEsPerGT ${header.numGTEsPerGT}; qemu refuses grains over 0x200000 sectors and grain tables over 512 entries, so the header is corrupt`,
        { file, offset: 20, fix: `re-create the image: qemu-img convert -O vmdk ${file} out.vmdk`, code: "vmdk-corrupt" },
      );
    }
    const gdEntries = Math.ceil(header.capacitySectors / (header.grainSectors * header.numGTEsPerGT));
    const gdOffset = Number(header.gdOffset) * SECTOR;
    checkWithinFile(host, "VMDK grain directory", gdOffset, gdEntries * 4);
    const gdBuf = await host.read(gdOffset, gdEntries * 4);
    const gd = new Uint32Array(gdEntries);
    for (let i = 0; i < gdEntries; i++) gd[i] = gdBuf.readUInt32LE(i * 4);
    return new VmdkDisk(host, header, gd, createType);
  }

  private async grainTable(index: number): Promise<Uint32Array | null> {
    const sector = this.gd[index];
    if (!sector) return null;
    const cached = this.gtCache.get(index);
    if (cached) return cached;
    const bytes = this.header.numGTEsPerGT * 4;
    checkWithinFile(this.host, `VMDK grain table ${index}`, sector * SECTOR, bytes);
    const buf = await this.host.read(sector * SECTOR, bytes);
    const gt = new Uint32Array(this.header.numGTEsPerGT);
    for (let i = 0; i < gt.length; i++) gt[i] = buf.readUInt32LE(i * 4);
    this.gtCache.set(index, gt);
    return gt;
  }

  private locate = async (grain: number): Promise<BlockLocation> => {
    const gdIndex = Math.floor(grain / this.header.numGTEsPerGT);
    const gt = await this.grainTable(gdIndex);
    if (!gt) return { kind: "zero" };
    const sector = gt[grain - gdIndex * this.header.numGTEsPerGT];
    if (sector <= 1) return { kind: "zero" }; // 0: unallocated, 1: explicitly zeroed grain
    if (this.compressed) return { kind: "bytes", data: await this.compressedGrain(grain, sector * SECTOR) };
    checkWithinFile(this.host, `VMDK grain ${grain}`, sector * SECTOR, this.grainSize);
    return { kind: "host", offset: sector * SECTOR };
  };

  private async compressedGrain(grain: number, offset: number): Promise<Buffer> {
    const cached = this.grainCache.get(grain);
    if (cached) return cached;
    const hasMarkers = (this.header.flags & FLAG_MARKERS) !== 0;
    const prefix = hasMarkers ? 12 : 0; // lba (8) + size (4) before the deflate stream
    checkWithinFile(this.host, `VMDK compressed grain ${grain}`, offset, prefix || 1);
    const head = await this.host.read(offset, Math.min(prefix + 4096, this.host.size - offset));
    const size = hasMarkers ? head.readUInt32LE(8) : head.length;
    checkWithinFile(this.host, `VMDK compressed grain ${grain}`, offset + prefix, size);
    const data = await this.host.read(offset + prefix, hasMarkers ? size : this.host.size - offset);
    let out: Buffer;
    try {
      out = zlib().inflateSync(data);
    } catch (err) {
      throw new ImageError(`${this.host.name}: compressed grain ${grain} at offset ${offset} does not decompress (${(err as Error).message})`, {
        file: this.host.name,
        offset,
        fix: `the image is damaged; check it with qemu-img check ${this.host.name}`,
        code: "vmdk-corrupt",
        cause: err,
      });
    }
    if (out.length !== this.grainSize) {
      const fixed = Buffer.alloc(this.grainSize);
      out.copy(fixed, 0, 0, Math.min(out.length, this.grainSize));
      out = fixed;
    }
    this.grainCache.set(grain, out);
    return out;
  }

  read(offset: number, length: number): Promise<Buffer> {
    return readMapped(this, this.host, this.grainSize, this.locate, offset, length);
  }

  readInto(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    return readMappedInto(this, this.host, this.grainSize, this.locate, target, targetOffset, position, length);
  }

  async allocatedBytes(): Promise<number> {
    let total = 0;
    for (let i = 0; i < this.gd.length; i++) {
      const gt = await this.grainTable(i);
      if (!gt) continue;
      for (let j = 0; j < gt.length; j++) {
        if (gt[j] <= 1) continue;
        // Every grain the table points to must lie inside the file, as QEMU's check demands: a cut-off copy is refused
        // here, whichever grains a later read happens to touch.
        checkWithinFile(this.host, `VMDK grain ${i * this.header.numGTEsPerGT + j}`, gt[j] * SECTOR, this.compressed ? 1 : this.grainSize);
        total += this.grainSize;
      }
    }
    return Math.min(total, this.size);
  }

  close(): Promise<void> {
    return this.host.close();
  }
}
