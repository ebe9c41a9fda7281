// Parallel bzip2 decoding: blocks are found by their bit-aligned magic and decoded in worker threads, in order.
import { availableParallelism } from "node:os";
import { BitReader, BLOCK_MAGIC, EOS_MAGIC, OutOfInput } from "./bzip2";
import { isZero } from "../bytes";
import type { BlockJob, BlockReply } from "./bzip2-worker";
import { ImageError } from "../errors";
import { workerPool, type Executor } from "./pool";

/** The largest a compressed block can be (900 kB of input, bzip2's worst-case expansion is well under 25 %). */
const MAX_COMPRESSED_BLOCK = 1_125_000 + 4096;
const MAX_BLOCK = 900_000;

/**
 * The eight byte patterns the 48-bit block magic makes at each bit shift: for shift s the magic starts s bits into a
 * byte, and bytes 1..4 of the 7 it touches are fully determined, so a native Buffer.indexOf finds candidates.
 */
const NEEDLES = (() => {
  const magic = (BigInt(BLOCK_MAGIC[0]) << 24n) | BigInt(BLOCK_MAGIC[1]);
  const out: Buffer[] = [];
  for (let s = 0; s < 8; s++) {
    const v = magic << BigInt(64 - 48 - s); // magic at bit s of a 64-bit big-endian window
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v & 0xffffffffffffffffn);
    out.push(b.subarray(1, 5));
  }
  return out;
})();

function bitsAt(buf: Uint8Array, bit: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const b = bit + i;
    v = v * 2 + ((buf[b >>> 3] >>> (7 - (b & 7))) & 1);
  }
  return v;
}

function isMagicAt(buf: Uint8Array, bit: number, magic: readonly [number, number]): boolean {
  return (bit + 48) >>> 3 <= buf.length && bitsAt(buf, bit, 24) === magic[0] && bitsAt(buf, bit + 24, 24) === magic[1];
}

// Absolute bit positions pass 2^32 after 512 MiB of input: they use plain arithmetic, never 32-bit bit operators.

/** Finds block magics at any bit offset, remembering per shift how far it has searched so no byte is scanned twice. */
class MagicScanner {
  private readonly next = new Array<number>(8).fill(-1); // absolute bit of the next candidate per shift, -1 unknown
  private readonly searched = new Array<number>(8).fill(0); // absolute byte up to which each shift was searched

  /** The absolute bit position of the next block magic at or after `fromBit` within buf (which starts at byte `base`). */
  find(buf: Buffer, base: number, fromBit: number): number | null {
    let best: number | null = null;
    for (let s = 0; s < 8; s++) {
      while (this.next[s] < fromBit) {
        const from = Math.max(this.searched[s], Math.floor(fromBit / 8) - 1, base);
        const at = buf.indexOf(NEEDLES[s], from - base);
        if (at < 0) {
          this.searched[s] = Math.max(base, base + buf.length - 4);
          this.next[s] = Number.MAX_SAFE_INTEGER; // none in the buffer yet: search again when it grows
          break;
        }
        this.searched[s] = base + at + 1;
        const bit = (base + at - 1) * 8 + s;
        if (bit >= fromBit && bit >= base * 8 && isMagicAt(buf, bit - base * 8, BLOCK_MAGIC)) this.next[s] = bit;
      }
      if (this.next[s] !== Number.MAX_SAFE_INTEGER && (best === null || this.next[s] < best)) best = this.next[s];
    }
    return best;
  }

  /** Forget "not found" answers after the buffer grew. */
  grown(): void {
    for (let s = 0; s < 8; s++) if (this.next[s] === Number.MAX_SAFE_INTEGER) this.next[s] = -1;
  }
}

/** Worker threads decoding blocks (bzip2-worker.ts); without its compiled file, blocks decode in this thread. */
function makeExecutor(workers: number): Promise<Executor<BlockJob, BlockReply>> {
  return workerPool<BlockJob, BlockReply>(
    "bzip2-worker",
    workers,
    async () => (await import("./bzip2-worker")).runJob,
    (id, err) => ({ id, ok: false, outOfInput: false, message: `bzip2 worker failed: ${err.message}`, code: "internal", fix: "report this as a bug" }),
  );
}

