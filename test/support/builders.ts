// In-memory image builders for unit tests: small, exact disks in every container, made without any external tool.
import { crc32, deflateRawSync } from "node:zlib";
import { crc32c } from "../../provider/image/codecs/crc32c";

export function guidBytes(guid: string): Buffer {
  const hex = guid.replace(/-/g, "");
  const b = Buffer.from(hex, "hex");
  // First three fields are little-endian on disk.
  return Buffer.concat([
    Buffer.from(b.subarray(0, 4)).reverse(),
    Buffer.from(b.subarray(4, 6)).reverse(),
    Buffer.from(b.subarray(6, 8)).reverse(),
    b.subarray(8),
  ]);
}

export interface GptPartitionSpec {
  firstLba: number;
  lastLba: number;
  type: string;
  name?: string;
  uuid?: string;
}

/** A GPT disk: protective MBR, primary header and entries at LBA 1–2, backup at the end, both CRC-32s right. */
export function gptDisk(opts: {
  size: number;
  sectorSize?: 512 | 4096;
  partitions: GptPartitionSpec[];
  damagePrimary?: boolean;
  omitBackup?: boolean;
}): Buffer {
  const ss = opts.sectorSize ?? 512;
  const disk = Buffer.alloc(opts.size);
  const lastLba = opts.size / ss - 1;
  const entryCount = 128;
  const entriesSectors = (entryCount * 128) / ss;
  const entries = Buffer.alloc(entryCount * 128);
  opts.partitions.forEach((p, i) => {
    const e = i * 128;
    guidBytes(p.type).copy(entries, e);
    guidBytes(p.uuid ?? `00000000-0000-4000-8000-0000000000${String(i + 1).padStart(2, "0")}`).copy(entries, e + 16);
    entries.writeBigUInt64LE(BigInt(p.firstLba), e + 32);
    entries.writeBigUInt64LE(BigInt(p.lastLba), e + 40);
    entries.write(p.name ?? "", e + 56, "utf16le");
  });
  const header = (myLba: number, altLba: number, entriesLba: number) => {
    const h = Buffer.alloc(ss);
    h.write("EFI PART", 0, "latin1");
    h.writeUInt32LE(0x00010000, 8);
    h.writeUInt32LE(92, 12);
    h.writeBigUInt64LE(BigInt(myLba), 24);
    h.writeBigUInt64LE(BigInt(altLba), 32);
    h.writeBigUInt64LE(BigInt(2 + entriesSectors), 40);
    h.writeBigUInt64LE(BigInt(lastLba - 1 - entriesSectors), 48);
    guidBytes("11111111-2222-4333-8444-555555555555").copy(h, 56);
    h.writeBigUInt64LE(BigInt(entriesLba), 72);
    h.writeUInt32LE(entryCount, 80);
    h.writeUInt32LE(128, 84);
    h.writeUInt32LE(crc32(entries), 88);
    h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
    return h;
  };
  // Protective MBR.
  disk[446 + 4] = 0xee;
  disk.writeUInt32LE(1, 446 + 8);
  disk.writeUInt32LE(Math.min(lastLba, 0xffffffff), 446 + 12);
  disk.writeUInt16LE(0xaa55, 510);
  header(1, lastLba, 2).copy(disk, ss);
  entries.copy(disk, 2 * ss);
  if (!opts.omitBackup) {
    entries.copy(disk, (lastLba - entriesSectors) * ss);
    header(lastLba, 1, lastLba - entriesSectors).copy(disk, lastLba * ss);
  }
  if (opts.damagePrimary) disk[ss + 20] ^= 0xff;
  return disk;
}

export interface MbrPartitionSpec {
  startSector: number;
  sectors: number;
  type: number;
  bootable?: boolean;
}

