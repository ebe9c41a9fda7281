// Reader for VirtualBox VDI 1.1 images (dynamic and static), written here: no Node library reads VDI.
import type { ErrorCode } from "../../errors";
import { diskSize, isZero } from "../bytes";
import { checkWithinFile, readMapped, readMappedInto, type BlockLocation, type VirtualDisk } from "../disk";
import { ImageError } from "../errors";
import type { HostSource } from "../source";

export const VDI_SIGNATURE = 0xbeda107f;
export const VDI_SIGNATURE_OFFSET = 0x40;
const VDI_VERSION_1_1 = 0x00010001;
const HEADER_SIZE = 0x200;
const TYPE_DYNAMIC = 1;
const TYPE_STATIC = 2;
const BLOCK_DISCARDED = 0xfffffffe; // this and 0xffffffff (never allocated) read as zeros

export interface VdiHeader {
  version: number;
  imageType: number;
  offsetBmap: number;
  offsetData: number;
  sectorSize: number;
  diskSize: number;
  blockSize: number;
  blockExtra: number;
  blocksInImage: number;
  hasParent: boolean;
}

export const VdiHeader = {
  parse(buf: Buffer, file: string): VdiHeader {
    if (buf.readUInt32LE(VDI_SIGNATURE_OFFSET) !== VDI_SIGNATURE) {
      throw new ImageError(`${file}: no VDI signature at offset 0x40`, { file, offset: 0x40, fix: "pass a VDI image" });
    }
    const isZeroUuid = (off: number) => isZero(buf.subarray(off, off + 16));
    return {
      version: buf.readUInt32LE(0x44),
      imageType: buf.readUInt32LE(0x4c),
      offsetBmap: buf.readUInt32LE(0x154),
      offsetData: buf.readUInt32LE(0x158),
      sectorSize: buf.readUInt32LE(0x168),
      diskSize: diskSize(buf.readBigUInt64LE(0x170), "disk size", { file, offset: 0x170 }),
      blockSize: buf.readUInt32LE(0x178),
      blockExtra: buf.readUInt32LE(0x17c),
      blocksInImage: buf.readUInt32LE(0x180),
      hasParent: !isZeroUuid(0x1a8) || !isZeroUuid(0x1b8),
    };
  },
};

export class VdiDisk implements VirtualDisk {
  readonly format = "vdi" as const;
  readonly name: string;
  readonly size: number;
  readonly details: Record<string, string | number | boolean>;

  private constructor(
    private readonly host: HostSource,
    private readonly header: VdiHeader,
    private readonly bmap: Uint32Array,
  ) {
    this.name = `vdi virtual disk of ${host.name}`;
    this.size = header.diskSize;
    this.details = { subformat: header.imageType === TYPE_STATIC ? "static" : "dynamic", blockSize: header.blockSize };
  }

  static async open(host: HostSource): Promise<VdiDisk> {
    const file = host.name;
    checkWithinFile(host, "VDI header", 0, HEADER_SIZE);
    const h = VdiHeader.parse(await host.read(0, HEADER_SIZE), file);
    const refuse = (what: string, offset: number, fix: string, code: ErrorCode = "vdi-unsupported"): never => {
      throw new ImageError(`VDI header of ${file} at offset 0x${offset.toString(16)}: ${what}`, { file, offset, fix, code });
    };
    const convert = `convert it: qemu-img convert -O qcow2 ${file} out.qcow2`;
    if (h.version !== VDI_VERSION_1_1) refuse(`version ${h.version >> 16}.${h.version & 0xffff} is not supported (expected 1.1)`, 0x44, convert);
    if (h.imageType !== TYPE_DYNAMIC && h.imageType !== TYPE_STATIC) {
      refuse(
        `image type ${h.imageType} is a ${h.imageType === 4 ? "differencing" : "undo"} image that needs its parent`,
        0x4c,
        `merge it with its parent in VirtualBox (VBoxManage clonemedium ${file} full.vdi), then import full.vdi`,
        "vdi-differencing",
      );
    }
    if (h.hasParent) refuse("the image links to a parent image", 0x1a8, `merge it first: VBoxManage clonemedium ${file} full.vdi`, "vdi-differencing");
    if (h.sectorSize !== 512 && h.sectorSize !== 0) refuse(`sector size ${h.sectorSize} is not 512`, 0x168, convert);
    if (h.blockSize === 0 || h.blockSize % 512 !== 0) refuse(`block size ${h.blockSize} is not a multiple of 512`, 0x178, convert, "vdi-corrupt");
    if (h.diskSize > h.blocksInImage * h.blockSize) {
      refuse(`disk size ${h.diskSize} exceeds what ${h.blocksInImage} blocks of ${h.blockSize} bytes hold`, 0x170, convert, "vdi-corrupt");
    }
    checkWithinFile(host, "VDI block map", h.offsetBmap, h.blocksInImage * 4);
    const raw = await host.read(h.offsetBmap, h.blocksInImage * 4);
    const bmap = new Uint32Array(h.blocksInImage);
    for (let i = 0; i < bmap.length; i++) bmap[i] = raw.readUInt32LE(i * 4);
    return new VdiDisk(host, h, bmap);
  }

  private locate = (block: number): BlockLocation => {
    const entry = this.bmap[block];
    if (entry >= BLOCK_DISCARDED) return { kind: "zero" };
    const stride = this.header.blockSize + this.header.blockExtra;
    const offset = this.header.offsetData + entry * stride + this.header.blockExtra;
    checkWithinFile(this.host, `VDI data block ${block}`, offset, this.header.blockSize);
    return { kind: "host", offset };
  };

  read(offset: number, length: number): Promise<Buffer> {
    return readMapped(this, this.host, this.header.blockSize, this.locate, offset, length);
  }

  readInto(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    return readMappedInto(this, this.host, this.header.blockSize, this.locate, target, targetOffset, position, length);
  }

  async allocatedBytes(): Promise<number> {
    let n = 0;
    for (let b = 0; b < this.bmap.length; b++) {
      if (this.bmap[b] < BLOCK_DISCARDED) {
        this.locate(b); // checks the block lies inside the file
        n++;
      }
    }
    return Math.min(n * this.header.blockSize, this.size);
  }

  close(): Promise<void> {
    return this.host.close();
  }
}
