// Streams a gzip or bzip2 image once, in bounded memory, into an unlinked sparse scratch file the readers can seek in.
import { DoImageError, EXIT } from "../../errors";
// fs.promises is read where it is used: the property loads node:fs/promises, which opening an image never needs.
import { createReadStream, promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunzip2 } from "./bzip2-parallel";
import { formatBytes, isZero } from "../bytes";
import { ImageError } from "../errors";
import { MAX_VIRTUAL_SIZE } from "../limits";
import { closeFd, openFd, truncateFd, writeFd } from "../fd";
import { FileSource } from "../source";
import { zlib } from "./zlib";

const CHUNK = 1024 * 1024;

export interface SpoolOptions {
  /** Directory for the scratch file; defaults to the OS temp directory (TMPDIR). */
  scratchDir?: string;
  /** Called with (compressed bytes read, decompressed bytes written) as the stream advances. */
  onProgress?: (compressedBytes: number, bytes: number) => void;
  /** Decompression stops once the output passes this many bytes. Default: DigitalOcean's 100 GiB limit. */
  maxBytes?: number;
}

/** Free space the scratch file must leave on its file system: 64 MiB, or a tenth of a small file system. */
const reserveFor = (total: number) => Math.min(64 * 1024 ** 2, Math.floor(total / 10));

/**
 * Watches the scratch file system's free space, asking statfs again only when the estimate nears the reserve, so
 * decompression stops before it fills the disk rather than when a write fails (and other programs with it).
 */
class SpaceGuard {
  private free = 0;
  private reserve = 0;
  private sinceCheck = Infinity;

  constructor(private readonly dir: string) {}

  async ensure(bytes: number): Promise<boolean> {
    if (this.sinceCheck > 256 * 1024 ** 2 || this.free - bytes < 2 * this.reserve) {
      const st = await fsp.statfs(this.dir);
      this.free = st.bavail * st.bsize;
      this.reserve = reserveFor(st.blocks * st.bsize);
      this.sinceCheck = 0;
    }
    if (this.free - bytes < this.reserve) return false;
    this.free -= bytes;
    this.sinceCheck += bytes;
    return true;
  }

  get available(): number {
    return this.free;
  }
}

async function* gunzip(path: string, onRead: (n: number) => void): AsyncGenerator<Uint8Array> {
  const input = createReadStream(path, { highWaterMark: CHUNK });
  input.on("data", (c) => onRead(c.length));
  // Node's gunzip carries on through concatenated members (as pigz and `cat a.gz b.gz` produce).
  const gz = input.pipe(zlib().createGunzip({ chunkSize: CHUNK }));
  input.on("error", (e) => gz.destroy(e));
  try {
    for await (const chunk of gz) yield chunk as Buffer;
  } catch (err) {
    const msg = (err as Error).message;
    // zlib's own code, not its words: Z_BUF_ERROR at the end of input is a stream cut short
    const truncated = (err as NodeJS.ErrnoException).code === "Z_BUF_ERROR";
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

/** Decompresses `path` into a scratch file that is already unlinked, so nothing is left behind if the process dies. */
export async function spool(path: string, compression: "gzip" | "bzip2", options: SpoolOptions = {}): Promise<FileSource> {
  const base = options.scratchDir ?? tmpdir();
  const dir = await fsp.mkdtemp(join(base, "do-image-")).catch((err: NodeJS.ErrnoException) => {
    throw new DoImageError(`${path} is ${compression}-compressed and must be decompressed to a scratch file, but ${base} cannot hold one (${err.code})`, {
      code: "scratch-unusable",
      fix: "set TMPDIR to an existing, writable directory with room for the decompressed image",
      exit: EXIT.usage,
      cause: err,
    });
  });
  const scratch = join(dir, "disk");
  const out = await openFd(scratch, "w+");
  const limit = options.maxBytes ?? MAX_VIRTUAL_SIZE;
  const space = new SpaceGuard(base);
  let compressed = 0;
  let written = 0;
  const noSpace = (cause?: unknown) =>
    new DoImageError(
      `TMPDIR (${base}) is too full to decompress ${path}: ${formatBytes(space.available)} free after ${formatBytes(written)} of the image; stopped before filling it`,
      { code: "scratch-space", fix: "free space there, or point TMPDIR at a disk with room for the image's data", exit: EXIT.usage, cause },
    );
  try {
    await fsp.rm(dir, { recursive: true }); // unlink now: the open handle keeps the data alive until it is closed
    const onRead = (n: number) => {
      compressed += n;
    };
    const chunks = compression === "gzip" ? gunzip(path, onRead) : bunzip2(readChunks(path, onRead), path);
    // A decoder may hand back the very same buffer for repeated blocks: it is compared with zeros once.
    let last: Uint8Array | undefined;
    let lastZero = false;
    for await (const chunk of chunks) {
      if (chunk !== last || !lastZero) {
        lastZero = true;
        for (let off = 0; off < chunk.length; off += CHUNK) {
          const piece = chunk.subarray(off, Math.min(off + CHUNK, chunk.length));
          if (isZero(piece)) continue; // zero runs are not written: the scratch file stays sparse
          lastZero = false;
          if (!(await space.ensure(piece.length))) throw noSpace();
          await writeFd(out, piece, 0, piece.length, written + off);
        }
        last = chunk;
      }
      written += chunk.length;
      options.onProgress?.(compressed, written);
      if (written > limit) {
        throw new ImageError(
          `${path}: decompressed past ${formatBytes(limit)} (${written} bytes from the first ${compressed} compressed bytes), over DigitalOcean's limit of 100 GiB for an image; decompression stopped there`,
          {
            file: path,
            fix: "make the disk smaller: shrink the filesystem and its partition, then the disk (qemu-img resize --shrink), and compress it again",
            code: "decompressed-over-limit",
            exit: EXIT.refused,
          },
        );
      }
    }
    await truncateFd(out, written);
  } catch (err) {
    await closeFd(out);
    if ((err as NodeJS.ErrnoException).code === "ENOSPC") throw noSpace(err);
    throw err;
  }
  return FileSource.fromFd(out, `${path} (decompressed)`);
}