/** An MBR disk; `logical` partitions go into an extended partition (type 0x0f) as a chain of EBRs. */
export function mbrDisk(opts: {
  size: number;
  primary: MbrPartitionSpec[];
  logical?: { sectors: number; type: number }[];
  extended?: { startSector: number; sectors: number };
}): Buffer {
  const disk = Buffer.alloc(opts.size);
  const entry = (buf: Buffer, at: number, p: MbrPartitionSpec) => {
    buf[at] = p.bootable ? 0x80 : 0;
    buf[at + 4] = p.type;
    buf.writeUInt32LE(p.startSector, at + 8);
    buf.writeUInt32LE(p.sectors, at + 12);
  };
  const primaries = [...opts.primary];
  if (opts.extended) primaries.push({ ...opts.extended, type: 0x0f });
  primaries.forEach((p, i) => entry(disk, 446 + i * 16, p));
  disk.writeUInt32LE(0xcafef00d, 440);
  disk.writeUInt16LE(0xaa55, 510);
  if (opts.extended && opts.logical) {
    let ebr = opts.extended.startSector;
    opts.logical.forEach((l, i) => {
      const rec = disk.subarray(ebr * 512, ebr * 512 + 512);
      entry(rec, 446, { startSector: 2048, sectors: l.sectors, type: l.type });
      const next = ebr + 2048 + l.sectors;
      if (i < opts.logical!.length - 1)
        entry(rec, 462, { startSector: next - opts.extended!.startSector, sectors: opts.logical![i + 1].sectors + 2048, type: 0x05 });
      rec.writeUInt16LE(0xaa55, 510);
      ebr = next;
    });
  }
  return disk;
}

export type ClusterSpec = { kind: "data"; data: Buffer } | { kind: "compressed"; data: Buffer } | { kind: "zero" };

/** A qcow2 image with one L2 table per L1 entry as needed; `clusters` maps virtual cluster index to content. */
export function qcow2Image(opts: {
  virtualSize: number;
  clusterBits?: number;
  version?: 2 | 3;
  clusters?: Map<number, ClusterSpec>;
  incompatible?: bigint;
  backingFile?: string;
  cryptMethod?: number;
}): Buffer {
  const cb = opts.clusterBits ?? 16;
  const cs = 2 ** cb;
  const version = opts.version ?? 3;
  const l2Entries = cs / 8;
  const l1Size = Math.ceil(opts.virtualSize / (cs * l2Entries));
  const clusters = opts.clusters ?? new Map();
  let next = cs; // next free host offset; cluster 0 holds the header
  const alloc = (len: number) => {
    const at = next;
    next += Math.ceil(len / cs) * cs;
    return at;
  };
  const l1Offset = alloc(l1Size * 8);
  const l1 = Buffer.alloc(Math.ceil((l1Size * 8) / cs) * cs);
  const l2Tables = new Map<number, { offset: number; buf: Buffer }>();
  const writes: { offset: number; data: Buffer }[] = [];
  for (const [index, spec] of [...clusters.entries()].sort((a, b) => a[0] - b[0])) {
    const l1i = Math.floor(index / l2Entries);
    let l2 = l2Tables.get(l1i);
    if (!l2) {
      l2 = { offset: alloc(cs), buf: Buffer.alloc(cs) };
      l2Tables.set(l1i, l2);
      l1.writeBigUInt64BE(BigInt(l2.offset) | (1n << 63n), l1i * 8);
    }
    const slot = (index % l2Entries) * 8;
    if (spec.kind === "zero") {
      l2.buf.writeBigUInt64BE(1n, slot);
    } else if (spec.kind === "data") {
      const at = alloc(cs);
      const d = Buffer.alloc(cs);
      spec.data.copy(d);
      writes.push({ offset: at, data: d });
      l2.buf.writeBigUInt64BE(BigInt(at) | (1n << 63n), slot);
    } else {
      const z = deflateRawSync(spec.data);
      const at = alloc(z.length);
      writes.push({ offset: at, data: z });
      const x = 62 - (cb - 8);
      const sectors = Math.ceil(((at % 512) + z.length) / 512) - 1;
      l2.buf.writeBigUInt64BE((1n << 62n) | (BigInt(sectors) << BigInt(x)) | BigInt(at), slot);
    }
  }
  const header = Buffer.alloc(cs);
  header.writeUInt32BE(0x514649fb, 0);
  header.writeUInt32BE(version, 4);
  header.writeUInt32BE(cb, 20);
  header.writeBigUInt64BE(BigInt(opts.virtualSize), 24);
  header.writeUInt32BE(opts.cryptMethod ?? 0, 32);
  header.writeUInt32BE(l1Size, 36);
  header.writeBigUInt64BE(BigInt(l1Offset), 40);
  if (version === 3) {
    header.writeBigUInt64BE(opts.incompatible ?? 0n, 72);
    header.writeUInt32BE(4, 96);
    header.writeUInt32BE(104, 100);
  }
  if (opts.backingFile) {
    const at = version === 3 ? 112 : 80;
    header.write(opts.backingFile, at, "utf8");
    header.writeBigUInt64BE(BigInt(at), 8);
    header.writeUInt32BE(Buffer.byteLength(opts.backingFile), 16);
  }
  const out = Buffer.alloc(next);
  header.copy(out, 0);
  l1.copy(out, l1Offset);
  for (const t of l2Tables.values()) t.buf.copy(out, t.offset);
  for (const w of writes) w.data.copy(out, w.offset);
  return out;
}

