// Writes a virtual disk as a compressed qcow2 v3 image of its non-zero clusters (QEMU's docs/interop/qcow2.txt),
// written here: no library produces qcow2 as a stream. Clusters are deflated in worker threads (deflate-worker.ts) and
// packed byte after byte as they come, in disk order; the tables go after the data and the header, which points at
// them, is produced last, so the image is sent part by part while later parts are still being compressed, and is
// never on disk or whole in memory.
import { availableParallelism } from "node:os";
import { UsageError } from "../errors";
import { isZero } from "./bytes";
import type { DeflateJob, DeflateReply } from "./codecs/deflate-worker";
import type { VirtualDisk } from "./disk";
import { workerPool, type Executor } from "./codecs/pool";

const CLUSTER_BITS = 16;
const CLUSTER = 1 << CLUSTER_BITS;
const L2_ENTRIES = CLUSTER / 8;
/** refcount_order 4: 16-bit refcounts, CLUSTER / 2 of them in a refcount block. */
const REFCOUNTS_PER_BLOCK = CLUSTER / 2;
const V3_HEADER_LENGTH = 104;
/** Compressed data is addressed in 512-byte sectors: its L2 entry holds the count of sectors it touches, less one. */
const SECTOR = 512;
/** Bits of a compressed cluster's L2 entry that hold the host offset: 62 - (cluster_bits - 8). */
const OFFSET_BITS = 62 - (CLUSTER_BITS - 8);
/** The disk is read and judged in runs of this many clusters (4 MiB). */
const RUN = 64;

export interface Qcow2Stream {
  /**
   * The image's bytes in order. The first cluster is a placeholder (zeros) until the stream has ended: `header()` then
   * gives the bytes that replace it. A chunk's memory is used again once the next chunk is asked for: copy it first.
   */
  chunks: AsyncIterable<Buffer>;
  /** The first cluster of the image, once `chunks` has ended. */
  header(): Buffer;
  /** Counts so far; final once `chunks` has ended. */
  readonly stats: Qcow2Stats;
}

export interface Qcow2Stats {
  /** Bytes of the qcow2 file. */
  size: number;
  /** The guest disk's size. */
  virtualSize: number;
  /** Clusters of guest data the image holds (the rest of the disk reads as zeros). */
  dataClusters: number;
  /** Of those, how many did not shrink under deflate and are stored in deflate's uncompressed blocks. */
  storedClusters: number;
}

export interface CompressedQcow2Options {
  /**
   * zlib level, 1 (fastest) to 9. @default 2: where a link runs at tens of MB/s the CPU is what limits, and level 2
   * compresses twice as fast as level 6 (`qemu-img convert -c`) for a few percent more bytes
   */
  level?: number;
  /** Worker threads compressing. @default one less than the machine's parallelism (at least 1, at most 4) */
  workers?: number;
  /** Called with bytes of the virtual disk read so far. */
  onScan?: (bytes: number, total: number) => void;
}

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

