// bzip2 decoder written here (no maintained JS library decodes multi-stream bzip2 in bounded memory), block by block.
import { ImageError } from "../errors";

const BLOCK_MAGIC_HI = 0x314159;
const BLOCK_MAGIC_LO = 0x265359;
const EOS_MAGIC_HI = 0x177245;
const EOS_MAGIC_LO = 0x385090;
const MAX_GROUPS = 6;
const MAX_CODE_LEN = 20;
const GROUP_SIZE = 50;

/** Thrown inside the decoder when it reads past its input; the stream driver turns it into a truncation error. */
export class OutOfInput extends Error {}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c;
  }
  return t;
})();

export const BLOCK_MAGIC = [BLOCK_MAGIC_HI, BLOCK_MAGIC_LO] as const;
export const EOS_MAGIC = [EOS_MAGIC_HI, EOS_MAGIC_LO] as const;

export class BitReader {
  private bitBuf = 0;
  private bitCount = 0;
  private pos: number;

  constructor(
    private readonly buf: Uint8Array,
    startBit = 0,
  ) {
    this.pos = startBit >>> 3;
    const skip = startBit & 7;
    if (skip) this.bits(skip);
  }

  /** Reads n (at most 24) bits, most significant first. */
  bits(n: number): number {
    while (this.bitCount < n) {
      if (this.pos >= this.buf.length) throw new OutOfInput();
      this.bitBuf = ((this.bitBuf << 8) | this.buf[this.pos++]) >>> 0;
      this.bitCount += 8;
    }
    this.bitCount -= n;
    const v = (this.bitBuf >>> this.bitCount) & ((1 << n) - 1);
    this.bitBuf &= (1 << this.bitCount) - 1;
    return v;
  }

  bit(): number {
    return this.bits(1);
  }

  get bitPosition(): number {
    return this.pos * 8 - this.bitCount;
  }

  alignToByte(): void {
    this.bits(this.bitCount & 7);
  }
}

export interface DecodedBlock {
  /** The block's bytes; null when it repeats the block `memo` held (see BlockMemo). */
  data: Uint8Array | null;
  storedCrc: number;
  /** With the CRC, identifies a block that expanded a lot, so a repeat of it can reuse its bytes (see BlockMemo). */
  fingerprint?: number;
  /** Bit position just after the block's end-of-block symbol: where the next magic starts. */
  endBit: number;
}

/**
 * The last block a decoder expanded a lot (runs of one byte, as in a disk's free space). A block whose transformed
 * bytes are exactly those again expands to exactly the same output, so it is not expanded (nor CRC'd) a second time.
 */
export interface BlockMemo {
  /** The most recent first; at most MEMO_BLOCKS (a stream's last, shorter block must not evict the full one). */
  blocks: { bwt: Uint8Array; origPtr: number; storedCrc: number; fingerprint: number }[];
}

const MEMO_BLOCKS = 2;

/** Blocks expanding more than this many times over are remembered in the memo. */
const MEMO_EXPANSION = 8;

/**
 * Decodes one block whose 48-bit magic has just been consumed from `br`. `maxBlock` bounds the block (level × 100,000).
 * With a memo, a block identical to the memo's is returned with `data: null`: the caller reuses the bytes it has.
 */
