// Reads a virtual disk once, in runs of 64 clusters (4 MiB), keeps the clusters that are not all zeros and deflates
// them in worker threads (image/codecs/deflate-worker.ts), several runs at once, handing them on in disk order.
import { isZero } from "../../image/bytes";
import type { DeflateJob, DeflateReply } from "../../image/codecs/deflate-worker";
import { workerPool, type Executor } from "../../image/codecs/pool";
import type { VirtualDisk } from "../../image/disk";
import { CLUSTER } from "./layout";

/** The disk is read and judged in runs of this many clusters. */
const RUN = 64;

/** One run, compressed: its guest clusters with data and, in `out`, their deflated bytes back to back. */
export interface CompressedRun {
  /** Bytes of the disk read once this run is done. */
  end: number;
  /** Guest cluster numbers, in order; empty when the whole run reads as zeros. */
  clusters: number[];
  /** Each cluster's deflated length, in `out`. */
  lengths: number[];
  out: Uint8Array;
  /** How many did not shrink and are stored in deflate's uncompressed blocks. */
  stored: number;
}

export interface ScanOptions {
  level: number;
  workers: number;
}

/**
 * The disk's runs, compressed, in order. A run's `out` is used again for a later run once the next one is asked for:
 * the consumer copies it (or sends it) first.
 */
export async function* compressedRuns(disk: VirtualDisk, { level, workers }: ScanOptions): AsyncGenerator<CompressedRun> {
  const size = disk.size;
  const runs = Math.ceil(Math.ceil(size / CLUSTER) / RUN);
  /** Buffers of a run's size, and of its compressed size at most, used again and again (no garbage per run). */
  const freeRuns: Buffer[] = [];
  const freeOuts: Uint8Array[] = [];

  /** Reads run `r` and starts deflating its clusters that hold data, in a worker. */
  const startRun = (pool: Executor<DeflateJob, DeflateReply>, r: number): Promise<CompressedRun> => {
    const first = r * RUN;
    const at = first * CLUSTER;
    const length = Math.min(RUN * CLUSTER, size - at);
    const started = (async () => {
      const bytes = freeRuns.pop() ?? Buffer.allocUnsafeSlow(RUN * CLUSTER);
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
        return { end: at + length, clusters: [], lengths: [], out: new Uint8Array(0), stored: 0 };
      }
      const out = freeOuts.pop() ?? new Uint8Array(RUN * (CLUSTER + 10));
      const reply = await pool.run({ id: r, bytes, count: found.length, out, clusterSize: CLUSTER, level }, [
        bytes.buffer as ArrayBuffer,
        out.buffer as ArrayBuffer,
      ]);
      if (reply.error) throw new Error(`qcow2 writer: compressing clusters failed: ${reply.error}`);
      freeRuns.push(Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength));
      return { end: at + length, clusters: found.map((i) => first + i), lengths: reply.lengths, out: reply.out, stored: reply.stored };
    })();
    // Awaited in turn later; a failure before then must not count as unhandled (it is rethrown where awaited).
    started.catch(() => undefined);
    return started;
  };

  const pool = await workerPool<DeflateJob, DeflateReply>(
    "deflate-worker",
    workers,
    async () => (await import("../../image/codecs/deflate-worker")).runJob,
    (id, err) => ({ id, bytes: new Uint8Array(0), out: new Uint8Array(0), lengths: [], stored: 0, error: err.message }),
  );
  try {
    // Each worker has a run to compress, and one more waits read, while the earliest is handed on.
    const lookahead = workers + 1;
    const pending: Promise<CompressedRun>[] = [];
    for (let r = 0; r < Math.min(lookahead, runs); r++) pending.push(startRun(pool, r));
    for (let r = 0; r < runs; r++) {
      const run = await pending.shift()!;
      if (r + lookahead < runs) pending.push(startRun(pool, r + lookahead));
      yield run;
      if (run.clusters.length > 0) freeOuts.push(run.out);
    }
  } finally {
    await pool.close();
  }
}
