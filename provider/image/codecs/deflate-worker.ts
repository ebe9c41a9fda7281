// Worker thread of the qcow2 writer: deflates the clusters of one run of a disk, each on its own as qcow2 wants them.
import { deflateRawSync } from "node:zlib";
import { parentPort } from "node:worker_threads";

export interface DeflateJob {
  id: number;
  /** Clusters of `clusterSize` bytes, one after the other, each compressed on its own. */
  bytes: Uint8Array;
  /** How many of the clusters in `bytes` to compress. */
  count: number;
  /** Where the compressed clusters go: at least `count` × (`clusterSize` + 10) bytes. */
  out: Uint8Array;
  clusterSize: number;
  level: number;
}

export interface DeflateReply {
  id: number;
  /** The job's buffers, handed back to be used again. */
  bytes: Uint8Array;
  /** The compressed clusters, one after the other at the start of `out`; `lengths[k]` bytes each. */
  out: Uint8Array;
  lengths: number[];
  /** Clusters that deflate did not shrink, sent in deflate's stored blocks. */
  stored: number;
  error?: string;
}

/** Data that does not shrink by this fraction is stored as it is. */
const WORTH = 0.98;
/** After an incompressible cluster, the next one is first tried on this many bytes (btrfs samples the same way). */
const SAMPLE = 4096;

/** A cluster as deflate "stored" blocks (RFC 1951 3.2.4): for data deflate cannot shrink. */
export function storedDeflate(cluster: Uint8Array): Buffer {
  const out = Buffer.alloc(cluster.length + 5 * Math.ceil(cluster.length / 0xffff));
  let at = 0;
  for (let off = 0; off < cluster.length; off += 0xffff) {
    const n = Math.min(0xffff, cluster.length - off);
    out[at] = off + n === cluster.length ? 1 : 0; // BFINAL on the last block, BTYPE 00
    out.writeUInt16LE(n, at + 1);
    out.writeUInt16LE(~n & 0xffff, at + 3);
    out.set(cluster.subarray(off, off + n), at + 5);
    at += 5 + n;
  }
  return out;
}

export function runJob(job: DeflateJob): DeflateReply {
  // A 4 KiB window: QEMU inflates compressed clusters with one (windowBits -12).
  // One output chunk a bit larger than a cluster: deflate's output comes back whole, without pieces to join.
  const options = { level: job.level, windowBits: 12, chunkSize: job.clusterSize + 4096 };
  const lengths: number[] = [];
  let at = 0;
  const put = (b: Uint8Array) => {
    job.out.set(b, at);
    at += b.length;
    lengths.push(b.length);
  };
  let stored = 0;
  let lastStored = false;
  for (let k = 0; k < job.count; k++) {
    const cluster = job.bytes.subarray(k * job.clusterSize, (k + 1) * job.clusterSize);
    // Incompressible data (compressed files, encrypted data) comes in runs: after a stored cluster, a sample decides.
    const skip: boolean = lastStored && deflateRawSync(cluster.subarray(0, SAMPLE), { level: 1, windowBits: 12 }).length >= SAMPLE * WORTH;
    const packed: Buffer | null = skip ? null : deflateRawSync(cluster, options);
    lastStored = !packed || packed.length >= cluster.length * WORTH;
    if (packed && packed.length < cluster.length) put(packed);
    else {
      put(storedDeflate(cluster));
      stored++;
    }
  }
  return { id: job.id, bytes: job.bytes, out: job.out, lengths, stored };
}

parentPort?.on("message", (job: DeflateJob) => {
  try {
    const reply = runJob(job);
    parentPort!.postMessage(reply, [reply.bytes.buffer as ArrayBuffer, reply.out.buffer as ArrayBuffer]);
  } catch (err) {
    const reply: DeflateReply = { id: job.id, bytes: job.bytes, out: job.out, lengths: [], stored: 0, error: (err as Error).message };
    parentPort!.postMessage(reply, [job.bytes.buffer as ArrayBuffer, job.out.buffer as ArrayBuffer]);
  }
});
