// A read-only ext2/3/4 filesystem over any ByteSource: path lookup (following symlinks inside the image), files, directories.
import { GUEST_LIMITS } from "../guest-limits";
import { ImageError } from "../errors";
import type { ByteSource } from "../source";
import { parseDirBlock, type DirEntry } from "./directory";
import { extentMap, indirectMap, walkExtents, type BlockMap } from "./blockmap";
import type { Extent } from "./extents";
import { Inode, INODE_FLAGS, I_BLOCK_SIZE } from "./inode";
import { INCOMPAT, RO_COMPAT, Superblock, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE } from "./superblock";

export const ROOT_INODE = 2;
/** Linux's limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = GUEST_LIMITS.symlinkHops;
/** Largest file `readFile` returns; configuration files are far smaller, and memory stays bounded. */
export const MAX_READ_FILE = GUEST_LIMITS.fileBytes;

export interface Ext4Info {
  kind: "ext2" | "ext3" | "ext4";
  blockSize: number;
  blocksCount: number;
  uuid: string;
  label: string;
  features: string[];
  /** Conditions worth telling the user: a journal awaiting recovery, encryption, casefolding. */
  notes: string[];
}

export interface Resolved {
  inode: Inode;
  /** The canonical path after following symlinks. */
  path: string;
}

export class Ext4 {
  readonly info: Ext4Info;
  private readonly groupDescCache = new Map<number, number>();
  private readonly extentCache = new Map<number, Extent[]>();
  /** Parsed directories by inode: path lookups walk the same few directories (/etc, /usr/lib/systemd/system) over and over. */
  private readonly dirCache = new Map<number, Map<string, DirEntry>>();
  /** Symlinks followed while resolving one path: Linux's 40, or fewer for a reader that gives up sooner (GRUB: 7). */
  protected symlinkHops: number = MAX_SYMLINKS;
  /** Entries read from one directory before it counts as not followed. */
  protected directoryEntries: number = GUEST_LIMITS.directoryEntries;

  private constructor(
    private readonly src: ByteSource,
    readonly name: string,
    private readonly sb: Superblock,
  ) {
    const notes: string[] = [];
    if (sb.featureIncompat & INCOMPAT.RECOVER)
      notes.push("the journal needs recovery (the filesystem was not unmounted cleanly); files are read as last committed");
    if (sb.featureIncompat & INCOMPAT.ENCRYPT) notes.push("the filesystem supports fscrypt encryption; encrypted directories cannot be read");
    if (sb.featureIncompat & INCOMPAT.CASEFOLD) notes.push("the filesystem supports case-insensitive directories; lookups here are case-sensitive");
    this.info = {
      kind: Superblock.kind(sb),
      blockSize: sb.blockSize,
      blocksCount: sb.blocksCount,
      uuid: sb.uuid,
      label: sb.volumeName,
      features: Superblock.featureNames(sb),
      notes,
    };
  }

