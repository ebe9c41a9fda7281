// The ext4 extent tree (header, index and leaf entries), flattened into a sorted list of runs for a file.
const EXTENT_MAGIC = 0xf30a;
const EXT_INIT_MAX_LEN = 32768;

export interface Extent {
  /** First logical block. */
  logical: number;
  length: number;
  /** First physical block. */
  physical: number;
  /** Allocated but not yet written: reads as zeros. */
  uninitialized: boolean;
}

export interface ExtentNodeHeader {
  entries: number;
  max: number;
  depth: number;
}

export function parseExtentHeader(buf: Buffer, off = 0): ExtentNodeHeader | null {
  if (buf.length < off + 12 || buf.readUInt16LE(off) !== EXTENT_MAGIC) return null;
  return { entries: buf.readUInt16LE(off + 2), max: buf.readUInt16LE(off + 4), depth: buf.readUInt16LE(off + 6) };
}

export function parseLeaf(buf: Buffer, entries: number, off = 0): Extent[] {
  const out: Extent[] = [];
  for (let i = 0; i < entries; i++) {
    const e = off + 12 + i * 12;
    const len = buf.readUInt16LE(e + 4);
    out.push({
      logical: buf.readUInt32LE(e),
      length: len > EXT_INIT_MAX_LEN ? len - EXT_INIT_MAX_LEN : len,
      physical: buf.readUInt16LE(e + 6) * 2 ** 32 + buf.readUInt32LE(e + 8),
      uninitialized: len > EXT_INIT_MAX_LEN,
    });
  }
  return out;
}

export function parseIndex(buf: Buffer, entries: number, off = 0): { logical: number; leaf: number }[] {
  const out: { logical: number; leaf: number }[] = [];
  for (let i = 0; i < entries; i++) {
    const e = off + 12 + i * 12;
    out.push({ logical: buf.readUInt32LE(e), leaf: buf.readUInt16LE(e + 8) * 2 ** 32 + buf.readUInt32LE(e + 4) });
  }
  return out;
}
