// Lists the files in a Linux initramfs, written here (no npm library reads the kernel's concatenated cpio layout):
// newc/crc cpio archives ("070701"/"070702"), one after another, the first often an uncompressed early-microcode
// archive and the last compressed (gzip or zstd here; xz, lz4, lzma and bzip2 are named but not read).
import { GUEST_LIMITS } from "./guest-limits";
import { zlib } from "./codecs/zlib";

/** The most decompressed bytes read from one initramfs; a real one is well under this. */
const MAX_INITRAMFS_BYTES = GUEST_LIMITS.initramfsUnpackedBytes;

export interface InitramfsListing {
  files: string[];
  /** Compression layers met, in order ("none" for a plain cpio archive). */
  layers: string[];
  /** Set when a layer could not be read: its compression, which this reader does not decode. */
  unreadable?: string;
  /** Set when the listing stopped part-way (a layer past the size bound, damaged compressed data): why. */
  partial?: string;
}

/** Thrown inside a decompressor's callback to stop it at the bound; never leaves this module. */
class Bounded extends Error {}

const MAGICS: [string, Buffer][] = [
  ["gzip", Buffer.from([0x1f, 0x8b])],
  ["zstd", Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ["xz", Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ["lz4", Buffer.from([0x02, 0x21, 0x4c, 0x18])],
  ["bzip2", Buffer.from("BZh")],
  ["lzma", Buffer.from([0x5d, 0x00, 0x00])],
];

/**
 * Names in newc cpio archives, one after another with zeros between them, fed in pieces as they are decompressed:
 * headers and names are kept, file contents skipped, so a 100 MiB initramfs is read in the memory of one piece.
 */
class CpioNames {
  private carry = Buffer.alloc(0);
  /** Bytes of file contents (and padding) still to skip. */
  private skip = 0;
  private stopped = false;
  private seen = false;
  /** `onArchive` is called when the first archive starts. */
  constructor(
    private readonly files: string[],
    private readonly onArchive: () => void,
  ) {}

  /** Reads a piece; where in it data that is not a cpio archive starts (a compressed one), or null. */
  push(piece: Uint8Array): number | null {
    if (this.stopped) return null;
    let buf = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    const skipped = Math.min(this.skip, buf.length);
    this.skip -= skipped;
    buf = buf.subarray(skipped);
    const carried = this.carry.length;
    if (carried > 0) buf = Buffer.concat([this.carry, buf]);
    let off = 0;
    while (off < buf.length) {
      // Archives are padded with zeros up to a block boundary between them.
      if (buf[off] === 0) {
        off++;
        continue;
      }
      if (buf.length - off < 6) break;
      if (!/^07070[12]$/.test(buf.toString("latin1", off, off + 6))) {
        this.stopped = true;
        return skipped + off - carried;
      }
      if (buf.length - off < 110) break; // the header continues in the next piece
      if (!this.seen) {
        this.seen = true;
        this.onArchive();
      }
      const hex = (at: number) => parseInt(buf.toString("latin1", at, at + 8), 16);
      const fileSize = hex(off + 54);
      const nameSize = hex(off + 94);
      if (!Number.isFinite(fileSize) || !Number.isFinite(nameSize) || nameSize < 1) {
        this.stopped = true;
        break;
      }
      const dataStart = off + ((110 + nameSize + 3) & ~3);
      if (dataStart > buf.length) break; // the name continues in the next piece
      const name = buf.toString("utf8", off + 110, off + 110 + nameSize - 1);
      if (name !== "TRAILER!!!") this.files.push(name.replace(/^\.?\//, ""));
      const next = dataStart + ((fileSize + 3) & ~3);
      if (next > buf.length) {
        this.skip = next - buf.length;
        off = buf.length;
      } else off = next;
    }
    this.carry = Buffer.from(buf.subarray(off));
    return null;
  }
}

/** Decompresses `data` piece by piece into `sink`; false for a compression this reader does not decode. */
async function decompressInto(kind: string, data: Buffer, sink: CpioNames, maxBytes: number): Promise<boolean> {
  let total = 0;
  const counted = (piece: Uint8Array) => {
    total += piece.length;
    if (total > maxBytes) throw new Bounded(`it decompresses to more than ${maxBytes} bytes; listed as far as that`);
    sink.push(piece);
  };
  if (kind === "gzip") {
    await new Promise<void>((resolve, reject) => {
      const gunzip = zlib().createGunzip();
      gunzip.on("data", (piece: Buffer) => {
        try {
          counted(piece);
        } catch (err) {
          gunzip.destroy(err as Error);
        }
      });
      gunzip.on("end", resolve);
      gunzip.on("error", reject);
      gunzip.end(data);
    });
    return true;
  }
  if (kind === "zstd") {
    // Loaded here so that commands that never read an initramfs do not pay for it at start-up.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Decompress } = require("fzstd") as typeof import("fzstd");
    const d = new Decompress(counted);
    // Fed in pieces too: fzstd hands back what each piece completes.
    for (let at = 0; at < data.length; at += 1 << 20) d.push(data.subarray(at, Math.min(data.length, at + (1 << 20))), at + (1 << 20) >= data.length);
    return true;
  }
  return false;
}

/** The names in an initramfs; a layer past `maxBytes` decompressed, or damaged, ends the listing with `partial` set. */
export async function listInitramfs(image: Buffer, maxBytes = MAX_INITRAMFS_BYTES): Promise<InitramfsListing> {
  const out: InitramfsListing = { files: [], layers: [] };
  // Uncompressed archives first (early microcode), then, where they stop, at most one compressed layer to the end.
  const at = new CpioNames(out.files, () => out.layers.push("none")).push(image);
  if (at === null) return out;
  const kind = MAGICS.find(([, m]) => image.subarray(at, at + m.length).equals(m))?.[0];
  if (!kind) return out;
  const sink = new CpioNames(out.files, () => out.layers.push(kind));
  try {
    if (!(await decompressInto(kind, image.subarray(at), sink, maxBytes))) out.unreadable = kind;
  } catch (err) {
    // zlib's and fzstd's errors on damaged data, or our bound: what was listed stands, and the rest is unknown
    out.partial = err instanceof Bounded ? err.message : `its ${kind} data is damaged (${(err as Error).message}); listed as far as that`;
  }
  return out;
}
