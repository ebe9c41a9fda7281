// The ext4 inode (kernel Documentation/filesystems/ext4/inodes.rst): mode, size, flags, the 60-byte i_block and in-inode xattrs.

const S_IFMT = 0xf000;
const S_IFDIR = 0x4000;
const S_IFREG = 0x8000;
const S_IFLNK = 0xa000;

export const INODE_FLAGS = {
  INDEX: 0x1000, // hashed directory
  HUGE_FILE: 0x40000,
  EXTENTS: 0x80000,
  EA_INODE: 0x200000,
  INLINE_DATA: 0x10000000,
  ENCRYPT: 0x800,
  CASEFOLD: 0x40000000,
} as const;

const I_BLOCK_OFFSET = 0x28;
export const I_BLOCK_SIZE = 60;
const XATTR_MAGIC = 0xea020000;

export interface Inode {
  number: number;
  mode: number;
  size: number;
  linksCount: number;
  /** i_blocks in 512-byte units (or filesystem blocks with HUGE_FILE_FL). */
  blocks: number;
  flags: number;
  fileAcl: number;
  /** The 60-byte i_block area: block map, extent tree root, fast symlink target or inline data. */
  iBlock: Buffer;
  /** The in-inode extended attribute area (after i_extra_isize), if any. */
  extra: Buffer;
}

export const Inode = {
  parse(buf: Buffer, number: number): Inode {
    const extraIsize = buf.length > 128 ? buf.readUInt16LE(0x80) : 0;
    return {
      number,
      mode: buf.readUInt16LE(0x0),
      size: buf.readUInt32LE(0x4) + buf.readUInt32LE(0x6c) * 2 ** 32,
      linksCount: buf.readUInt16LE(0x1a),
      blocks: buf.readUInt32LE(0x1c) + buf.readUInt16LE(0x74) * 2 ** 32,
      flags: buf.readUInt32LE(0x20),
      fileAcl: buf.readUInt32LE(0x68) + buf.readUInt16LE(0x76) * 2 ** 32,
      iBlock: Buffer.from(buf.subarray(I_BLOCK_OFFSET, I_BLOCK_OFFSET + I_BLOCK_SIZE)),
      extra: buf.length > 128 + extraIsize ? Buffer.from(buf.subarray(128 + extraIsize)) : Buffer.alloc(0),
    };
  },

  type(inode: Inode): "dir" | "file" | "symlink" | "other" {
    const t = inode.mode & S_IFMT;
    return t === S_IFDIR ? "dir" : t === S_IFREG ? "file" : t === S_IFLNK ? "symlink" : "other";
  },

  /** The value of an in-inode xattr (name index 7 "system." + "data" holds inline data beyond i_block). */
  xattr(inode: Inode, nameIndex: number, name: string): Buffer | null {
    const area = inode.extra;
    if (area.length < 4 || area.readUInt32LE(0) !== XATTR_MAGIC) return null;
    let off = 4;
    while (off + 16 <= area.length) {
      const nameLen = area[off];
      const index = area[off + 1];
      if (nameLen === 0 && index === 0) break;
      const valueOffs = area.readUInt16LE(off + 2);
      const valueInum = area.readUInt32LE(off + 4);
      const valueSize = area.readUInt32LE(off + 8);
      const entryName = area.toString("latin1", off + 16, off + 16 + nameLen);
      if (index === nameIndex && entryName === name && valueInum === 0) return area.subarray(4 + valueOffs, 4 + valueOffs + valueSize);
      off += (16 + nameLen + 3) & ~3;
    }
    return null;
  },
};
