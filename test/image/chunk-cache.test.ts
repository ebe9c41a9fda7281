// The chunk cache under the guest checks: the same bytes as the source, one read per chunk, and a bounded size.
import { BufferSource, ChunkCacheSource, type ByteSource } from "../../provider/image/source";

function counted(size: number): { src: ByteSource; reads: () => number } {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >> 9)) & 0xff;
  const inner = new BufferSource(data, "disk");
  let n = 0;
  return {
    src: { size, name: "disk", read: (o, l) => (n++, inner.read(o, l)), close: async () => undefined },
    reads: () => n,
  };
}

test("small reads anywhere give the source's bytes, across chunk edges too, with one source read per chunk", async () => {
  const { src, reads } = counted(1 << 20);
  const cache = new ChunkCacheSource(src, 4096, 8);
  for (const [o, l] of [
    [0, 16],
    [4090, 12],
    [8192, 4096],
    [100, 3000],
    [4095, 2],
    [1048000, 576],
  ]) {
    expect(await cache.read(o, l)).toEqual(await src.read(o, l));
  }
  const before = reads();
  for (let i = 0; i < 100; i++) await cache.read(8192 + i * 8, 8); // all in one chunk, already read
  expect(reads() - before).toBe(0);
});

test("it holds at most its chunks, reads larger than two chunks pass through, and callers get copies", async () => {
  const { src, reads } = counted(1 << 20);
  const cache = new ChunkCacheSource(src, 4096, 4);
  for (let i = 0; i < 6; i++) await cache.read(i * 4096, 1);
  const afterFill = reads();
  await cache.read(0, 1); // chunk 0 was evicted (six chunks through four places)
  expect(reads() - afterFill).toBe(1);
  await cache.read(5 * 4096, 1); // chunk 5 is still there
  expect(reads() - afterFill).toBe(1);
  const big = await cache.read(0, 3 * 4096);
  expect(big).toEqual(await src.read(0, 3 * 4096));
  const a = await cache.read(64, 4);
  a.fill(0);
  expect(await cache.read(64, 4)).toEqual(await src.read(64, 4));
  await expect(cache.read((1 << 20) - 2, 4)).rejects.toThrow(/runs past the end/);
});
