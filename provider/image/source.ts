// The one random-access interface every reader in image/ works through: a file, a buffer or a virtual disk.
import { ImageError } from "./errors";
import { closeFd, openFd, readFd, statFd, statPath } from "./fd";

export interface ByteSource {
  /** Bytes in the source (for a virtual disk: its virtual size). */
  readonly size: number;
  /** Name used in error messages: the file's path, or a description such as "qcow2 virtual disk of app.qcow2". */
  readonly name: string;
  /** Exactly `length` bytes from `offset`; a read past `size` is an error naming the source. */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** A source the container readers sit on: it can also read straight into a caller's buffer, and knows its allocation. */
export interface HostSource extends ByteSource {
  /** Bytes the data occupies on storage (st_blocks × 512 for a file). */
  readonly allocated: number;
  readInto(target: Buffer, targetOffset: number, length: number, position: number): Promise<void>;
}

function pastEnd(name: string, size: number, offset: number, length: number): ImageError {
  return new ImageError(`${name}: read of ${length} bytes at offset ${offset} runs past the end (${size} bytes); the file is truncated`, {
    file: name,
    offset,
    fix: "copy or download the image again; the file is shorter than its own metadata says",
    code: "truncated",
  });
}

export class FileSource implements HostSource {
  private constructor(
    private readonly descriptor: number,
    readonly name: string,
    readonly size: number,
    /** Bytes the file occupies on its filesystem (st_blocks × 512). */
    readonly allocated: number,
  ) {}

  /** The open file descriptor, so that a child process (QEMU) can read the same file through /proc. */
  get fd(): number {
    return this.descriptor;
  }

  static async open(path: string): Promise<FileSource> {
    const cannot = (err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a directory" : String((err as Error).message);
      return new ImageError(`cannot open ${path}: ${why}`, { file: path, fix: "pass the path of a disk image file" });
    };
    // A FIFO or socket would block open() until a writer comes: refuse what is not a file or disk before opening.
    const kind = await statPath(path).catch((err: unknown) => {
      throw cannot(err);
    });
    if (!kind.isFile() && !kind.isBlockDevice()) {
      const what = kind.isFIFO()
        ? "a FIFO"
        : kind.isSocket()
          ? "a socket"
          : kind.isCharacterDevice()
            ? "a character device"
            : kind.isDirectory()
              ? "a directory"
              : "not a regular file";
      throw new ImageError(`${path} is ${what}, not a disk image file`, { file: path, fix: "pass the path of a disk image file" });
    }
    let fd: number;
    try {
      fd = await openFd(path, "r");
    } catch (err) {
      throw cannot(err);
    }
    const st = await statFd(fd).catch(async (err: unknown) => {
      await closeFd(fd);
      throw cannot(err);
    });
    if (!st.isFile() && !st.isBlockDevice()) {
      await closeFd(fd);
      throw new ImageError(`${path} is not a regular file`, { file: path, fix: "pass the path of a disk image file" });
    }
    return new FileSource(fd, path, st.size, st.blocks * 512);
  }

  /** Wraps a descriptor that is already open (the decompressed scratch file); the source owns and closes it. */
  static async fromFd(fd: number, name: string): Promise<FileSource> {
    const st = await statFd(fd);
    return new FileSource(fd, name, st.size, st.blocks * 512);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    await this.readInto(buf, 0, length, offset);
    return buf;
  }

  /** Reads into `target` without an intermediate copy; used by the container readers' hot paths. */
  async readInto(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    if (position < 0 || position + length > this.size) throw pastEnd(this.name, this.size, position, length);
    let done = 0;
    while (done < length) {
      const bytesRead = await readFd(this.descriptor, target, targetOffset + done, length - done, position + done);
      if (bytesRead === 0) {
        throw new ImageError(`${this.name}: unexpected end of file at offset ${position + done}`, {
          file: this.name,
          offset: position + done,
          fix: "the file changed while it was being read; retry once it is complete",
        });
      }
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    await closeFd(this.descriptor);
  }
}

export class BufferSource implements HostSource {
  constructor(
    private readonly buf: Buffer,
    readonly name = "buffer",
  ) {}

  get size(): number {
    return this.buf.length;
  }

  get allocated(): number {
    return this.buf.length;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || offset + length > this.buf.length) throw pastEnd(this.name, this.buf.length, offset, length);
    return this.buf.subarray(offset, offset + length);
  }

  async readInto(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    (await this.read(position, length)).copy(target, targetOffset);
  }

  async close(): Promise<void> {}
}

/** Reads up to `length` bytes at `offset`, fewer at the end of the source; for sniffing headers of unknown files. */
export async function readUpTo(src: ByteSource, offset: number, length: number): Promise<Buffer> {
  if (offset >= src.size) return Buffer.alloc(0);
  return src.read(offset, Math.min(length, src.size - offset));
}

/** A window of another source: a partition of a virtual disk, read as if it were a whole device. */
export class SliceSource implements ByteSource {
  constructor(
    private readonly src: ByteSource,
    private readonly offset: number,
    readonly size: number,
    readonly name: string,
  ) {}

  read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || offset + length > this.size) return Promise.reject(pastEnd(this.name, this.size, offset, length));
    return this.src.read(this.offset + offset, length);
  }

  async close(): Promise<void> {}
}

/**
 * Small reads served from aligned chunks kept in a bounded LRU: a filesystem walk (thousands of inodes and small
 * files, each a read of its own) costs one read per chunk instead of one per block. Larger reads pass through.
 */
export class ChunkCacheSource implements ByteSource {
  private readonly chunks = new Map<number, Promise<Buffer>>();

  constructor(
    private readonly src: ByteSource,
    private readonly chunkSize = 64 * 1024,
    private readonly maxChunks = 256,
  ) {}

  get size(): number {
    return this.src.size;
  }

  get name(): string {
    return this.src.name;
  }

  private chunk(index: number): Promise<Buffer> {
    let c = this.chunks.get(index);
    if (c) {
      // most recently used last
      this.chunks.delete(index);
      this.chunks.set(index, c);
      return c;
    }
    const start = index * this.chunkSize;
    c = this.src.read(start, Math.min(this.chunkSize, this.src.size - start));
    // a failed read is not kept: the next asks again, and the error names the source as the read did
    c.catch(() => this.chunks.delete(index));
    this.chunks.set(index, c);
    if (this.chunks.size > this.maxChunks) this.chunks.delete(this.chunks.keys().next().value!);
    return c;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || offset + length > this.size) throw pastEnd(this.name, this.size, offset, length);
    const first = Math.floor(offset / this.chunkSize);
    const last = Math.floor((offset + length - 1) / this.chunkSize);
    if (length === 0 || last - first > 1) return this.src.read(offset, length);
    const parts: Buffer[] = [];
    for (let i = first; i <= last; i++) parts.push(await this.chunk(i));
    const joined = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    const at = offset - first * this.chunkSize;
    // a copy: callers may keep or change what they are given
    return Buffer.from(joined.subarray(at, at + length));
  }

  async close(): Promise<void> {
    this.chunks.clear();
  }
}
