// The qcow2 layout alone (no disk, no workers, no qemu-img): clusters placed by hand, deflated here, read back by our
// own qcow2 reader, and every cluster of the file counted in the refcount blocks.
import { deflateRawSync } from "node:zlib";
import { openContainer } from "../../provider/image/open";
import { BufferSource } from "../../provider/image/source";
import { CLUSTER, Qcow2Layout, qcow2SizeBound } from "../../provider/publish/qcow2/layout";
import { mulberry32 } from "../../tools/local-do/random";

const L2_SPAN = CLUSTER / 8; // guest clusters one L2 table maps

/** A cluster of guest bytes that deflate shrinks by a varying amount, so compressed clusters straddle host clusters. */
function guestCluster(n: number): Buffer {
  const random = mulberry32(n + 1);
  const b = Buffer.alloc(CLUSTER, n & 0xff);
  for (let i = 0; i < 1000 + (n % 7) * 3000; i++) b[i] = Math.floor(random() * 256);
  return b;
}

test("clusters placed across several L2 tables read back through the reader, and every host cluster is counted", async () => {
  const virtualSize = 3 * L2_SPAN * CLUSTER + 5 * CLUSTER + 1234; // a partial last cluster, four L2 ranges
  const placed = [0, 1, 2, L2_SPAN - 1, L2_SPAN, 2 * L2_SPAN + 17, 3 * L2_SPAN + 5, ...Array.from({ length: 40 }, (_, i) => 100 + i)].sort((a, b) => a - b);
  const layout = new Qcow2Layout(virtualSize);
  expect(() => layout.header()).toThrow(/only after the tables/);
  const parts: Buffer[] = [Buffer.alloc(CLUSTER)];
  /** What each host cluster's refcount must be: one per compressed cluster with a byte in it (qcow2.txt). */
  const expected = new Map<number, number>();
  for (const c of placed) {
    const deflated = deflateRawSync(guestCluster(c), { level: 1 });
    const at = layout.offset;
    for (let h = Math.floor(at / CLUSTER); h <= Math.floor((at + deflated.length - 1) / CLUSTER); h++) expected.set(h, (expected.get(h) ?? 0) + 1);
    layout.place(c, deflated.length);
    parts.push(deflated);
  }
  const dataEnd = layout.offset;
  parts.push(layout.tables());
  const file = Buffer.concat(parts);
  layout.header().copy(file, 0);
  expect(file.length).toBe(layout.offset);
  expect(file.length % CLUSTER).toBe(0);
  expect(file.length).toBeLessThanOrEqual(qcow2SizeBound(virtualSize));
  expect(dataEnd).toBeGreaterThan(2 * CLUSTER); // the data spans several host clusters, so entries straddle them

  const disk = await openContainer(new BufferSource(file, "layout.qcow2"), "layout.qcow2");
  expect(disk.size).toBe(virtualSize);
  for (const c of placed) {
    const length = Math.min(CLUSTER, virtualSize - c * CLUSTER); // the last cluster is partial
    expect((await disk.read(c * CLUSTER, length)).equals(guestCluster(c).subarray(0, length))).toBe(true);
  }
  for (const c of [3, L2_SPAN + 1, 2 * L2_SPAN, 3 * L2_SPAN + 4]) expect((await disk.read(c * CLUSTER, CLUSTER)).every((x) => x === 0)).toBe(true);

  // Refcounts (16-bit, refcount_order 4): every host cluster of the file is referenced at least once, none past its end.
  const refTable = Number(file.readBigUInt64BE(48));
  const block = Number(file.readBigUInt64BE(refTable));
  const clusters = file.length / CLUSTER;
  const counts = Array.from({ length: clusters + 8 }, (_, h) => file.readUInt16BE(block + h * 2));
  expect(counts.slice(0, clusters).every((n) => n >= 1)).toBe(true);
  expect([...expected].filter(([h, n]) => counts[h] !== n)).toEqual([]);
  expect([...expected.values()].some((n) => n > 1)).toBe(true); // some host clusters hold parts of two
  expect(counts.slice(clusters).every((n) => n === 0)).toBe(true);
  // The header, and each table after the data, is referenced exactly once.
  expect(counts[0]).toBe(1);
  expect(counts.slice(Math.ceil(dataEnd / CLUSTER), clusters).every((n) => n === 1)).toBe(true);
});

test("an empty disk is a header and its tables", async () => {
  const layout = new Qcow2Layout(10 * CLUSTER);
  const tables = layout.tables();
  const file = Buffer.concat([layout.header(), tables]);
  const disk = await openContainer(new BufferSource(file, "empty.qcow2"), "empty.qcow2");
  expect((await disk.read(0, 10 * CLUSTER)).every((x) => x === 0)).toBe(true);
  expect(file.length).toBe(4 * CLUSTER); // header, L1, refcount table, refcount block: no L2 table
});