const VHDX_GUIDS = {
  bat: "2DC27766-F623-4200-9D64-115E9BFD4A08",
  metadata: "8B7CA206-4790-4B9A-B8FE-575F050F886E",
  fileParameters: "CAA16737-FA36-4D43-B3B6-33F0AA44E76B",
  virtualDiskSize: "2FA54224-CD1B-4876-B211-5DBED83BF4B8",
  logicalSectorSize: "8141BF1D-A96F-4709-BA47-F233A8FAAB5F",
};

/** A dynamic VHDX with 1 MiB blocks; `blocks` maps block index to its content. `logGuid` marks a log awaiting replay. */
export function vhdxImage(opts: { virtualSize: number; blocks?: Map<number, Buffer>; logGuid?: string; staleSecondHeader?: boolean }): Buffer {
  const MiB = 1024 * 1024;
  const blockSize = MiB;
  const blocks = opts.blocks ?? new Map();
  const dataBlocks = Math.ceil(opts.virtualSize / blockSize);
  const chunkRatio = (2 ** 23 * 512) / blockSize;
  const batEntries = dataBlocks + Math.floor((dataBlocks - 1) / chunkRatio);
  const metaOffset = 2 * MiB;
  const batOffset = 3 * MiB;
  let next = 4 * MiB;
  const bat = Buffer.alloc(Math.ceil((batEntries * 8) / MiB) * MiB);
  const payload: { offset: number; data: Buffer }[] = [];
  for (const [b, data] of blocks) {
    const idx = b + Math.floor(b / chunkRatio);
    bat.writeBigUInt64LE((BigInt(next / MiB) << 20n) | 6n, idx * 8);
    const d = Buffer.alloc(blockSize);
    data.copy(d);
    payload.push({ offset: next, data: d });
    next += blockSize;
  }
  const file = Buffer.alloc(next);
  file.write("vhdxfile", 0, "latin1");
  const header = (seq: bigint) => {
    const h = Buffer.alloc(4096);
    h.write("head", 0, "latin1");
    h.writeBigUInt64LE(seq, 8);
    if (opts.logGuid) guidBytes(opts.logGuid).copy(h, 48);
    h.writeUInt16LE(0, 64);
    h.writeUInt16LE(1, 66);
    h.writeUInt32LE(MiB, 68);
    h.writeBigUInt64LE(BigInt(MiB), 72);
    h.writeUInt32LE(crc32c(h), 4);
    return h;
  };
  header(2n).copy(file, 64 * 1024);
  header(opts.staleSecondHeader ? 1n : 3n).copy(file, 128 * 1024);
  const region = Buffer.alloc(64 * 1024);
  region.write("regi", 0, "latin1");
  region.writeUInt32LE(2, 8);
  const regionEntry = (i: number, guid: string, offset: number, length: number) => {
    guidBytes(guid).copy(region, 16 + i * 32);
    region.writeBigUInt64LE(BigInt(offset), 16 + i * 32 + 16);
    region.writeUInt32LE(length, 16 + i * 32 + 24);
    region.writeUInt32LE(1, 16 + i * 32 + 28);
  };
  regionEntry(0, VHDX_GUIDS.bat, batOffset, bat.length);
  regionEntry(1, VHDX_GUIDS.metadata, metaOffset, MiB);
  region.writeUInt32LE(crc32c(region), 4);
  region.copy(file, 192 * 1024);
  region.copy(file, 256 * 1024);
  const meta = Buffer.alloc(MiB);
  meta.write("metadata", 0, "latin1");
  meta.writeUInt16LE(3, 10);
  const item = (i: number, guid: string, data: Buffer) => {
    const off = 64 * 1024 + i * 4096;
    guidBytes(guid).copy(meta, 32 + i * 32);
    meta.writeUInt32LE(off, 32 + i * 32 + 16);
    meta.writeUInt32LE(data.length, 32 + i * 32 + 20);
    data.copy(meta, off);
  };
  const params = Buffer.alloc(8);
  params.writeUInt32LE(blockSize, 0);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(opts.virtualSize), 0);
  const lss = Buffer.alloc(4);
  lss.writeUInt32LE(512, 0);
  item(0, VHDX_GUIDS.fileParameters, params);
  item(1, VHDX_GUIDS.virtualDiskSize, size);
  item(2, VHDX_GUIDS.logicalSectorSize, lss);
  meta.copy(file, metaOffset);
  bat.copy(file, batOffset);
  for (const p of payload) p.data.copy(file, p.offset);
  return file;
}