/** Reads `disk` once, and produces the compressed qcow2 image of its clusters that are not all zeros. */
export function compressedQcow2(disk: VirtualDisk, options: CompressedQcow2Options = {}): Qcow2Stream {
  const virtualSize = disk.size;
  const clusters = Math.ceil(virtualSize / CLUSTER);
  const l1Size = Math.max(1, Math.ceil(clusters / L2_ENTRIES));
  const level = options.level ?? 2;
  // One core is left to this thread, which reads, finds the zero clusters and sends.
  const workers = options.workers ?? Math.max(1, Math.min(availableParallelism() - 1, 4));
  const stats: Qcow2Stats = { size: CLUSTER, virtualSize, dataClusters: 0, storedClusters: 0 };
  /** L2 tables by L1 index, made when a cluster in their range has data. */
  const l2 = new Map<number, Buffer>();
  /** Refcounts of the data area's host clusters (index 0 is the header, counted apart). */
  const counts = new Counts();
  let headerBytes: Buffer | null = null;

  /** Buffers of a run's size, and of its compressed size at most, used again and again (no garbage per run). */
  const freeRuns: Buffer[] = [];
  const freeOuts: Uint8Array[] = [];
  const runBuffer = () => freeRuns.pop() ?? Buffer.allocUnsafeSlow(RUN * CLUSTER);

  /** Reads run `r` and starts deflating its clusters that hold data, in a worker. */
  const startRun = (pool: Executor<DeflateJob, DeflateReply>, r: number) => {
    const first = r * RUN;
    const at = first * CLUSTER;
    const length = Math.min(RUN * CLUSTER, virtualSize - at);
    const started = (async () => {
      const bytes = runBuffer();
      await disk.readInto(bytes, 0, length, at);
      bytes.fill(0, length); // the last run of a disk whose size is not a whole number of clusters
      // The clusters with data, moved to the front in order; the rest of the buffer is not looked at.
      const found: number[] = [];
      for (let i = 0; i * CLUSTER < length; i++) {
        const piece = bytes.subarray(i * CLUSTER, (i + 1) * CLUSTER);
        if (isZero(piece)) continue;
        if (found.length !== i) bytes.copy(bytes, found.length * CLUSTER, i * CLUSTER, (i + 1) * CLUSTER);
        found.push(i);
      }
      if (found.length === 0) {
        freeRuns.push(bytes);
        return { end: at + length, clusters: [] as number[], reply: null };
      }
      const out = freeOuts.pop() ?? new Uint8Array(RUN * (CLUSTER + 10));
      const reply = await pool.run({ id: r, bytes, count: found.length, out, clusterSize: CLUSTER, level }, [
        bytes.buffer as ArrayBuffer,
        out.buffer as ArrayBuffer,
      ]);
      if (reply.error) throw new Error(`qcow2 writer: compressing clusters failed: ${reply.error}`);
      freeRuns.push(Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength));
      return { end: at + length, clusters: found.map((i) => first + i), reply };
    })();
    // Awaited in turn later; a failure before then must not count as unhandled (it is rethrown where awaited).
    started.catch(() => undefined);
    return started;
  };

  async function* produce(): AsyncGenerator<Buffer> {
    yield Buffer.alloc(CLUSTER); // the header's place
    let offset = CLUSTER;
    const runs = Math.ceil(clusters / RUN);
    const pool = await workerPool<DeflateJob, DeflateReply>(
      "deflate-worker",
      workers,
      async () => (await import("./codecs/deflate-worker")).runJob,
      (id, err) => ({ id, bytes: new Uint8Array(0), out: new Uint8Array(0), lengths: [], stored: 0, error: err.message }),
    );
    try {
      // Each worker has a run to compress, and one more waits read, while the earliest is sent.
      const lookahead = workers + 1;
      const pending: ReturnType<typeof startRun>[] = [];
      for (let r = 0; r < Math.min(lookahead, runs); r++) pending.push(startRun(pool, r));
      for (let r = 0; r < runs; r++) {
        const run = await pending.shift()!;
        if (r + lookahead < runs) pending.push(startRun(pool, r + lookahead));
        if (run.reply) {
          const { out, lengths, stored } = run.reply;
          let at = 0;
          run.clusters.forEach((cluster, k) => {
            const length = lengths[k];
            const sectors = Math.ceil(((offset % SECTOR) + length) / SECTOR);
            const l1Index = Math.floor(cluster / L2_ENTRIES);
            let table = l2.get(l1Index);
            if (!table) l2.set(l1Index, (table = Buffer.alloc(CLUSTER)));
            // Bit 62: compressed; bits 54-61: sectors touched less one; bits 0-53: the byte offset. Written as two words.
            const entry = (cluster % L2_ENTRIES) * 8;
            table.writeUInt32BE((0x40000000 | ((sectors - 1) << (OFFSET_BITS - 32)) | Math.floor(offset / 2 ** 32)) >>> 0, entry);
            table.writeUInt32BE(offset >>> 0, entry + 4);
            // A compressed cluster holds a reference on every host cluster its sectors touch.
            const end = offset - (offset % SECTOR) + sectors * SECTOR;
            for (let h = Math.floor(offset / CLUSTER); h * CLUSTER < end; h++) counts.add(h);
            offset += length;
            at += length;
          });
          stats.dataClusters += run.clusters.length;
          stats.storedClusters += stored;
          stats.size = offset;
          options.onScan?.(run.end, virtualSize);
          // The consumer copies the chunk before asking for the next one; then its buffer is used again.
          yield Buffer.from(out.buffer, out.byteOffset, at);
          freeOuts.push(out);
        } else options.onScan?.(run.end, virtualSize);
      }
    } finally {
      await pool.close();
    }

    // The tables, after the data: L2 tables (by L1 index), the L1 table, the refcount table, the refcount blocks.
    const dataEnd = Math.ceil(offset / CLUSTER);
    const l1Indices = [...l2.keys()].sort((a, b) => a - b);
    const l2At = dataEnd;
    const l1At = l2At + l1Indices.length;
    const l1Clusters = Math.ceil((l1Size * 8) / CLUSTER);
    const refTableAt = l1At + l1Clusters;
    // The refcount blocks count themselves and their table: grow both until they cover every cluster.
    let refBlocks = 1;
    let refTableClusters = 1;
    for (;;) {
      const total = refTableAt + refTableClusters + refBlocks;
      const needBlocks = Math.ceil(total / REFCOUNTS_PER_BLOCK);
      const needTable = Math.ceil((needBlocks * 8) / CLUSTER);
      if (needBlocks <= refBlocks && needTable <= refTableClusters) break;
      refBlocks = Math.max(refBlocks, needBlocks);
      refTableClusters = Math.max(refTableClusters, needTable);
    }
    const refBlocksAt = refTableAt + refTableClusters;
    const total = refBlocksAt + refBlocks;

    const tail = Buffer.alloc(total * CLUSTER - offset);
    /** Where a host cluster starts in `tail`, which begins where the data ends. */
    const put = (cluster: number) => cluster * CLUSTER - offset;
    const l1 = tail.subarray(put(l1At), put(l1At) + l1Size * 8);
    l1Indices.forEach((index, k) => {
      l2.get(index)!.copy(tail, put(l2At + k));
      // The L1 entry: the L2 table's offset, with bit 63 (COPIED: its refcount is exactly one).
      const at = (l2At + k) * CLUSTER;
      l1.writeUInt32BE((0x80000000 | Math.floor(at / 2 ** 32)) >>> 0, index * 8);
      l1.writeUInt32BE(at >>> 0, index * 8 + 4);
    });
    for (let b = 0; b < refBlocks; b++) tail.writeBigUInt64BE(BigInt((refBlocksAt + b) * CLUSTER), put(refTableAt) + b * 8);
    for (let h = 0; h < total; h++) {
      const refcount = h === 0 || h >= dataEnd ? 1 : counts.get(h);
      tail.writeUInt16BE(refcount, put(refBlocksAt) + h * 2);
    }
    stats.size = total * CLUSTER;
    l2.clear();
    yield tail;

    const header = Buffer.alloc(CLUSTER);
    header.writeUInt32BE(0x514649fb, 0);
    header.writeUInt32BE(3, 4);
    header.writeUInt32BE(CLUSTER_BITS, 20);
    header.writeBigUInt64BE(BigInt(virtualSize), 24);
    header.writeUInt32BE(l1Size, 36);
    header.writeBigUInt64BE(BigInt(l1At * CLUSTER), 40);
    header.writeBigUInt64BE(BigInt(refTableAt * CLUSTER), 48);
    header.writeUInt32BE(refTableClusters, 56);
    header.writeUInt32BE(4, 96); // refcount_order
    header.writeUInt32BE(V3_HEADER_LENGTH, 100);
    // No header extensions: the end-of-extensions marker (eight zero bytes) follows at 104. Compression type: zlib,
    // the default when the header is 104 bytes long.
    headerBytes = header;
  }

  return {
    chunks: produce(),
    stats,
    header() {
      if (!headerBytes) throw new Error("qcow2 writer: the header is known only after the last chunk");
      return headerBytes;
    },
  };
}