export function decodeBlock(br: BitReader, maxBlock: number, where: string, memo?: BlockMemo): DecodedBlock {
  const bad = (what: string): never => {
    throw new ImageError(`${where}: bzip2 block is corrupt (${what})`, {
      file: where,
      fix: "the compressed file is damaged; download or compress it again (bzip2 -t checks a file)",
      code: "bzip2-corrupt",
    });
  };
  const storedCrc = ((br.bits(16) << 16) | br.bits(16)) >>> 0;
  if (br.bit()) {
    throw new ImageError(`${where}: bzip2 block uses the randomised mode of bzip2 before 0.9.5, which this tool does not decode`, {
      file: where,
      fix: "recompress it with a current bzip2, or decompress it and upload the uncompressed image",
      code: "bzip2-randomised",
    });
  }
  const origPtr = br.bits(24);

  // Which byte values occur, as 16 ranges of 16.
  const seqToUnseq = new Uint8Array(256);
  let numInUse = 0;
  const ranges = br.bits(16);
  for (let i = 0; i < 16; i++) {
    if (ranges & (0x8000 >> i)) {
      const used = br.bits(16);
      for (let j = 0; j < 16; j++) if (used & (0x8000 >> j)) seqToUnseq[numInUse++] = i * 16 + j;
    }
  }
  if (numInUse === 0) bad("no symbols in use");
  const alphaSize = numInUse + 2;

  const nGroups = br.bits(3);
  if (nGroups < 2 || nGroups > MAX_GROUPS) bad(`${nGroups} Huffman groups`);
  const nSelectors = br.bits(15);
  if (nSelectors < 1) bad("no selectors");
  const mtfGroups = [0, 1, 2, 3, 4, 5];
  const selectors = new Uint8Array(nSelectors);
  for (let i = 0; i < nSelectors; i++) {
    let j = 0;
    while (br.bit()) if (++j >= nGroups) bad("selector out of range");
    const v = mtfGroups[j];
    for (; j > 0; j--) mtfGroups[j] = mtfGroups[j - 1];
    mtfGroups[0] = v;
    selectors[i] = v;
  }

  // Canonical Huffman tables per group: limit/base/perm as in bzip2's hbCreateDecodeTables.
  const limits: Int32Array[] = [];
  const bases: Int32Array[] = [];
  const perms: Uint16Array[] = [];
  const minLens: number[] = [];
  const lens = new Uint8Array(alphaSize);
  for (let t = 0; t < nGroups; t++) {
    let curr = br.bits(5);
    let minLen = 32;
    let maxLen = 0;
    for (let i = 0; i < alphaSize; i++) {
      for (;;) {
        if (curr < 1 || curr > MAX_CODE_LEN) bad(`code length ${curr}`);
        if (!br.bit()) break;
        curr += br.bit() ? -1 : 1;
      }
      lens[i] = curr;
      if (curr < minLen) minLen = curr;
      if (curr > maxLen) maxLen = curr;
    }
    const perm = new Uint16Array(alphaSize);
    let pp = 0;
    for (let len = minLen; len <= maxLen; len++) for (let s = 0; s < alphaSize; s++) if (lens[s] === len) perm[pp++] = s;
    const base = new Int32Array(MAX_CODE_LEN + 2);
    const limit = new Int32Array(MAX_CODE_LEN + 2).fill(-1);
    for (let s = 0; s < alphaSize; s++) base[lens[s] + 1]++;
    for (let i = 1; i < base.length; i++) base[i] += base[i - 1];
    let vec = 0;
    for (let i = minLen; i <= maxLen; i++) {
      vec += base[i + 1] - base[i];
      limit[i] = vec - 1;
      vec <<= 1;
    }
    for (let i = minLen + 1; i <= maxLen; i++) base[i] = ((limit[i - 1] + 1) << 1) - base[i];
    limit[maxLen + 1] = 0x7fffffff; // sentinel: a longer code is corrupt
    limits.push(limit);
    bases.push(base);
    perms.push(perm);
    minLens.push(minLen);
  }

  // Huffman → MTF/RLE2 → the BWT'd block in tt's low bytes.
  const tt = new Uint32Array(maxBlock);
  const byteCount = new Int32Array(256);
  const mtf = new Uint8Array(256);
  for (let i = 0; i < 256; i++) mtf[i] = i;
  const eob = numInUse + 1;
  let count = 0;
  let groupIndex = -1;
  let groupLeft = 0;
  let limit = limits[0];
  let base = bases[0];
  let perm = perms[0];
  let minLen = minLens[0];
  let runPos = 0;
  let run = 0;
  for (;;) {
    if (groupLeft === 0) {
      if (++groupIndex >= nSelectors) bad("ran out of selectors");
      const g = selectors[groupIndex];
      limit = limits[g];
      base = bases[g];
      perm = perms[g];
      minLen = minLens[g];
      groupLeft = GROUP_SIZE;
    }
    groupLeft--;
    let zn = minLen;
    let zvec = br.bits(zn);
    while (zvec > limit[zn]) {
      if (++zn > MAX_CODE_LEN) bad("Huffman code too long");
      zvec = (zvec << 1) | br.bit();
    }
    const sym = perm[zvec - base[zn]];
    if (sym <= 1) {
      if (runPos === 0) {
        runPos = 1;
        run = 0;
      }
      run += runPos << sym;
      runPos <<= 1;
      if (run > maxBlock) bad("run longer than the block");
      continue;
    }
    if (runPos) {
      runPos = 0;
      if (count + run > maxBlock) bad("block longer than its declared size");
      const uc = seqToUnseq[mtf[0]];
      byteCount[uc] += run;
      tt.fill(uc, count, count + run);
      count += run;
    }
    if (sym === eob) break;
    if (count >= maxBlock) bad("block longer than its declared size");
    const idx = sym - 1;
    const v = mtf[idx];
    mtf.copyWithin(1, 0, idx);
    mtf[0] = v;
    const uc = seqToUnseq[v];
    byteCount[uc]++;
    tt[count++] = uc;
  }
  if (origPtr >= count) bad(`origPtr ${origPtr} outside a ${count}-byte block`);

  const candidates = memo?.blocks.filter((m) => m.origPtr === origPtr && m.storedCrc === storedCrc && m.bwt.length === count) ?? [];
  if (candidates.length > 0) {
    const again = transformed(tt, count, origPtr);
    const same = candidates.find((m) => m.fingerprint === again.fingerprint && Buffer.from(m.bwt.buffer).equals(Buffer.from(again.bwt.buffer)));
    if (same) return { data: null, storedCrc, fingerprint: same.fingerprint, endBit: br.bitPosition };
  }

  // Inverse BWT: link each position to its successor in the high 24 bits.
  let sum = 0;
  for (let i = 0; i < 256; i++) {
    const c = byteCount[i];
    byteCount[i] = sum;
    sum += c;
  }
  for (let i = 0; i < count; i++) {
    const uc = tt[i] & 0xff;
    tt[byteCount[uc]++] |= i << 8;
  }

  // Walk the chain and undo the initial run-length encoding (4 equal bytes then a repeat count) in one pass.
  let out: Uint8Array = new Uint8Array(count + (count >> 2) + 64);
  let o = 0;
  let pos = tt[origPtr] >>> 8;
  let prev = -1;
  let same = 0;
  let crc = -1;
  for (let k = 0; k < count; k++) {
    const entry = tt[pos];
    const b = entry & 0xff;
    pos = entry >>> 8;
    if (same === 4) {
      if (o + b > out.length) out = grow(out, o + b);
      for (let r = 0; r < b; r++) {
        out[o++] = prev;
        crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ prev) & 0xff];
      }
      same = 0;
      prev = -1;
      continue;
    }
    same = b === prev ? same + 1 : 1;
    prev = b;
    if (o >= out.length) out = grow(out, o + 1);
    out[o++] = b;
    crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b) & 0xff];
  }
  crc = ~crc >>> 0;
  if (crc !== storedCrc) bad(`CRC 0x${crc.toString(16)} where the block says 0x${storedCrc.toString(16)}`);
  if (memo && o > MEMO_EXPANSION * count) {
    // The inverse BWT only set tt's high bits: its low bytes are still the transformed block.
    const { bwt, fingerprint } = transformed(tt, count, origPtr);
    memo.blocks.unshift({ bwt, origPtr, storedCrc, fingerprint });
    memo.blocks.length = Math.min(memo.blocks.length, MEMO_BLOCKS);
    return { data: fit(out, o), storedCrc, fingerprint, endBit: br.bitPosition };
  }
  return { data: fit(out, o), storedCrc, endBit: br.bitPosition };
}

/** The first `n` bytes, copied out when the buffer grew well past them, so a held block costs its size and no more. */
function fit(buf: Uint8Array, n: number): Uint8Array {
  return buf.length > n + (n >> 2) + 64 ? buf.slice(0, n) : buf.subarray(0, n);
}

/** The transformed bytes (tt's low bytes) and their FNV-1a hash with origPtr and the length: a block's identity. */
function transformed(tt: Uint32Array, count: number, origPtr: number): { bwt: Uint8Array; fingerprint: number } {
  const bwt = new Uint8Array(count);
  let h = 0x811c9dc5;
  for (let i = 0; i < count; i++) {
    const b = tt[i] & 0xff;
    bwt[i] = b;
    h = Math.imul(h ^ b, 0x01000193);
  }
  return { bwt, fingerprint: (Math.imul(h ^ origPtr, 0x01000193) ^ count) >>> 0 };
}

function grow(buf: Uint8Array, need: number): Uint8Array {
  const next = new Uint8Array(Math.max(need, buf.length * 2));
  next.set(buf);
  return next;
}
