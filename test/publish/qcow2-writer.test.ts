// The compressed qcow2 writer: every fixture converted holds the same guest bytes (qemu-img compare, and our own reader),
// passes qemu-img check, and holds only the clusters that are not zeros.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openImage, type VirtualDisk } from "../../provider/image";
import { compressedQcow2, qcow2SizeBound, type Qcow2Stream } from "../../provider/publish/qcow2";
import { mulberry32 } from "../../tools/local-do/random";
import { built, describeWithFixtures } from "../support/fixtures";
import { requireTools } from "../support/require";

const dir = mkdtempSync(join(tmpdir(), "qcow2-writer-"));
const noQemu = requireTools(["qemu-img"]);
if (noQemu) console.warn(`qcow2 writer against qemu-img: ${noQemu}`);

/** Writes the stream out as an uploader sends it: chunks in order, then the header over the first cluster. */
async function writeOut(q: Qcow2Stream, file: string): Promise<void> {
  const fd = openSync(file, "w");
  try {
    let at = 0;
    for await (const chunk of q.chunks) {
      writeSync(fd, chunk, 0, chunk.length, at);
      at += chunk.length;
    }
    expect(() => q.header()).not.toThrow();
    writeSync(fd, q.header(), 0, 65536, 0);
    expect(at).toBe(q.stats.size);
    expect(at).toBeLessThanOrEqual(qcow2SizeBound(q.stats.virtualSize));
  } finally {
    closeSync(fd);
  }
}

async function digest(disk: VirtualDisk): Promise<string> {
  const h = createHash("sha256");
  for (let off = 0; off < disk.size; off += 8 * 2 ** 20) h.update(await disk.read(off, Math.min(8 * 2 ** 20, disk.size - off)));
  return h.digest("hex");
}

/**
 * A disk of `size` bytes whose clusters listed in `data` hold a pattern naming them (it compresses), those in `noise`
 * seeded random bytes (it does not: stored), and zeros elsewhere.
 */
function synthetic(size: number, data: Set<number>, noise = new Set<number>()): VirtualDisk {
  const cluster = (c: number) => {
    const b = Buffer.alloc(65536);
    if (noise.has(c)) {
      const next = mulberry32(c);
      for (let p = 0; p < b.length; p += 4) b.writeUInt32LE(Math.floor(next() * 2 ** 32), p);
    } else if (data.has(c)) for (let p = 0; p < b.length; p += 512) b.writeUInt32BE(c + 1, p);
    return b;
  };
  const read = async (offset: number, length: number) => {
    const b = Buffer.alloc(length);
    for (let c = Math.floor(offset / 65536); c * 65536 < offset + length; c++) {
      if (!data.has(c) && !noise.has(c)) continue;
      const from = Math.max(offset, c * 65536);
      const to = Math.min(offset + length, (c + 1) * 65536, size);
      cluster(c).copy(b, from - offset, from - c * 65536, to - c * 65536);
    }
    return b;
  };
  return {
    format: "raw",
    details: {},
    name: "synthetic",
    size,
    allocatedBytes: async () => (data.size + noise.size) * 65536,
    close: async () => undefined,
    read,
    readInto: async (target: Buffer, targetOffset: number, length: number, position: number) => {
      (await read(position, length)).copy(target, targetOffset);
    },
  };
}

/** The synthetic disk as a sparse raw file, for qemu-img to compare against. */
async function rawFile(disk: VirtualDisk, clusters: Set<number>, file: string): Promise<void> {
  const fd = openSync(file, "w");
  try {
    ftruncateSync(fd, disk.size);
    for (const c of clusters) {
      const b = await disk.read(c * 65536, Math.min(65536, disk.size - c * 65536));
      writeSync(fd, b, 0, b.length, c * 65536);
    }
  } finally {
    closeSync(fd);
  }
}

test("a sparse 3 GiB disk, its data in four L2 tables' ranges and its size not a whole number of clusters, reads back identically", async () => {
  const size = 3 * 2 ** 30 + 512;
  const data = new Set([0, 1, 9000, 20000, 49152]);
  const noise = new Set([2, 9001, 49151]);
  const disk = synthetic(size, data, noise);
  const q = compressedQcow2(disk);
  const file = join(dir, "synthetic.qcow2");
  await writeOut(q, file);
  expect(q.stats).toMatchObject({ dataClusters: 8, storedClusters: 3 });
  // Five pattern clusters compress to almost nothing; three of random bytes are stored (64 KiB and 10 bytes each).
  expect(q.stats.size).toBeLessThan(2 ** 20);
  const back = await openImage(file);
  try {
    expect(back.disk.format).toBe("qcow2");
    expect(back.disk.size).toBe(size);
    for (const c of [0, 2, 9000, 9001, 49151]) expect((await back.disk.read(c * 65536, 65536)).equals(await disk.read(c * 65536, 65536))).toBe(true);
    expect(await back.disk.read(size - 512, 512)).toEqual(await disk.read(size - 512, 512));
    expect(await back.disk.read(5 * 65536, 65536)).toEqual(Buffer.alloc(65536));
  } finally {
    await back.close();
  }
  if (noQemu) return;
  const raw = join(dir, "synthetic.raw");
  await rawFile(disk, new Set([...data, ...noise]), raw);
  const check = spawnSync("qemu-img", ["check", "--output=json", file], { encoding: "utf8" });
  expect(check.status).toBe(0);
  expect(JSON.parse(check.stdout)).toMatchObject({ "compressed-clusters": 8, "allocated-clusters": 8 });
  expect(spawnSync("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", raw, file], { encoding: "utf8" }).stdout).toMatch(/Images are identical/);
});

describeWithFixtures("every fixture converted to a compressed qcow2", (fx) => {
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
        const q = compressedQcow2(source.disk);
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
        expect(q.stats.size).toBeLessThan(source.disk.size / 4);
      } finally {
        await source.close();
      }
    },
    60_000,
  );
});

describeWithFixtures("the compiled writer, compressing in worker threads", (fx) => {
  // Run from source (as here) clusters compress in this thread; the built package hands them to worker threads.
  const compiled = join(__dirname, "..", "..", "dist", "provider", "publish", "qcow2", "index.js");
  const bytesOf = async (q: Qcow2Stream) => {
    const h = createHash("sha256");
    const chunks: number[] = [];
    for await (const chunk of q.chunks) {
      h.update(chunk);
      chunks.push(chunk.length);
    }
    return { sha: h.update(q.header()).digest("hex"), chunks: chunks.length, size: q.stats.size };
  };
  (existsSync(compiled) ? test : test.skip)("writes the same bytes as the in-thread path (make build first)", async () => {
    const { compressedQcow2: inWorkers } = (await import(compiled)) as typeof import("../../provider/publish/qcow2");
    const source = await openImage(fx.path("good-gpt.raw"));
    try {
      const workers = await bytesOf(inWorkers(source.disk, { workers: 2 }));
      const here = await bytesOf(compressedQcow2(source.disk, { workers: 0 }));
      expect(workers).toEqual(here);
      expect(workers.chunks).toBeGreaterThan(2);
    } finally {
      await source.close();
    }
  });
});
