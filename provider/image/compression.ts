// Streams a gzip or bzip2 image once, in bounded memory, into an unlinked sparse scratch file the readers can seek in.
import { DoImageError, EXIT } from "../errors";
import { createReadStream } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { bunzip2 } from "./bzip2-parallel";
import { ImageError } from "./errors";
import { FileSource } from "./source";

const CHUNK = 1024 * 1024;

export interface SpoolOptions {
  /** Directory for the scratch file; defaults to the OS temp directory (TMPDIR). */
  scratchDir?: string;
  /** Called with (compressed bytes read, decompressed bytes written) as the stream advances. */
  onProgress?: (compressedBytes: number, bytes: number) => void;
}

async function* gunzip(path: string, onRead: (n: number) => void): AsyncGenerator<Uint8Array> {
  const input = createReadStream(path, { highWaterMark: CHUNK });
  input.on("data", (c) => onRead(c.length));
  // Node's gunzip carries on through concatenated members (as pigz and `cat a.gz b.gz` produce).
  const gz = input.pipe(createGunzip({ chunkSize: CHUNK }));
  input.on("error", (e) => gz.destroy(e));
  try {
    for await (const chunk of gz) yield chunk as Buffer;
  } catch (err) {
    const msg = (err as Error).message;
    const truncated = /unexpected end/i.test(msg);
    throw new ImageError(`${path}: gzip data ${truncated ? "ends early; the file is truncated" : `is corrupt (${msg})`}`, {
      file: path,
      fix: "download or copy the file again; gzip -t tells whether a .gz file is intact",
      code: truncated ? "truncated" : "gzip-corrupt",
      cause: err,
    });
  }
}

async function* readChunks(path: string, onRead: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) {
    onRead((chunk as Buffer).length);
    yield chunk as Buffer;
  }
}

function isZeroChunk(buf: Uint8Array): boolean {
  // Compare 8 bytes at a time where alignment allows; zero runs are skipped so the scratch file stays sparse.
  const words = buf.byteOffset % 8 === 0 ? new BigUint64Array(buf.buffer, buf.byteOffset, buf.length >>> 3) : null;
  if (words) {
    for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
    for (let i = words.length * 8; i < buf.length; i++) if (buf[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Decompresses `path` into a scratch file that is already unlinked, so nothing is left behind if the process dies. */
export async function spool(path: string, compression: "gzip" | "bzip2", options: SpoolOptions = {}): Promise<FileSource> {
  const base = options.scratchDir ?? tmpdir();
  const dir = await mkdtemp(join(base, "do-image-")).catch((err: NodeJS.ErrnoException) => {
    throw new DoImageError(`${path} is ${compression}-compressed and must be decompressed to a scratch file, but ${base} cannot hold one (${err.code})`, {
      code: "scratch-unusable",
      fix: "set TMPDIR to an existing, writable directory with room for the decompressed image",
      exit: EXIT.usage,
      cause: err,
    });
  });
  const scratch = join(dir, "disk");
  const out = await open(scratch, "w+");
  let compressed = 0;
  let written = 0;
  try {
    await rm(dir, { recursive: true }); // unlink now: the open handle keeps the data alive until it is closed
    const onRead = (n: number) => {
      compressed += n;
    };
    const chunks = compression === "gzip" ? gunzip(path, onRead) : bunzip2(readChunks(path, onRead), path);
    for await (const chunk of chunks) {
      for (let off = 0; off < chunk.length; off += CHUNK) {
        const piece = chunk.subarray(off, Math.min(off + CHUNK, chunk.length));
        if (!isZeroChunk(piece)) await out.write(piece, 0, piece.length, written + off);
      }
      written += chunk.length;
      options.onProgress?.(compressed, written);
    }
    await out.truncate(written);
  } catch (err) {
    await out.close();
    if ((err as NodeJS.ErrnoException).code === "ENOSPC") {
      throw new ImageError(`no space left in ${options.scratchDir ?? tmpdir()} to decompress ${path} (${written} bytes written so far)`, {
        file: path,
        fix: "free space there, or point TMPDIR at a larger disk",
        code: "scratch-space",
        cause: err,
      });
    }
    throw err;
  }
  return FileSource.fromHandle(out, `${path} (decompressed)`);
}