export interface Bunzip2Options {
  /** Worker threads decoding blocks; 0 decodes in this thread. Default: the machine's parallelism, at most 8. */
  workers?: number;
  /** Called once with whether workers are in use (tests check that the parallel path ran). */
  onStart?: (info: { parallel: boolean; workers: number }) => void;
}

/**
 * Decompresses a bzip2 file (any number of concatenated streams, as pbzip2 and lbzip2 write) with blocks decoded in
 * parallel, yielding the output in order and holding a bounded number of blocks in memory.
 */
export async function* bunzip2(input: AsyncIterable<Buffer>, where: string, options: Bunzip2Options = {}): AsyncGenerator<Uint8Array> {
  const workers = options.workers ?? Math.min(availableParallelism(), 8);
  const exec = await makeExecutor(workers);
  options.onStart?.({ parallel: exec.parallel, workers: exec.parallel ? workers : 0 });
  // Each block in flight may hold up to ~46 MB of output (bzip2's run-length stage): few are queued beyond the workers.
  const maxInFlight = Math.max(2, workers + 2);
  const iterator = input[Symbol.asyncIterator]();
  let buf: Buffer = Buffer.alloc(0);
  let base = 0; // absolute byte offset of buf[0]
  let ended = false;
  const scanner = new MagicScanner();

  const corrupt = (what: string, bit?: number) =>
    new ImageError(`${where}: ${what}${bit !== undefined ? ` at compressed bit ${bit}` : ""}`, {
      file: where,
      fix: "the file is damaged; check it with bzip2 -t",
      code: "bzip2-corrupt",
    });
  const truncated = () =>
    new ImageError(`${where}: the bzip2 data ends in the middle of a block; the file is truncated`, {
      file: where,
      fix: "download or copy the file again; bzip2 -t tells whether a .bz2 file is complete",
      code: "truncated",
    });

  /** Reads more input; false at the end of the file. */
  const more = async (): Promise<boolean> => {
    if (ended) return false;
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      return false;
    }
    buf = buf.length === 0 ? next.value : Buffer.concat([buf, next.value]);
    scanner.grown();
    return true;
  };
  /** Drops bytes before `bit`; they are no longer needed by the scanner, the jobs or the in-order checks. */
  const release = (bit: number) => {
    const drop = Math.floor(bit / 8) - base;
    if (drop > 4 * 1024 * 1024) {
      buf = buf.subarray(drop);
      base += drop;
    }
  };
  const have = (bit: number, bits: number) => Math.ceil((bit + bits) / 8) <= base + buf.length;

  // Jobs are submitted in scan order; `expected` is where, by the authority of the decoder, the next magic must be.
  const inFlight: { magicBit: number; job: BlockJob; reply: Promise<BlockReply> }[] = [];
  // Bytes of recent blocks that expanded a lot, by fingerprint and CRC: a worker that recognises a repeat of one sends
  // no bytes, and the same buffer is yielded again (a bomb of one block repeated costs no expansion, copy or compare).
  const recent = new Map<string, Uint8Array>();
  const keyOf = (fingerprint: number, crc: number) => `${fingerprint}:${crc}`;
  let scanFrom = 0;
  let expected = -1; // -1: a stream header comes next
  let streams = 0;
  let combined = 0;
  let jobId = 0;
  let frontier = 0; // absolute bit just past what the in-order reader has consumed

  const submit = async (): Promise<boolean> => {
    let magic = scanner.find(buf, base, scanFrom);
    while (magic === null || !have(magic, 48 + 8 * MAX_COMPRESSED_BLOCK)) {
      if (!(await more())) break;
      magic = scanner.find(buf, base, scanFrom);
    }
    if (magic === null) return false;
    const startByte = Math.floor((magic + 48) / 8);
    const endByte = Math.min(base + buf.length, startByte + MAX_COMPRESSED_BLOCK + 1);
    const data = new Uint8Array(buf.subarray(startByte - base, endByte - base)); // a copy the worker may own
    const job: BlockJob = { id: jobId++, data, startBit: (magic + 48) % 8, maxBlock: MAX_BLOCK, where, mayRepeat: true };
    inFlight.push({ magicBit: magic, job, reply: exec.run(job) });
    scanFrom = magic + 1;
    return true;
  };

  try {
    for (;;) {
      if (expected === -1) {
        // A stream header, byte-aligned: "BZh" and the level digit.
        const at = streams === 0 ? 0 : Math.ceil(frontier / 8);
        while (!have(at * 8, 32) && (await more()));
        if (at >= base + buf.length) break;
        const h = buf.subarray(at - base, at - base + 4);
        if (h.length < 4 || h.toString("latin1", 0, 3) !== "BZh" || h[3] < 0x31 || h[3] > 0x39) {
          if (streams > 0 && isZero(buf.subarray(at - base)) && !(await more())) break; // zero padding after the last stream
          throw corrupt(`expected a bzip2 stream header ("BZh1".."BZh9") at byte ${at}`);
        }
        streams++;
        combined = 0;
        expected = (at + 4) * 8;
        if (scanFrom < expected) scanFrom = expected;
      }
      while (inFlight.length < maxInFlight && (await submit()));
      // Within a stream: the next thing at `expected` is a block magic or the end-of-stream magic.
      while (!have(expected, 80) && (await more()));
      if (isMagicAt(buf, expected - base * 8, EOS_MAGIC)) {
        const br = new BitReader(buf.subarray(0), expected - base * 8 + 48);
        let crc: number;
        try {
          crc = ((br.bits(16) << 16) | br.bits(16)) >>> 0;
        } catch (e) {
          if (e instanceof OutOfInput) throw truncated();
          throw e;
        }
        if (crc !== combined) throw corrupt(`stream ${streams} has combined CRC 0x${combined.toString(16)} where its trailer says 0x${crc.toString(16)}`);
        frontier = expected + 80;
        expected = -1;
        // Jobs for magics inside this stream's tail were false positives; later ones belong to the next stream.
        while (inFlight.length > 0 && inFlight[0].magicBit < frontier) await inFlight.shift()!.reply;
        continue;
      }
      if (inFlight.length === 0) {
        if (!isMagicAt(buf, expected - base * 8, BLOCK_MAGIC) && !have(expected, 48)) throw truncated();
        throw corrupt("expected a bzip2 block or end-of-stream marker", expected);
      }
      const job = inFlight.shift()!;
      let reply = await job.reply;
      if (job.magicBit < expected) continue; // a magic-like pattern inside the previous block's data
      if (job.magicBit > expected) throw corrupt("expected a bzip2 block or end-of-stream marker", expected);
      let data: Uint8Array | undefined;
      if (reply.ok && reply.data === null) {
        data = recent.get(keyOf(reply.fingerprint!, reply.storedCrc));
        // The worker's memo held a block this thread no longer has: decode it in full.
        if (!data) reply = await exec.run({ ...job.job, id: jobId++, mayRepeat: false });
      }
      if (!reply.ok) {
        if (reply.outOfInput) throw truncated();
        throw new ImageError(reply.message, { file: where, fix: reply.fix || "the file is damaged; check it with bzip2 -t", code: reply.code });
      }
      combined = (((combined << 1) | (combined >>> 31)) ^ reply.storedCrc) >>> 0;
      expected = job.magicBit + 48 + (reply.endBit - ((job.magicBit + 48) % 8));
      frontier = expected;
      release(Math.min(expected, scanFrom));
      data ??= reply.data!;
      if (reply.fingerprint !== undefined) {
        // Least recently used first: a block used again moves to the end.
        const key = keyOf(reply.fingerprint, reply.storedCrc);
        recent.delete(key);
        recent.set(key, data);
        if (recent.size > 2) recent.delete(recent.keys().next().value!);
      }
      yield data;
    }
  } finally {
    await exec.close();
  }
}
