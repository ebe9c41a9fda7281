// The fuzzer's mutator, written here: a seeded PRNG and mutations aimed at the structures each seed image holds
// (container headers and tables, MBR/GPT, ext2/3/4 superblock, group descriptors, inodes, extent trees, directories,
// the gzip/bzip2 stream headers), with some anywhere in the file and some truncations.
import { mulberry32 } from "../../tools/local-do/random";
import { closeSync, copyFileSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";

/** The seeded PRNG the emulator's fault dice use too. */
export const prng = mulberry32;

export interface Region {
  what: string;
  start: number;
  length: number;
  /** Byte order of the integers in it. */
  endian: "le" | "be";
}

export type Op =
  | { op: "flip"; offset: number; bit: number }
  | { op: "set"; offset: number; bytes: number[] }
  | { op: "truncate"; length: number }
  | { op: "zero"; offset: number; length: number };

export interface Mutation {
  seed: string;
  target: string;
  ops: Op[];
}

function readAt(fd: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  const n = readSync(fd, b, 0, length, offset);
  return b.subarray(0, n);
}

/** The regions of a seed worth aiming at, found by reading its headers (a region a damaged seed lacks is skipped). */
export function regionsOf(path: string): Region[] {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const head = readAt(fd, 0, 4096);
    const regions: Region[] = [];
    const add = (what: string, start: number, length: number, endian: "le" | "be") => {
      if (start >= 0 && start < size && length > 0) regions.push({ what, start, length: Math.min(length, size - start), endian });
    };
    if (head.readUInt32BE(0) === 0x514649fb) {
      add("qcow2 header", 0, 512, "be");
      const clusterBits = head.readUInt32BE(20);
      const l1 = Number(head.readBigUInt64BE(40));
      add("qcow2 L1 table", l1, head.readUInt32BE(36) * 8, "be");
      add("qcow2 refcount table", Number(head.readBigUInt64BE(48)), 512, "be");
      const firstL2 = readAt(fd, l1, 8);
      if (firstL2.length === 8) add("qcow2 L2 table", Number(firstL2.readBigUInt64BE(0) & 0x00fffffffffffe00n), 2 ** clusterBits, "be");
    } else if (head.toString("latin1", 0, 4) === "KDMV") {
      add("VMDK header", 0, 512, "le");
      add("VMDK descriptor", Number(head.readBigUInt64LE(28)) * 512, 1024, "le");
      add("VMDK grain directory", Number(head.readBigUInt64LE(56)) * 512, 512, "le");
      add("VMDK footer", size - 1024, 1024, "le");
    } else if (head.readUInt32LE(64) === 0xbeda107f) {
      add("VDI header", 0, 512, "le");
      add("VDI block map", head.readUInt32LE(340), 4096, "le");
    } else if (head.toString("latin1", 0, 8) === "vhdxfile") {
      add("VHDX headers", 0, 4 * 65536, "le");
      add("VHDX region table", 3 * 65536, 65536, "le");
    } else if (head[0] === 0x1f && head[1] === 0x8b) {
      add("gzip header", 0, 32, "le");
      add("gzip trailer", size - 8, 8, "le");
    } else if (head.toString("latin1", 0, 3) === "BZh") {
      add("bzip2 stream header and first block", 0, 64, "be");
    } else {
      // A raw disk: the partition tables, then each ext2/3/4 filesystem's metadata.
      add("MBR", 0, 512, "le");
      add("GPT header", 512, 92, "le");
      add("GPT entries", 1024, 4 * 128, "le");
      const starts = new Set<number>([0]);
      for (let i = 0; i < 4; i++) {
        const lba = head.readUInt32LE(446 + i * 16 + 8);
        if (lba) starts.add(lba * 512);
      }
      if (head.toString("latin1", 512, 520) === "EFI PART") {
        for (let i = 0; i < 16; i++) {
          const e = readAt(fd, 1024 + i * 128, 128);
          if (e.length === 128 && !e.subarray(0, 16).every((b) => b === 0)) starts.add(Number(e.readBigUInt64LE(32)) * 512);
        }
      }
      for (const p of starts) ext(fd, p, add);
    }
    return regions;
  } finally {
    closeSync(fd);
  }
}

