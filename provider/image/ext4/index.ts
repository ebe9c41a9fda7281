// Public face of the ext2/3/4 reader.
export { Ext4, ROOT_INODE, MAX_READ_FILE, type Ext4Info, type Resolved } from "./filesystem";
export { Inode } from "./inode";
export type { DirEntry } from "./directory";
export { Superblock, EXT_MAGIC } from "./superblock";
