// Lists the files in a Linux initramfs, written here (no npm library reads the kernel's concatenated cpio layout):
// newc/crc cpio archives ("070701"/"070702"), one after another, the first often an uncompressed early-microcode
// archive and the last compressed (gzip or zstd here; xz, lz4, lzma and bzip2 are named but not read).
import { gunzipSync } from "node:zlib";

/** The most decompressed bytes read from one initramfs; a real one is well under this. */
const MAX_INITRAMFS_BYTES = 1024 * 1024 * 1024;

export interface InitramfsListing {
  files: string[];
  /** Compression layers met, in order ("none" for a plain cpio archive). */
  layers: string[];
  /** Set when a layer could not be read: its compression, which this reader does not decode. */
  unreadable?: string;
}

const MAGICS: [string, Buffer][] = [
  ["gzip", Buffer.from([0x1f, 0x8b])],
  ["zstd", Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ["xz", Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ["lz4", Buffer.from([0x02, 0x21, 0x4c, 0x18])],
  ["bzip2", Buffer.from("BZh")],
  ["lzma", Buffer.from([0x5d, 0x00, 0x00])],
];

function decompress(kind: string, data: Buffer): Buffer | null {
  if (kind === "gzip") return gunzipSync(data, { maxOutputLength: MAX_INITRAMFS_BYTES });
  if (kind === "zstd") {
    // Loaded here so that commands that never read an initramfs do not pay for it at start-up.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Decompress } = require("fzstd") as typeof import("fzstd");
    const chunks: Uint8Array[] = [];
    let total = 0;
    const d = new Decompress((chunk) => {
      total += chunk.length;
      if (total > MAX_INITRAMFS_BYTES) throw new Error(`initramfs decompresses to more than ${MAX_INITRAMFS_BYTES} bytes`);
      chunks.push(chunk);
    });
    d.push(data, true);
    return Buffer.concat(chunks);
  }
  return null;
}

export function listInitramfs(image: Buffer): InitramfsListing {
  const out: InitramfsListing = { files: [], layers: [] };
  let buf = image;
  let off = 0;
  let layer = "none";
  for (let guard = 0; guard < 64 && off < buf.length; guard++) {
    // Archives are padded with zeros up to a block boundary between them.
    while (off < buf.length && buf[off] === 0) off++;
    if (off >= buf.length) break;
    const magic = buf.toString("latin1", off, off + 6);
    if (magic === "070701" || magic === "070702") {
      if (out.layers[out.layers.length - 1] !== layer) out.layers.push(layer);
      off = readCpio(buf, off, out.files);
      continue;
    }
    const kind = MAGICS.find(([, m]) => buf.subarray(off, off + m.length).equals(m))?.[0];
    if (!kind) break;
    const data = decompress(kind, buf.subarray(off));
    if (!data) {
      out.unreadable = kind;
      break;
    }
    buf = data;
    off = 0;
    layer = kind;
  }
  return out;
}

/** Reads one newc cpio archive from `off`, appending its names; returns the offset after its trailer. */
function readCpio(buf: Buffer, off: number, files: string[]): number {
  const hex = (at: number) => parseInt(buf.toString("latin1", at, at + 8), 16);
  while (off + 110 <= buf.length) {
    if (!/^07070[12]$/.test(buf.toString("latin1", off, off + 6))) break;
    const fileSize = hex(off + 54);
    const nameSize = hex(off + 94);
    if (!Number.isFinite(fileSize) || !Number.isFinite(nameSize) || nameSize < 1) break;
    const name = buf.toString("utf8", off + 110, off + 110 + nameSize - 1);
    const dataStart = (off + 110 + nameSize + 3) & ~3;
    off = (dataStart + fileSize + 3) & ~3;
    if (name === "TRAILER!!!") break;
    files.push(name.replace(/^\.?\//, ""));
  }
  return off;
}
