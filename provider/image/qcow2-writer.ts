// Writes a virtual disk as a qcow2 v3 image holding only its non-zero clusters (QEMU's docs/interop/qcow2.txt), written
// here: the layout is fixed by one scan for zero clusters, after which any byte range of the image is produced on
// demand, so an upload can send parts in any order, in parallel, and resume, without the image ever being on disk.
import { isZero } from "./bytes";
import type { VirtualDisk } from "./disk";

const CLUSTER_BITS = 16;
const CLUSTER = 1 << CLUSTER_BITS;
const L2_ENTRIES = CLUSTER / 8;
/** refcount_order 4: 16-bit refcounts, CLUSTER / 2 of them in a refcount block. */
const REFCOUNTS_PER_BLOCK = CLUSTER / 2;
const COPIED = 1n << 63n;
const V3_HEADER_LENGTH = 104;

export interface CompactQcow2 {
  /** Bytes of the qcow2 file. */
  readonly size: number;
  /** The guest disk's size. */
  readonly virtualSize: number;
  /** Clusters of guest data the image holds (the rest of the disk reads as zeros). */
  readonly dataClusters: number;
  /** Bytes [offset, offset + length) of the qcow2 file. */
  read(offset: number, length: number): Promise<Buffer>;
}

export interface CompactOptions {
  /** Called with bytes of the virtual disk scanned so far. */
  onScan?: (bytes: number, total: number) => void;
}

/** Layout of the image in host clusters: header, L1 table, refcount table, refcount blocks, L2 tables, data. */
interface Layout {
  l1Size: number;
  l1At: number;
  l1Clusters: number;
  refTableAt: number;
  refTableClusters: number;
  refBlocksAt: number;
  refBlocks: number;
  l2At: number;
  /** L1 indices that have an L2 table, ascending; the k-th one's table is at host cluster l2At + k. */
  l2Indices: number[];
  dataAt: number;
  total: number;
}

function layout(virtualSize: number, data: Uint32Array): Layout {
  const l1Size = Math.max(1, Math.ceil(Math.ceil(virtualSize / CLUSTER) / L2_ENTRIES));
  const l2Indices: number[] = [];
  for (const c of data) {
    const l1 = Math.floor(c / L2_ENTRIES);
    if (l2Indices[l2Indices.length - 1] !== l1) l2Indices.push(l1);
  }
  const l1Clusters = Math.ceil((l1Size * 8) / CLUSTER);
  const fixed = 1 + l1Clusters + l2Indices.length + data.length;
  // The refcount blocks count themselves and the table: grow both until they cover every cluster.
  let refBlocks = 1;
  let refTableClusters = 1;
  for (;;) {
    const total = fixed + refTableClusters + refBlocks;
    const needBlocks = Math.ceil(total / REFCOUNTS_PER_BLOCK);
    const needTable = Math.ceil((needBlocks * 8) / CLUSTER);
    if (needBlocks <= refBlocks && needTable <= refTableClusters) break;
    refBlocks = Math.max(refBlocks, needBlocks);
    refTableClusters = Math.max(refTableClusters, needTable);
  }
  const l1At = 1;
  const refTableAt = l1At + l1Clusters;
  const refBlocksAt = refTableAt + refTableClusters;
  const l2At = refBlocksAt + refBlocks;
  const dataAt = l2At + l2Indices.length;
  return { l1Size, l1At, l1Clusters, refTableAt, refTableClusters, refBlocksAt, refBlocks, l2At, l2Indices, dataAt, total: dataAt + data.length };
}