  static async open(src: ByteSource, name: string): Promise<Ext4> {
    if (src.size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) {
      throw new ImageError(`${name}: too small for an ext2/3/4 filesystem (${src.size} bytes)`, {
        file: name,
        fix: "this is not an ext filesystem",
        code: "ext-not-found",
      });
    }
    const sb = Superblock.parse(await src.read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE), name);
    const problem = Superblock.problem(sb);
    if (problem) {
      throw new ImageError(`${name}: the ext superblock at byte 1024 has ${problem}; this reader cannot read it safely`, {
        file: name,
        offset: SUPERBLOCK_OFFSET,
        fix: "check it with e2fsck -n, or recreate the filesystem with a current mkfs.ext4",
        code: "ext-unsupported",
      });
    }
    if (sb.blocksCount * sb.blockSize > src.size) {
      throw new ImageError(
        `${name}: the filesystem says it has ${sb.blocksCount} blocks of ${sb.blockSize} bytes, more than its partition's ${src.size} bytes`,
        {
          file: name,
          offset: SUPERBLOCK_OFFSET + 4,
          fix: "the partition was shrunk below the filesystem, or the image is truncated: resize2fs the filesystem to fit, or rebuild the image",
          code: "truncated",
        },
      );
    }
    return new Ext4(src, name, sb);
  }

  private async readBlocks(block: number, count = 1): Promise<Buffer> {
    return this.src.read(block * this.sb.blockSize, count * this.sb.blockSize);
  }

  /** Physical block of a block group's inode table, from its group descriptor (plain or meta_bg placement). */
  private async inodeTable(group: number): Promise<number> {
    const cached = this.groupDescCache.get(group);
    if (cached !== undefined) return cached;
    const sb = this.sb;
    const perBlock = sb.blockSize / sb.descSize;
    const descBlockIndex = Math.floor(group / perBlock);
    let block: number;
    if (sb.featureIncompat & INCOMPAT.META_BG && descBlockIndex >= sb.firstMetaBg) {
      const firstGroup = descBlockIndex * perBlock;
      block = sb.firstDataBlock + firstGroup * sb.blocksPerGroup + (this.hasSuperBackup(firstGroup) ? 1 : 0);
    } else {
      block = sb.firstDataBlock + 1 + descBlockIndex;
    }
    const buf = await this.src.read(block * sb.blockSize + (group % perBlock) * sb.descSize, sb.descSize);
    const table = buf.readUInt32LE(8) + (sb.descSize >= 64 ? buf.readUInt32LE(0x28) * 2 ** 32 : 0);
    this.groupDescCache.set(group, table);
    return table;
  }

  private hasSuperBackup(group: number): boolean {
    if (group <= 1 || !(this.sb.featureRoCompat & RO_COMPAT.SPARSE_SUPER)) return true;
    for (const base of [3, 5, 7]) {
      let n = base;
      while (n < group) n *= base;
      if (n === group) return true;
    }
    return false;
  }

  async inode(number: number): Promise<Inode> {
    if (number < 1 || number > this.sb.inodesCount) {
      throw new ImageError(`${this.name}: inode ${number} is outside 1..${this.sb.inodesCount}`, {
        file: this.name,
        fix: "the filesystem is damaged; run e2fsck -n on it",
        code: "ext-corrupt",
      });
    }
    const group = Math.floor((number - 1) / this.sb.inodesPerGroup);
    const index = (number - 1) % this.sb.inodesPerGroup;
    const table = await this.inodeTable(group);
    return Inode.parse(await this.src.read(table * this.sb.blockSize + index * this.sb.inodeSize, this.sb.inodeSize), number);
  }

  /** Every extent of an extent-mapped inode, sorted by logical block (the last few hundred files' cached). */
  async extents(inode: Inode): Promise<Extent[]> {
    const cached = this.extentCache.get(inode.number);
    if (cached) return cached;
    const out = await walkExtents(inode, this.name, this.sb.blockSize, (block, count) => this.readBlocks(block, count));
    if (this.extentCache.size > 256) this.extentCache.clear();
    this.extentCache.set(inode.number, out);
    return out;
  }

  private async blockMap(inode: Inode): Promise<BlockMap> {
    if (inode.flags & INODE_FLAGS.EXTENTS) return extentMap(await this.extents(inode));
    return indirectMap(inode, this.sb.blockSize, (block, count) => this.readBlocks(block, count));
  }

  /** Inline data (INLINE_DATA_FL): i_block followed by the system.data xattr. */
  private inlineData(inode: Inode): Buffer {
    const more = Inode.xattr(inode, 7, "data") ?? Buffer.alloc(0);
    return Buffer.concat([inode.iBlock, more]);
  }

  /** The whole content of a regular file or slow symlink (up to `limit` bytes). */
  async readInode(inode: Inode, limit = MAX_READ_FILE): Promise<Buffer> {
    const size = Math.min(inode.size, limit);
    if (inode.flags & INODE_FLAGS.INLINE_DATA) return this.inlineData(inode).subarray(0, size);
    const bs = this.sb.blockSize;
    const out = Buffer.alloc(size);
    const map = await this.blockMap(inode);
    const blocks = Math.ceil(size / bs);
    for (let b = 0; b < blocks;) {
      const phys = await map(b);
      // Coalesce physically contiguous blocks into one read.
      let run = 1;
      if (phys !== 0) while (b + run < blocks && run < 256 && (await map(b + run)) === phys + run) run++;
      const len = Math.min(run * bs, size - b * bs);
      if (phys !== 0) (await this.src.read(phys * bs, Math.ceil(len / bs) * bs)).copy(out, b * bs, 0, len);
      b += run;
    }
    return out;
  }

  async readDirInode(inode: Inode): Promise<DirEntry[]> {
    const hasFileType = (this.sb.featureIncompat & INCOMPAT.FILETYPE) !== 0;
    if (inode.flags & INODE_FLAGS.INLINE_DATA) {
      // Inline directories: 4 bytes of parent inode, then entries; the rest continues in system.data.
      const entries: DirEntry[] = [{ name: "..", inode: inode.iBlock.readUInt32LE(0), fileType: 2 }];
      parseDirBlock(inode.iBlock.subarray(4, I_BLOCK_SIZE), hasFileType, entries);
      const more = Inode.xattr(inode, 7, "data");
      if (more) parseDirBlock(more, hasFileType, entries);
      return entries;
    }
    const bs = this.sb.blockSize;
    const entries: DirEntry[] = [];
    const sizeBlocks = Math.ceil(inode.size / bs);
    const bounded = (block: Buffer) => {
      parseDirBlock(block, hasFileType, entries);
      if (entries.length > this.directoryEntries)
        throw new ImageError(`${this.name}: a directory (inode ${inode.number}) holds more than ${this.directoryEntries} entries, more than is read here`, {
          file: this.name,
          fix: "split the directory, or check by booting: do-image validate --boot IMAGE",
          code: "ext-directory-over-limit",
        });
    };
    if (inode.flags & INODE_FLAGS.EXTENTS) {
      // Walk only the blocks the extent tree maps: i_size is on-disk data and may claim far more than exists.
      for (const e of await this.extents(inode)) {
        if (e.uninitialized) continue;
        const last = Math.min(e.logical + e.length, sizeBlocks);
        for (let b = e.logical; b < last; b++) bounded(await this.readBlocks(e.physical + (b - e.logical)));
      }
      return entries;
    }
    // Indirect blocks: at most as many blocks as the inode has allocated (i_blocks) and the filesystem holds.
    const allocated = Math.ceil((inode.blocks * 512) / bs);
    const map = await this.blockMap(inode);
    for (let b = 0; b < Math.min(sizeBlocks, allocated, this.sb.blocksCount); b++) {
      const phys = await map(b);
      if (phys !== 0) bounded(await this.readBlocks(phys));
    }
    return entries;
  }

  private async dirIndex(inode: Inode): Promise<Map<string, DirEntry>> {
    let index = this.dirCache.get(inode.number);
    if (!index) {
      index = new Map((await this.readDirInode(inode)).map((e) => [e.name, e]));
      if (this.dirCache.size >= 128) this.dirCache.clear();
      this.dirCache.set(inode.number, index);
    }
    return index;
  }

  async readlinkInode(inode: Inode): Promise<string> {
    const fast =
      !(inode.flags & (INODE_FLAGS.EXTENTS | INODE_FLAGS.INLINE_DATA)) &&
      inode.size < I_BLOCK_SIZE &&
      inode.blocks - (inode.fileAcl ? this.sb.blockSize / 512 : 0) <= 0;
    const raw = fast ? inode.iBlock.subarray(0, inode.size) : await this.readInode(inode, 4096);
    return raw.toString("utf8");
  }

  /**
   * Resolves `path` from the root. Symlinks are followed in every component but the last unless `follow`;
   * absolute targets resolve against the image's root, never the host's. Returns null when a component is missing.
   */
  async resolve(path: string, follow = true): Promise<Resolved | null> {
    let budget = this.symlinkHops;
    const walk = async (components: string[], followLast: boolean): Promise<Resolved | null> => {
      let dir: Resolved = { inode: await this.inode(ROOT_INODE), path: "/" };
      const stack = [...components];
      const trail: Resolved[] = [];
      while (stack.length > 0) {
        const name = stack.shift()!;
        if (name === "" || name === ".") continue;
        if (name === "..") {
          dir = trail.pop() ?? dir;
          continue;
        }
        if (Inode.type(dir.inode) !== "dir") return null;
        const entry = (await this.dirIndex(dir.inode)).get(name);
        if (!entry) return null;
        const inode = await this.inode(entry.inode);
        const childPath = dir.path === "/" ? `/${name}` : `${dir.path}/${name}`;
        if (Inode.type(inode) === "symlink" && (stack.length > 0 || followLast)) {
          if (--budget < 0) {
            throw new ImageError(`${this.name}: more than ${this.symlinkHops} symlinks while resolving ${path} (a loop?)`, {
              file: this.name,
              fix: `fix the symlink loop at ${childPath} in the image`,
              code: "ext-symlink-loop",
            });
          }
          const target = await this.readlinkInode(inode);
          const rest = target.split("/");
          if (target.startsWith("/")) {
            trail.length = 0;
            dir = { inode: await this.inode(ROOT_INODE), path: "/" };
          }
          stack.unshift(...rest);
          continue;
        }
        trail.push(dir);
        dir = { inode, path: childPath };
      }
      return dir;
    };
    return walk(path.split("/"), follow);
  }

  /**
   * The same filesystem, read by a program that follows at most `hops` symlinks in one path; it shares this one's
   * caches (its methods run with the view as `this`, whose own fields are the shared ones by the prototype).
   */
  withSymlinkHops(hops: number): Ext4 {
    const view = Object.create(this) as Ext4;
    view.symlinkHops = hops;
    return view;
  }

  /** A file's content (following symlinks), or null when it does not exist or is not a regular file. */
  async readFile(path: string, limit = MAX_READ_FILE): Promise<Buffer | null> {
    const r = await this.resolve(path);
    if (!r || Inode.type(r.inode) !== "file") return null;
    return this.readInode(r.inode, limit);
  }

  async readdir(path: string): Promise<DirEntry[] | null> {
    const r = await this.resolve(path);
    if (!r || Inode.type(r.inode) !== "dir") return null;
    return (await this.readDirInode(r.inode)).filter((e) => e.name !== "." && e.name !== "..");
  }

  /** A symlink's target, or null when `path` is not a symlink. */
  async readlink(path: string): Promise<string | null> {
    const r = await this.resolve(path, false);
    if (!r || Inode.type(r.inode) !== "symlink") return null;
    return this.readlinkInode(r.inode);
  }

  async exists(path: string, follow = true): Promise<boolean> {
    return (await this.resolve(path, follow)) !== null;
  }

  /** What a special file is, by its mode: "a FIFO", "a character device", "a block device", "a socket". */
  async kind(path: string): Promise<string | null> {
    const r = await this.resolve(path);
    if (!r) return null;
    const t = r.inode.mode & 0xf000;
    return t === 0x1000
      ? "a FIFO"
      : t === 0x2000
        ? "a character device"
        : t === 0x6000
          ? "a block device"
          : t === 0xc000
            ? "a socket"
            : t === 0x4000
              ? "a directory"
              : t === 0x8000
                ? "a regular file"
                : "not a regular file";
  }

  async type(path: string, follow = true): Promise<"dir" | "file" | "symlink" | "other" | null> {
    const r = await this.resolve(path, follow);
    return r ? Inode.type(r.inode) : null;
  }
}
