// ext2/3/4 directory entries. Hashed (htree) directories are read linearly: their index blocks look like empty entries.
export interface DirEntry {
  name: string;
  inode: number;
  /** From the entry's file_type byte when the filesystem records it: 1 file, 2 dir, 7 symlink. */
  fileType: number;
}

/** Parses the linear entries in `buf`; `hasFileType` is the FILETYPE incompat feature (name_len is then one byte). */
export function parseDirBlock(buf: Buffer, hasFileType: boolean, out: DirEntry[] = []): DirEntry[] {
  let off = 0;
  while (off + 8 <= buf.length) {
    const inode = buf.readUInt32LE(off);
    const recLen = buf.readUInt16LE(off + 4);
    const nameLen = hasFileType ? buf[off + 6] : buf.readUInt16LE(off + 6);
    const fileType = hasFileType ? buf[off + 7] : 0;
    // rec_len 0 would loop forever; a value of 65536 is stored as 0 only for 64 KiB blocks with one entry.
    const step = recLen === 0 ? (buf.length === 65536 && off === 0 ? 65536 : 0) : recLen;
    if (step < 8 || off + step > buf.length) break;
    if (inode !== 0 && nameLen > 0 && off + 8 + nameLen <= buf.length) {
      out.push({ name: buf.toString("utf8", off + 8, off + 8 + nameLen), inode, fileType });
    }
    off += step;
  }
  return out;
}
