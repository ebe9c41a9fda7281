// Worker thread of the parallel bzip2 decoder: decodes one block per message and hands the bytes back without copying.
import type { ErrorCode } from "../../errors";
import { parentPort } from "node:worker_threads";
import { BitReader, decodeBlock, OutOfInput, type BlockMemo } from "./bzip2";
import { ImageError } from "../errors";

export interface BlockJob {
  id: number;
  data: Uint8Array;
  startBit: number;
  maxBlock: number;
  where: string;
  /** Whether the reply may say "the same bytes as the block with this fingerprint" instead of carrying them. */
  mayRepeat: boolean;
}

export type BlockReply =
  | { id: number; ok: true; data: Uint8Array | null; storedCrc: number; fingerprint?: number; endBit: number }
  | { id: number; ok: false; outOfInput: boolean; message: string; code: ErrorCode; fix: string };

/** This thread's last highly expanded block (each worker, and the main thread when there are none, has its own). */
const memo: BlockMemo = { blocks: [] };

export function runJob(job: BlockJob): BlockReply {
  try {
    const block = decodeBlock(new BitReader(job.data, job.startBit), job.maxBlock, job.where, job.mayRepeat ? memo : undefined);
    return { id: job.id, ok: true, data: block.data, storedCrc: block.storedCrc, fingerprint: block.fingerprint, endBit: block.endBit };
  } catch (err) {
    const e = err as Error;
    return {
      id: job.id,
      ok: false,
      outOfInput: err instanceof OutOfInput,
      message: e.message,
      code: err instanceof ImageError ? err.code : "bzip2-corrupt",
      fix: err instanceof ImageError ? err.fix : "",
    };
  }
}

parentPort?.on("message", (job: BlockJob) => {
  const reply = runJob(job);
  parentPort!.postMessage(reply, reply.ok && reply.data ? [reply.data.buffer as ArrayBuffer] : []);
});
