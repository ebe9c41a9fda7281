// GRUB's i386-pc core image read from the disk: its modules, its prefix and its embedded config (GRUB 2.02–2.12).
//
// Layout (util/mkimage.c, grub-core/boot/i386/pc/startup_raw.S, include/grub/offsets.h, include/grub/kernel.h):
// diskboot.img (one sector), then lzma_decompress.img, whose header holds the compressed size (0x08), the
// uncompressed size (0x0c) and the Reed-Solomon redundancy appended at the end (0x10); then the kernel and its
// modules, compressed as a raw LZMA stream (lc=3, lp=0, pb=2, 64 KiB dictionary), then the redundancy. The
// decompressor's own length is what the sectors leave over. Uncompressed, the kernel is followed by a module
// area (`mimg` magic, offset, size) of objects: ELF modules (named by their .modname section), the embedded config
// and the prefix. The LZMA stream is decoded by the lzma package; the rest is read here.
import type { ByteSource } from "../../source";

const MODULE_MAGIC = 0x676d696d; // "mimg"
const OBJ_ELF = 0;
const OBJ_CONFIG = 2;
const OBJ_PREFIX = 3;
/** GRUB refuses a core image that would reach past 0x78000 from its load address 0x9000. */
export const MAX_CORE_BYTES = 0x78000 - 0x9000;
const MAX_UNCOMPRESSED = 0x68000;

export interface GrubCore {
  /** Names of the modules built into the core image (biosdisk, part_gpt, ext2, search_fs_uuid, …). */
  modules: string[];
  /** The prefix grub-install compiled in, e.g. "(,gpt2)/boot/grub" or "/boot/grub". */
  prefix?: string;
  /** The config run before normal mode (grub-install's load.cfg), if any. */
  config?: string;
}

function elfModuleName(elf: Buffer): string | undefined {
  if (elf.length < 52 || elf.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const shoff = elf.readUInt32LE(0x20);
  const shentsize = elf.readUInt16LE(0x2e);
  const shnum = elf.readUInt16LE(0x30);
  const shstrndx = elf.readUInt16LE(0x32);
  if (shentsize < 40 || shnum > 512 || shoff + shnum * shentsize > elf.length || shstrndx >= shnum) return undefined;
  const section = (i: number) => ({
    name: elf.readUInt32LE(shoff + i * shentsize),
    offset: elf.readUInt32LE(shoff + i * shentsize + 0x10),
    size: elf.readUInt32LE(shoff + i * shentsize + 0x14),
  });
  const strtab = section(shstrndx);
  const cstr = (at: number, end: number) => {
    const stop = elf.indexOf(0, at);
    return elf.toString("latin1", at, stop < 0 || stop > end ? end : stop);
  };
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (strtab.offset + s.name >= elf.length) continue;
    if (cstr(strtab.offset + s.name, strtab.offset + strtab.size) !== ".modname") continue;
    if (s.offset + s.size > elf.length) return undefined;
    return cstr(s.offset, s.offset + s.size);
  }
  return undefined;
}

/** Decodes a raw LZMA stream as GRUB's decompressor does; undefined when it is not one. */
function lzmaRaw(data: Buffer, uncompressed: number): Buffer | undefined {
  // The lzma package reads the .lzma container: a properties byte (lc=3, lp=0, pb=2 is 0x5d), the dictionary size
  // and the uncompressed size, in front of the raw stream.
  const header = Buffer.alloc(13);
  header[0] = 0x5d;
  header.writeUInt32LE(1 << 16, 1);
  header.writeUInt32LE(uncompressed, 5);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { LZMA } = require("lzma/src/lzma-d.js") as { LZMA: { decompress(b: Uint8Array): Uint8Array | string } };
  try {
    const out = LZMA.decompress(Buffer.concat([header, data]));
    // The package returns text when the bytes read as UTF-8 with no NUL; a GRUB kernel always has NULs.
    return typeof out === "string" ? undefined : Buffer.from(out);
  } catch {
    return undefined;
  }
}

/**
 * Reads the core image that starts at byte OFFSET and spans SECTORS sectors (from diskboot's blocklist), or says
 * why it cannot be read as GRUB's.
 */
export async function readGrubCore(disk: ByteSource, offset: number, sectors: number): Promise<GrubCore | string> {
  const total = sectors * 512;
  if (total > MAX_CORE_BYTES + 512 || total < 1024) return `a core image of ${sectors} sectors is not one GRUB makes`;
  const core = await disk.read(offset, total);
  const compressed = core.readUInt32LE(512 + 0x08);
  const uncompressed = core.readUInt32LE(512 + 0x0c);
  const redundancy = core.readUInt32LE(512 + 0x10);
  const decompressor = total - 512 - compressed - redundancy;
  if (uncompressed > MAX_UNCOMPRESSED || decompressor <= 0x20 || decompressor > 0x9000 - 0x8200)
    return "its decompressor's header does not describe an LZMA-compressed GRUB kernel (a GRUB older than 2.0, or another loader)";
  const body = lzmaRaw(core.subarray(512 + decompressor, 512 + decompressor + compressed), uncompressed);
  if (!body || body.length !== uncompressed) return "its compressed kernel does not decode as GRUB's LZMA stream";
  // The module area follows the kernel; find its header and check that it spans exactly to the end.
  let info = -1;
  for (let at = body.indexOf("mimg"); at >= 0; at = body.indexOf("mimg", at + 1)) {
    if (at % 4 === 0 && body.readUInt32LE(at) === MODULE_MAGIC && at + body.readUInt32LE(at + 8) <= body.length) {
      info = at;
      break;
    }
  }
  if (info < 0) return "its kernel has no module area";
  const end = info + body.readUInt32LE(info + 8);
  const out: GrubCore = { modules: [] };
  for (let at = info + body.readUInt32LE(info + 4); at + 8 <= end;) {
    const type = body.readUInt32LE(at);
    const size = body.readUInt32LE(at + 4);
    if (size < 8 || at + size > end) break;
    const data = body.subarray(at + 8, at + size);
    if (type === OBJ_ELF) {
      const name = elfModuleName(data);
      if (name) out.modules.push(name);
    } else if (type === OBJ_PREFIX) out.prefix = data.toString("latin1").replace(/\0[\s\S]*$/, "");
    else if (type === OBJ_CONFIG) out.config = data.toString("latin1").replace(/\0[\s\S]*$/, "");
    at += (size + 3) & ~3;
  }
  return out;
}