/** A VDI 1.1 image with 1 MiB blocks; `blocks` maps block index to content; `discarded` blocks read as zeros. */
export function vdiImage(opts: { virtualSize: number; blocks?: Map<number, Buffer>; type?: number; discarded?: number[] }): Buffer {
  const blockSize = 1024 * 1024;
  const n = Math.ceil(opts.virtualSize / blockSize);
  const offsetBmap = 0x200;
  const offsetData = Math.ceil((offsetBmap + n * 4) / blockSize) * blockSize;
  const blocks = [...(opts.blocks ?? new Map<number, Buffer>()).entries()];
  const file = Buffer.alloc(offsetData + blocks.length * blockSize);
  file.write("<<< Oracle VM VirtualBox Disk Image >>>\n", 0, "latin1");
  file.writeUInt32LE(0xbeda107f, 0x40);
  file.writeUInt32LE(0x00010001, 0x44);
  file.writeUInt32LE(0x190, 0x48);
  file.writeUInt32LE(opts.type ?? 1, 0x4c);
  file.writeUInt32LE(offsetBmap, 0x154);
  file.writeUInt32LE(offsetData, 0x158);
  file.writeUInt32LE(512, 0x168);
  file.writeBigUInt64LE(BigInt(opts.virtualSize), 0x170);
  file.writeUInt32LE(blockSize, 0x178);
  file.writeUInt32LE(n, 0x180);
  file.writeUInt32LE(blocks.length, 0x184);
  for (let i = 0; i < n; i++) file.writeUInt32LE(0xffffffff, offsetBmap + i * 4);
  for (const d of opts.discarded ?? []) file.writeUInt32LE(0xfffffffe, offsetBmap + d * 4);
  blocks.forEach(([b, data], i) => {
    file.writeUInt32LE(i, offsetBmap + b * 4);
    data.copy(file, offsetData + i * blockSize);
  });
  return file;
}
