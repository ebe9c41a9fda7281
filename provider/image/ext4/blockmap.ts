// Where a file's blocks are: the ext4 extent tree walked into sorted runs, and the ext2/3 direct and indirect block map.
import { ImageError } from "../errors";
import { parseExtentHeader, parseIndex, parseLeaf, type Extent } from "./extents";
import type { Inode } from "./inode";

/** Physical block for each logical block of one file, 0 for a hole. */
export type BlockMap = (logical: number) => Promise<number>;

/** Reads `count` whole filesystem blocks starting at physical block `block`. */
export type ReadBlocks = (block: number, count?: number) => Promise<Buffer>;

/** Every extent of an extent-mapped inode, sorted by logical block; trees of any depth, bounded by the file's size. */
export async function walkExtents(inode: Inode, name: string, blockSize: number, readBlocks: ReadBlocks): Promise<Extent[]> {
  const out: Extent[] = [];
  const walk = async (node: Buffer, depth: number, budget: { nodes: number }): Promise<void> => {
    const h = parseExtentHeader(node);
    if (!h || h.depth !== depth || h.entries > h.max) {
      throw new ImageError(`${name}: inode ${inode.number} has a damaged extent tree node (depth ${depth})`, {
        file: name,
        fix: "the filesystem is damaged; run e2fsck on it before building the image",
        code: "ext-corrupt",
      });
    }
    if (h.depth === 0) {
      out.push(...parseLeaf(node, h.entries));
      return;
    }
    for (const idx of parseIndex(node, h.entries)) {
      if (--budget.nodes < 0)
        throw new ImageError(`${name}: inode ${inode.number}'s extent tree is larger than its file`, {
          file: name,
          fix: "run e2fsck",
          code: "ext-corrupt",
        });
      await walk(await readBlocks(idx.leaf), depth - 1, budget);
    }
  };
  const root = parseExtentHeader(inode.iBlock);
  if (!root || root.depth > 5)
    throw new ImageError(`${name}: inode ${inode.number} has no valid extent tree root`, { file: name, fix: "run e2fsck", code: "ext-corrupt" });
  await walk(inode.iBlock, root.depth, { nodes: Math.ceil(inode.size / blockSize) + 16 });
  out.sort((a, b) => a.logical - b.logical);
  return out;
}

/** The block map of sorted extents: a binary search for the run holding each logical block. */
export function extentMap(extents: Extent[]): BlockMap {
  return async (logical) => {
    let lo = 0;
    let hi = extents.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = extents[mid];
      if (logical < e.logical) hi = mid - 1;
      else if (logical >= e.logical + e.length) lo = mid + 1;
      else return e.uninitialized ? 0 : e.physical + (logical - e.logical);
    }
    return 0;
  };
}

/** The ext2/3 block map: 12 direct pointers, then single-, double- and triple-indirect blocks (a few cached). */
export function indirectMap(inode: Inode, blockSize: number, readBlocks: ReadBlocks): BlockMap {
  const ptrs = blockSize / 4;
  const iblock = (i: number) => inode.iBlock.readUInt32LE(i * 4);
  const indirectCache = new Map<number, Buffer>();
  const pointer = async (block: number, index: number): Promise<number> => {
    if (block === 0) return 0;
    let buf = indirectCache.get(block);
    if (!buf) {
      buf = await readBlocks(block);
      if (indirectCache.size > 64) indirectCache.clear();
      indirectCache.set(block, buf);
    }
    return buf.readUInt32LE(index * 4);
  };
  return async (logical) => {
    if (logical < 12) return iblock(logical);
    let n = logical - 12;
    if (n < ptrs) return pointer(iblock(12), n);
    n -= ptrs;
    if (n < ptrs * ptrs) return pointer(await pointer(iblock(13), Math.floor(n / ptrs)), n % ptrs);
    n -= ptrs * ptrs;
    const l1 = await pointer(iblock(14), Math.floor(n / (ptrs * ptrs)));
    return pointer(await pointer(l1, Math.floor(n / ptrs) % ptrs), n % ptrs);
  };
}