/** The most bytes `compressedQcow2` can write for a disk of `virtualSize` bytes (every cluster stored, every table). */
export function qcow2SizeBound(virtualSize: number): number {
  const clusters = Math.ceil(virtualSize / CLUSTER);
  const l1Size = Math.max(1, Math.ceil(clusters / L2_ENTRIES));
  const tables = 1 + l1Size + Math.ceil((l1Size * 8) / CLUSTER);
  const data = clusters * (CLUSTER + 10) + CLUSTER;
  const all = Math.ceil(data / CLUSTER) + tables;
  const refs = Math.ceil(all / REFCOUNTS_PER_BLOCK) + 2;
  return (all + refs * 2) * CLUSTER;
}

/**
 * The file an image may be written to at `output`: a path that does not exist yet, or a regular file (which is then
 * replaced). A symlink is followed, and the rule applied to what it names, so the link keeps pointing at the new
 * file. Anything else (a device such as /dev/full, a FIFO, a socket, a directory) is refused before any work: the
 * temporary file renamed over it would replace the node itself.
 */
export async function replaceableTarget(output: string): Promise<string> {
  const { lstat, readlink, stat } = await import("node:fs/promises");
  const { dirname, resolve } = await import("node:path");
  let path = resolve(output);
  for (let hops = 0; ; hops++) {
    const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw new UsageError(`cannot write ${output}: ${err.message}`, "name a file in a directory you can write", "<output>");
    });
    if (!st) break;
    if (st.isSymbolicLink()) {
      if (hops >= 40) throw new UsageError(`cannot write ${output}: too many levels of symbolic links`, "name a regular file, or a link to one", "<output>");
      path = resolve(dirname(path), await readlink(path));
      continue;
    }
    if (st.isFile()) break;
    const what = st.isCharacterDevice()
      ? "a character device"
      : st.isBlockDevice()
        ? "a block device"
        : st.isFIFO()
          ? "a FIFO"
          : st.isSocket()
            ? "a socket"
            : st.isDirectory()
              ? "a directory"
              : "not a regular file";
    throw new UsageError(
      `${output}${path === resolve(output) ? "" : ` (${path})`} is ${what}: the image is written to a temporary file and renamed into place, which would replace it`,
      st.isDirectory() ? `name a file inside it, e.g. ${output.replace(/\/+$/, "")}/image.qcow2` : "name a regular file to write the image to",
      "<output>",
    );
  }
  const parent = await stat(dirname(path)).catch(() => undefined);
  if (!parent?.isDirectory())
    throw new UsageError(`cannot write ${output}: ${dirname(path)} is not a directory`, "name a file in an existing directory", "<output>");
  return path;
}

/**
 * Writes `disk` to `output` as the compressed qcow2 that `push` sends: into a temporary file beside it, the header
 * last, then renamed into place, so `output` is never a partial image. `output` must be replaceable (see
 * replaceableTarget); a symlink is written through.
 */
export async function writeCompressedQcow2(disk: VirtualDisk, output: string, options: CompressedQcow2Options = {}): Promise<Qcow2Stats> {
  const { open, rename, rm } = await import("node:fs/promises");
  const target = await replaceableTarget(output);
  const tmp = `${target}.${process.pid}.tmp`;
  const handle = await open(tmp, "w");
  try {
    const q = compressedQcow2(disk, options);
    let at = 0;
    for await (const chunk of q.chunks) {
      await handle.write(chunk, 0, chunk.length, at);
      at += chunk.length;
    }
    await handle.write(q.header(), 0, CLUSTER, 0);
    await handle.close();
    await rename(tmp, target);
    return q.stats;
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}
