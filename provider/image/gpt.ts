// GPT header and partition entry array (UEFI spec, chapter 5), with both CRC-32s checked and the backup as fallback.
import { guidToString, isZero, readU64LE } from "./bytes";
import type { ByteSource } from "./source";
import { zlib } from "./codecs/zlib";

const GPT_SIGNATURE = "EFI PART";
const MIN_HEADER_SIZE = 92;

export interface GptHeader {
  lba: number;
  headerSize: number;
  headerCrc: number;
  myLba: number;
  alternateLba: number;
  firstUsableLba: number;
  lastUsableLba: number;
  diskGuid: string;
  entriesLba: number;
  entryCount: number;
  entrySize: number;
  entriesCrc: number;
}

export interface GptEntry {
  number: number;
  typeGuid: string;
  uniqueGuid: string;
  firstLba: number;
  lastLba: number;
  attributes: bigint;
  name: string;
}

export const GptHeader = {
  /** Parses the header in `buf` (one sector), returning null when the signature or header CRC-32 does not hold. */
  parse(buf: Buffer, lba: number, file: string, sectorSize: number): GptHeader | null {
    if (buf.toString("latin1", 0, 8) !== GPT_SIGNATURE) return null;
    const headerSize = buf.readUInt32LE(12);
    if (headerSize < MIN_HEADER_SIZE || headerSize > buf.length) return null;
    const copy = Buffer.from(buf.subarray(0, headerSize));
    const headerCrc = copy.readUInt32LE(16);
    copy.writeUInt32LE(0, 16);
    if (zlib().crc32(copy) !== headerCrc) return null;
    const where = { file, offset: lba * sectorSize };
    return {
      lba,
      headerSize,
      headerCrc,
      myLba: readU64LE(buf, 24, "GPT MyLBA", where),
      alternateLba: readU64LE(buf, 32, "GPT AlternateLBA", where),
      firstUsableLba: readU64LE(buf, 40, "GPT FirstUsableLBA", where),
      lastUsableLba: readU64LE(buf, 48, "GPT LastUsableLBA", where),
      diskGuid: guidToString(buf, 56),
      entriesLba: readU64LE(buf, 72, "GPT PartitionEntryLBA", where),
      entryCount: buf.readUInt32LE(80),
      entrySize: buf.readUInt32LE(84),
      entriesCrc: buf.readUInt32LE(88),
    };
  },
};

/** Reads and checks the entry array a header points to; null when it lies outside the disk or its CRC-32 is wrong. */
export async function readGptEntries(disk: ByteSource, h: GptHeader, sectorSize: number, file: string): Promise<GptEntry[] | null> {
  if (h.entrySize < 128 || h.entrySize % 8 !== 0 || h.entryCount > 16384) return null;
  const bytes = h.entryCount * h.entrySize;
  const offset = h.entriesLba * sectorSize;
  if (offset + bytes > disk.size) return null;
  const buf = await disk.read(offset, bytes);
  if (zlib().crc32(buf) !== h.entriesCrc) return null;
  const entries: GptEntry[] = [];
  for (let i = 0; i < h.entryCount; i++) {
    const e = i * h.entrySize;
    if (isZero(buf.subarray(e, e + 16))) continue;
    const where = { file, offset: offset + e };
    entries.push({
      number: i + 1,
      typeGuid: guidToString(buf, e),
      uniqueGuid: guidToString(buf, e + 16),
      firstLba: readU64LE(buf, e + 32, "GPT entry StartingLBA", where),
      lastLba: readU64LE(buf, e + 40, "GPT entry EndingLBA", where),
      attributes: buf.readBigUInt64LE(e + 48),
      name: buf.toString("utf16le", e + 56, e + 128).replace(/\0.*$/s, ""),
    });
  }
  return entries;
}
