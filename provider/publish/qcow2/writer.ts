// Writes a virtual disk as a compressed qcow2 v3 image of its non-zero clusters, as a stream: clusters are deflated in
// worker threads (scan.ts) and packed byte after byte as they come, in disk order (layout.ts); the tables go after the
// data and the header, which points at them, is produced last, so the image is sent part by part while later parts are
// still being compressed, and is never on disk or whole in memory. Written here: no library produces qcow2 as a stream.
import { availableParallelism } from "node:os";
import type { VirtualDisk } from "../../image/disk";
import { CLUSTER, Qcow2Layout } from "./layout";
import { compressedRuns } from "./scan";
import { replaceableTarget } from "./target";

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

/** Reads `disk` once, and produces the compressed qcow2 image of its clusters that are not all zeros. */
export function compressedQcow2(disk: VirtualDisk, options: CompressedQcow2Options = {}): Qcow2Stream {
  const virtualSize = disk.size;
  const level = options.level ?? 2;
  // One core is left to this thread, which reads, finds the zero clusters and sends.
  const workers = options.workers ?? Math.max(1, Math.min(availableParallelism() - 1, 4));
  const stats: Qcow2Stats = { size: CLUSTER, virtualSize, dataClusters: 0, storedClusters: 0 };
  const layout = new Qcow2Layout(virtualSize);
  let headerBytes: Buffer | null = null;

  async function* produce(): AsyncGenerator<Buffer> {
    yield Buffer.alloc(CLUSTER); // the header's place
    for await (const run of compressedRuns(disk, { level, workers })) {
      if (run.clusters.length > 0) {
        let at = 0;
        run.clusters.forEach((cluster, k) => {
          layout.place(cluster, run.lengths[k]);
          at += run.lengths[k];
        });
        stats.dataClusters += run.clusters.length;
        stats.storedClusters += run.stored;
        stats.size = layout.offset;
        options.onScan?.(run.end, virtualSize);
        // The consumer copies the chunk before asking for the next one; then its buffer is used again.
        yield Buffer.from(run.out.buffer, run.out.byteOffset, at);
      } else options.onScan?.(run.end, virtualSize);
    }
    const tables = layout.tables();
    stats.size = layout.offset;
    yield tables;
    headerBytes = layout.header();
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