/** Scans `disk` for clusters holding anything but zeros, and returns the qcow2 image of just those. */
export async function compactQcow2(disk: VirtualDisk, options: CompactOptions = {}): Promise<CompactQcow2> {
  const virtualSize = disk.size;
  const clusters = Math.ceil(virtualSize / CLUSTER);
  const found: number[] = [];
  // Read in 8 MiB runs (a read per cluster costs more than the comparison), judged a cluster at a time.
  const RUN = 128;
  for (let c = 0; c < clusters; c += RUN) {
    const at = c * CLUSTER;
    const run = await disk.read(at, Math.min(RUN * CLUSTER, virtualSize - at));
    for (let i = 0; i * CLUSTER < run.length; i++) if (!isZero(run.subarray(i * CLUSTER, (i + 1) * CLUSTER))) found.push(c + i);
    options.onScan?.(at + run.length, virtualSize);
  }
  const data = Uint32Array.from(found);
  const L = layout(virtualSize, data);

  const header = Buffer.alloc(CLUSTER);
  header.writeUInt32BE(0x514649fb, 0);
  header.writeUInt32BE(3, 4);
  header.writeUInt32BE(CLUSTER_BITS, 20);
  header.writeBigUInt64BE(BigInt(virtualSize), 24);
  header.writeUInt32BE(L.l1Size, 36);
  header.writeBigUInt64BE(BigInt(L.l1At * CLUSTER), 40);
  header.writeBigUInt64BE(BigInt(L.refTableAt * CLUSTER), 48);
  header.writeUInt32BE(L.refTableClusters, 56);
  header.writeUInt32BE(4, 96); // refcount_order
  header.writeUInt32BE(V3_HEADER_LENGTH, 100);
  // No header extensions: the end-of-extensions marker (eight zero bytes) follows at 104.

  const l1 = Buffer.alloc(L.l1Clusters * CLUSTER);
  L.l2Indices.forEach((l1Index, k) => l1.writeBigUInt64BE(BigInt((L.l2At + k) * CLUSTER) | COPIED, l1Index * 8));
  const refTable = Buffer.alloc(L.refTableClusters * CLUSTER);
  for (let b = 0; b < L.refBlocks; b++) refTable.writeBigUInt64BE(BigInt((L.refBlocksAt + b) * CLUSTER), b * 8);

  /** First index in `data` of a virtual cluster >= c. */
  const lowerBound = (c: number) => {
    let lo = 0;
    let hi = data.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (data[mid] < c) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const hostCluster = async (h: number): Promise<Buffer> => {
    if (h === 0) return header;
    if (h < L.refTableAt) return l1.subarray((h - L.l1At) * CLUSTER, (h - L.l1At + 1) * CLUSTER);
    if (h < L.refBlocksAt) return refTable.subarray((h - L.refTableAt) * CLUSTER, (h - L.refTableAt + 1) * CLUSTER);
    if (h < L.l2At) {
      // Refcount block: every cluster of the image is used once.
      const block = Buffer.alloc(CLUSTER);
      const first = (h - L.refBlocksAt) * REFCOUNTS_PER_BLOCK;
      for (let i = 0; i < REFCOUNTS_PER_BLOCK && first + i < L.total; i++) block.writeUInt16BE(1, i * 2);
      return block;
    }
    if (h < L.dataAt) {
      const l1Index = L.l2Indices[h - L.l2At];
      const table = Buffer.alloc(CLUSTER);
      const end = lowerBound((l1Index + 1) * L2_ENTRIES);
      for (let i = lowerBound(l1Index * L2_ENTRIES); i < end; i++)
        table.writeBigUInt64BE(BigInt((L.dataAt + i) * CLUSTER) | COPIED, (data[i] - l1Index * L2_ENTRIES) * 8);
      return table;
    }
    const at = data[h - L.dataAt] * CLUSTER;
    const bytes = await disk.read(at, Math.min(CLUSTER, virtualSize - at));
    return bytes.length === CLUSTER ? bytes : Buffer.concat([bytes, Buffer.alloc(CLUSTER - bytes.length)]);
  };

  const size = L.total * CLUSTER;
  return {
    size,
    virtualSize,
    dataClusters: data.length,
    async read(offset, length) {
      if (offset < 0 || length < 0 || offset + length > size) throw new RangeError(`read of ${length} bytes at ${offset} outside a ${size}-byte image`);
      const out = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const pos = offset + done;
        const h = Math.floor(pos / CLUSTER);
        const within = pos - h * CLUSTER;
        const n = Math.min(CLUSTER - within, length - done);
        (await hostCluster(h)).copy(out, done, within, within + n);
        done += n;
      }
      return out;
    },
  };
}
