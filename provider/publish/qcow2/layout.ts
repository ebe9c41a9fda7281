// Where a compressed qcow2 v3 image (QEMU's docs/interop/qcow2.txt) puts what: the L2 entry and refcounts of each
// compressed cluster as it is placed, then the tables after the data and the header that points at them. Written
// here (no library produces qcow2 as a stream); no I/O, so it is tested alone (test/publish/qcow2-layout.test.ts).

export const CLUSTER_BITS = 16;
export const CLUSTER = 1 << CLUSTER_BITS;
const L2_ENTRIES = CLUSTER / 8;
/** refcount_order 4: 16-bit refcounts, CLUSTER / 2 of them in a refcount block. */
const REFCOUNTS_PER_BLOCK = CLUSTER / 2;
const V3_HEADER_LENGTH = 104;
/** Compressed data is addressed in 512-byte sectors: its L2 entry holds the count of sectors it touches, less one. */
const SECTOR = 512;
/** Bits of a compressed cluster's L2 entry that hold the host offset: 62 - (cluster_bits - 8). */
const OFFSET_BITS = 62 - (CLUSTER_BITS - 8);

/** Grows by doubling: one counter per host cluster of compressed data. */
class Counts {
  private a = new Uint16Array(1024);
  add(index: number): void {
    while (index >= this.a.length) {
      const b = new Uint16Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    if (this.a[index] === 0xffff) throw new Error(`qcow2 writer: host cluster ${index} is shared by more compressed clusters than a 16-bit refcount holds`);
    this.a[index]++;
  }
  get(index: number): number {
    return this.a[index];
  }
}

/**
 * The image's layout as its data is placed: first cluster the header's, then compressed clusters packed byte after
 * byte in the order `place` is called, then (from `tables`) the L2 tables, the L1 table, the refcount table and blocks.
 */
export class Qcow2Layout {
  /** Bytes of the image so far: where the next compressed cluster goes. */
  offset = CLUSTER;
  private readonly l1Size: number;
  /** L2 tables by L1 index, made when a cluster in their range has data. */
  private readonly l2 = new Map<number, Buffer>();
  /** Refcounts of the data area's host clusters (index 0 is the header, counted apart). */
  private readonly counts = new Counts();
  private l1At = 0;
  private refTableAt = 0;
  private refTableClusters = 0;

  constructor(readonly virtualSize: number) {
    this.l1Size = Math.max(1, Math.ceil(Math.ceil(virtualSize / CLUSTER) / L2_ENTRIES));
  }

  /** Records guest cluster `cluster`, compressed to `length` bytes, as stored at the current offset. */
  place(cluster: number, length: number): void {
    const offset = this.offset;
    const sectors = Math.ceil(((offset % SECTOR) + length) / SECTOR);
    const l1Index = Math.floor(cluster / L2_ENTRIES);
    let table = this.l2.get(l1Index);
    if (!table) this.l2.set(l1Index, (table = Buffer.alloc(CLUSTER)));
    // Bit 62: compressed; bits 54-61: sectors touched less one; bits 0-53: the byte offset. Written as two words.
    const entry = (cluster % L2_ENTRIES) * 8;
    table.writeUInt32BE((0x40000000 | ((sectors - 1) << (OFFSET_BITS - 32)) | Math.floor(offset / 2 ** 32)) >>> 0, entry);
    table.writeUInt32BE(offset >>> 0, entry + 4);
    // A compressed cluster holds a reference on every host cluster its sectors touch.
    const end = offset - (offset % SECTOR) + sectors * SECTOR;
    for (let h = Math.floor(offset / CLUSTER); h * CLUSTER < end; h++) this.counts.add(h);
    this.offset += length;
  }

