// The compact qcow2 writer: every fixture converted holds the same guest bytes (qemu-img compare, and our own reader),
// passes qemu-img check, and holds only the clusters that are not zeros.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openImage, type VirtualDisk } from "../../provider/image";
import { compactQcow2, type CompactQcow2 } from "../../provider/image/qcow2-writer";
import { built, describeWithFixtures } from "../support/fixtures";
import { requireTools } from "../support/require";

const dir = mkdtempSync(join(tmpdir(), "qcow2-writer-"));

async function writeOut(q: CompactQcow2, file: string): Promise<void> {
  const fd = openSync(file, "w");
  try {
    // Parts out of order, as parallel uploads send them: any range of the image can be produced at any time.
    const part = 3 * 2 ** 20 + 4096;
    const offsets: number[] = [];
    for (let off = 0; off < q.size; off += part) offsets.push(off);
    for (const off of offsets.reverse()) {
      const b = await q.read(off, Math.min(part, q.size - off));
      writeSync(fd, b, 0, b.length, off);
    }
  } finally {
    closeSync(fd);
  }
}

async function digest(disk: VirtualDisk): Promise<string> {
  const h = createHash("sha256");
  for (let off = 0; off < disk.size; off += 8 * 2 ** 20) h.update(await disk.read(off, Math.min(8 * 2 ** 20, disk.size - off)));
  return h.digest("hex");
}

/** A disk of `size` bytes whose clusters listed in `data` hold a pattern naming them, and zeros elsewhere. */
function synthetic(size: number, data: Set<number>): VirtualDisk {
  return {
    format: "raw",
    details: {},
    name: "synthetic",
    size,
    allocatedBytes: async () => data.size * 65536,
    close: async () => undefined,
    read: async (offset: number, length: number) => {
      const b = Buffer.alloc(length);
      for (let p = 0; p < length; p += 512) {
        const cluster = Math.floor((offset + p) / 65536);
        if (data.has(cluster)) b.writeUInt32BE(cluster + 1, p);
      }
      return b;
    },
  };
}

test("a sparse 3 GiB disk with data in four L2 tables' ranges, its size not a whole number of clusters, reads back identically", async () => {
  const size = 3 * 2 ** 30 + 512;
  const disk = synthetic(size, new Set([0, 1, 9000, 20000, 49151, 49152]));
  const q = await compactQcow2(disk);
  expect(q.dataClusters).toBe(6);
  expect(q.size).toBeLessThan(2 ** 20);
  const file = join(dir, "synthetic.qcow2");
  await writeOut(q, file);
  const back = await openImage(file);
  try {
    expect(back.disk.format).toBe("qcow2");
    expect(back.disk.size).toBe(size);
    expect(await back.disk.read(9000 * 65536, 1024)).toEqual(await disk.read(9000 * 65536, 1024));
    expect(await back.disk.read(size - 512, 512)).toEqual(await disk.read(size - 512, 512));
    expect(await back.disk.allocatedBytes()).toBe(6 * 65536);
  } finally {
    await back.close();
  }
});

const noQemu = requireTools(["qemu-img"]);
if (noQemu) console.warn(`qcow2 writer against qemu-img: ${noQemu}`);

describeWithFixtures("every fixture converted to a compact qcow2", (fx) => {
  const rows = [
    { file: "good-gpt.raw", format: "raw" },
    { file: "good-mbr.raw", format: "raw" },
    { file: "good-zlib.qcow2", format: "qcow2" },
    { file: "good-zstd.qcow2", format: "qcow2" },
    { file: "good-extl2.qcow2", format: "qcow2" },
    { file: "good-v2.qcow2", format: "qcow2" },
    { file: "good-sparse.vmdk", format: "vmdk" },
    { file: "good-stream.vmdk", format: "vmdk" },
    { file: "good-dynamic.vdi", format: "vdi" },
    { file: "good-static.vdi", format: "vdi" },
    { file: "good-dynamic.vhdx", format: "vhdx" },
    { file: "good-fixed.vhdx", format: "vhdx" },
    { file: "good-gpt.raw.gz", format: null },
    { file: "good-multistream.vhdx.bz2", format: null },
  ];
  (noQemu && process.env.REQUIRE_TOOLS !== "1" ? test.skip : test).each(built(fx, rows, (r) => r.file))(
    "$file: qemu-img check and compare pass, our reader reads the same disk, zero clusters are left out",
    async ({ file, format }) => {
      const source = await openImage(fx.path(file));
      try {
        const q = await compactQcow2(source.disk);
        const out = join(dir, `${file}.qcow2`);
        await writeOut(q, out);
        const check = spawnSync("qemu-img", ["check", out], { encoding: "utf8" });
        expect({ status: check.status, out: check.stdout.split("\n")[0] }).toEqual({ status: 0, out: "No errors were found on the image." });
        // qemu-img reads the source itself where it can (not through do-image's readers): an independent comparison.
        if (format) expect(spawnSync("qemu-img", ["compare", "-f", format, "-F", "qcow2", fx.path(file), out], { encoding: "utf8" }).status).toBe(0);
        const back = await openImage(out);
        try {
          expect(await digest(back.disk)).toBe(await digest(source.disk));
        } finally {
          await back.close();
        }
        expect(q.size).toBeLessThan(source.disk.size / 4);
      } finally {
        await source.close();
      }
    },
    60_000,
  );
});