function ext(fd: number, p: number, add: (what: string, start: number, length: number, endian: "le" | "be") => void): void {
  const sb = readAt(fd, p + 1024, 1024);
  if (sb.length < 1024 || sb.readUInt16LE(56) !== 0xef53) return;
  const bs = 1024 << sb.readUInt32LE(24);
  const inodeSize = sb.readUInt32LE(76) >= 1 ? sb.readUInt16LE(88) || 128 : 128;
  const firstData = sb.readUInt32LE(20);
  add("ext superblock", p + 1024, 1024, "le");
  const gdt = p + (firstData + 1) * bs;
  add("ext group descriptors", gdt, Math.min(bs, 1024), "le");
  const gd = readAt(fd, gdt, 64);
  if (gd.length < 12) return;
  const inodeTable = p + gd.readUInt32LE(8) * bs;
  add("ext inodes 1-16 (root directory, journal, lost+found)", inodeTable, 16 * inodeSize, "le");
  add("ext inode table", inodeTable, Math.min(sb.readUInt32LE(40) * inodeSize, 256 * 1024), "le");
  // The root directory's first data block, through its extent tree (depth 0) or first direct block.
  const root = readAt(fd, inodeTable + inodeSize, inodeSize);
  if (root.length < 100) return;
  add("ext root inode's block map or extent tree", inodeTable + inodeSize + 40, 60, "le");
  const block = root.readUInt16LE(40) === 0xf30a ? root.readUInt32LE(40 + 12 + 8) : root.readUInt32LE(40);
  if (block) add("ext root directory block", p + block * bs, bs, "le");
}

const INTERESTING = [0n, 1n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 32n, 1n << 53n, 1n << 62n, (1n << 64n) - 1n];

/** A mutation of the seed: one to four operations, most of them aimed at one of its regions. */
export function mutation(seedName: string, size: number, regions: Region[], random: () => number): Mutation {
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  const region = regions.length > 0 && random() < 0.85 ? pick(regions) : { what: "anywhere", start: 0, length: size, endian: "le" as const };
  const at = (width = 1) => region.start + Math.floor(random() * Math.max(1, region.length - width + 1));
  const ops: Op[] = [];
  const count = 1 + Math.floor(random() * 4);
  for (let i = 0; i < count; i++) {
    const r = random();
    if (r < 0.35) ops.push({ op: "flip", offset: at(), bit: Math.floor(random() * 8) });
    else if (r < 0.8) {
      const width = pick([1, 2, 4, 8]);
      const offset = at(width) & ~(width - 1);
      let v = pick(INTERESTING) & ((1n << BigInt(width * 8)) - 1n);
      if (random() < 0.2) v = BigInt(size) + BigInt(Math.floor(random() * 4096)); // just past the end of the file
      const bytes: number[] = [];
      for (let b = 0; b < width; b++) bytes.push(Number((v >> BigInt(8 * b)) & 0xffn));
      ops.push({ op: "set", offset, bytes: region.endian === "be" ? bytes.reverse() : bytes });
    } else if (r < 0.9) ops.push({ op: "zero", offset: at(), length: 1 + Math.floor(random() * 512) });
    else ops.push({ op: "truncate", length: random() < 0.5 ? at() : Math.floor(random() * size) });
  }
  return { seed: seedName, target: region.what, ops };
}

/** Writes the seed with the mutation applied to `out`. */
export function apply(seedPath: string, m: Mutation, out: string): void {
  copyFileSync(seedPath, out);
  const fd = openSync(out, "r+");
  try {
    for (const op of m.ops) {
      if (op.op === "flip") {
        const b = readAt(fd, op.offset, 1);
        if (b.length === 1) writeSync(fd, Buffer.from([b[0] ^ (1 << op.bit)]), 0, 1, op.offset);
      } else if (op.op === "set") writeSync(fd, Buffer.from(op.bytes), 0, op.bytes.length, op.offset);
      else if (op.op === "zero") writeSync(fd, Buffer.alloc(op.length), 0, op.length, op.offset);
      else ftruncateSync(fd, Math.min(op.length, fstatSync(fd).size));
    }
  } finally {
    closeSync(fd);
  }
}