  /** The bytes after the data: every table, padded so the image ends on a cluster. Called once, after the last `place`. */
  tables(): Buffer {
    const offset = this.offset;
    const dataEnd = Math.ceil(offset / CLUSTER);
    const l1Indices = [...this.l2.keys()].sort((a, b) => a - b);
    const l2At = dataEnd;
    this.l1At = l2At + l1Indices.length;
    const l1Clusters = Math.ceil((this.l1Size * 8) / CLUSTER);
    this.refTableAt = this.l1At + l1Clusters;
    // The refcount blocks count themselves and their table: grow both until they cover every cluster.
    let refBlocks = 1;
    let refTableClusters = 1;
    for (;;) {
      const total = this.refTableAt + refTableClusters + refBlocks;
      const needBlocks = Math.ceil(total / REFCOUNTS_PER_BLOCK);
      const needTable = Math.ceil((needBlocks * 8) / CLUSTER);
      if (needBlocks <= refBlocks && needTable <= refTableClusters) break;
      refBlocks = Math.max(refBlocks, needBlocks);
      refTableClusters = Math.max(refTableClusters, needTable);
    }
    this.refTableClusters = refTableClusters;
    const refBlocksAt = this.refTableAt + refTableClusters;
    const total = refBlocksAt + refBlocks;

    const tail = Buffer.alloc(total * CLUSTER - offset);
    /** Where a host cluster starts in `tail`, which begins where the data ends. */
    const put = (cluster: number) => cluster * CLUSTER - offset;
    const l1 = tail.subarray(put(this.l1At), put(this.l1At) + this.l1Size * 8);
    l1Indices.forEach((index, k) => {
      this.l2.get(index)!.copy(tail, put(l2At + k));
      // The L1 entry: the L2 table's offset, with bit 63 (COPIED: its refcount is exactly one).
      const at = (l2At + k) * CLUSTER;
      l1.writeUInt32BE((0x80000000 | Math.floor(at / 2 ** 32)) >>> 0, index * 8);
      l1.writeUInt32BE(at >>> 0, index * 8 + 4);
    });
    for (let b = 0; b < refBlocks; b++) tail.writeBigUInt64BE(BigInt((refBlocksAt + b) * CLUSTER), put(this.refTableAt) + b * 8);
    for (let h = 0; h < total; h++) {
      const refcount = h === 0 || h >= dataEnd ? 1 : this.counts.get(h);
      tail.writeUInt16BE(refcount, put(refBlocksAt) + h * 2);
    }
    this.offset = total * CLUSTER;
    this.l2.clear();
    return tail;
  }

  /** The first cluster: the header, pointing at the tables (so only after `tables`). */
  header(): Buffer {
    if (this.l1At === 0) throw new Error("qcow2 writer: the header is known only after the tables");
    const header = Buffer.alloc(CLUSTER);
    header.writeUInt32BE(0x514649fb, 0);
    header.writeUInt32BE(3, 4);
    header.writeUInt32BE(CLUSTER_BITS, 20);
    header.writeBigUInt64BE(BigInt(this.virtualSize), 24);
    header.writeUInt32BE(this.l1Size, 36);
    header.writeBigUInt64BE(BigInt(this.l1At * CLUSTER), 40);
    header.writeBigUInt64BE(BigInt(this.refTableAt * CLUSTER), 48);
    header.writeUInt32BE(this.refTableClusters, 56);
    header.writeUInt32BE(4, 96); // refcount_order
    header.writeUInt32BE(V3_HEADER_LENGTH, 100);
    // No header extensions: the end-of-extensions marker (eight zero bytes) follows at 104. Compression type: zlib,
    // the default when the header is 104 bytes long.
    return header;
  }
}

/** The most bytes a compressed qcow2 of a disk of `virtualSize` bytes can take (every cluster stored, every table). */
export function qcow2SizeBound(virtualSize: number): number {
  const clusters = Math.ceil(virtualSize / CLUSTER);
  const l1Size = Math.max(1, Math.ceil(clusters / L2_ENTRIES));
  const tables = 1 + l1Size + Math.ceil((l1Size * 8) / CLUSTER);
  const data = clusters * (CLUSTER + 10) + CLUSTER;
  const all = Math.ceil(data / CLUSTER) + tables;
  const refs = Math.ceil(all / REFCOUNTS_PER_BLOCK) + 2;
  return (all + refs * 2) * CLUSTER;
}
