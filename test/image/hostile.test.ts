// Hostile filesystem metadata ends in bounded time: sizes on disk that claim far more than the blocks that exist.
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DoImageError } from "../../provider/errors";
import { Ext4, failureLines, FileSource, validateImage } from "../../provider/image";
import type { ByteSource } from "../../provider/image/source";
import { requireTools } from "../support/require";

const missing = requireTools(["mkfs.ext4", "debugfs"]);
if (missing) console.warn(`hostile ext4 metadata: ${missing}`);

(missing && process.env.REQUIRE_TOOLS !== "1" ? describe.skip : describe).each([
  { name: "extents", features: "extents" },
  { name: "indirect blocks", features: "^extents,^64bit" },
])("a directory whose i_size claims 2^62 bytes ($name)", ({ features }) => {
  test("lists its real entries at once instead of walking 2^50 blocks", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hostile-"));
    const tree = join(dir, "tree");
    mkdirSync(join(tree, "etc"), { recursive: true });
    for (const n of ["a", "b", "c"]) writeFileSync(join(tree, "etc", n), n);
    const img = join(dir, "fs.img");
    execFileSync("mkfs.ext4", ["-q", "-F", "-O", features, "-d", tree, img, "8M"]);
    execFileSync("debugfs", ["-w", "-R", "sif /etc size 0x4000000000000000", img], { stdio: "ignore" });
    const file = await FileSource.open(img);
    // counted reads, not a stopwatch: 2^50 blocks walked would be 2^50 reads
    let reads = 0;
    const src: ByteSource = { size: file.size, name: file.name, read: (o, l) => (reads++, file.read(o, l)), close: () => file.close() };
    try {
      const fs = await Ext4.open(src, img);
      const before = reads;
      const names = ((await fs.readdir("/etc")) ?? []).map((e) => e.name).sort();
      expect(names).toEqual(["a", "b", "c"]);
      expect(reads - before).toBeLessThan(50);
    } finally {
      await src.close();
    }
  }, 20_000);
});

test("a FIFO is refused at once instead of blocking in open()", async () => {
  const fifo = join(mkdtempSync(join(tmpdir(), "hostile-")), "image.fifo");
  execFileSync("mkfifo", [fifo]);
  // an open() that blocked would never settle: the test's own limit ends it
  await expect(FileSource.open(fifo)).rejects.toThrow(/is a FIFO, not a disk image file/);
}, 10_000);

const noSgdisk = requireTools(["mkfs.ext4", "sgdisk"]);
(noSgdisk && process.env.REQUIRE_TOOLS !== "1" ? test.skip : test)(
  "a root filesystem whose superblock cannot be read stops the image: not knowing is not a pass",
  async () => {
    const img = join(mkdtempSync(join(tmpdir(), "hostile-")), "disk.raw");
    execFileSync("truncate", ["-s", "40M", img]);
    execFileSync("sgdisk", ["-n", "1:2048:0", "-t", "1:8304", img], { stdio: "ignore" });
    execFileSync("mkfs.ext4", ["-q", "-F", "-E", `offset=${2048 * 512}`, img, "38M"]);
    // s_inodes_per_group (superblock offset 0x28) = 0: no inode can be located.
    const fd = openSync(img, "r+");
    writeSync(fd, Buffer.alloc(4), 0, 4, 2048 * 512 + 1024 + 0x28);
    closeSync(fd);
    // It has no boot loader either; that failure is accepted here, so only the unjudged checks can stop it.
    const r = await validateImage(img, { skip: ["boot-loader"] });
    expect(r.checks.find((c) => c.id === "filesystem")!.status).toBe("unknown");
    expect(r.checks.some((c) => c.status === "fail")).toBe(false);
    expect(r.ok).toBe(false);
    expect(failureLines(r).join("\n")).toMatch(/^filesystem: could not be judged: /m);
    const accepted = await validateImage(img, { skip: ["boot-loader", "filesystem", "cloud-init", "cloud-init-datasources", "sshd"] });
    expect(accepted.ok).toBe(true);
  },
  20_000,
);

describe("compressed bombs and scratch space", () => {
  const dir = mkdtempSync(join(tmpdir(), "hostile-bomb-"));
  const sh = (script: string) => execFileSync("bash", ["-o", "pipefail", "-c", script], { cwd: dir });

  test("101 GiB of zeros in 80 KB of bzip2 streams stops at DigitalOcean's limit: size fails, exit 1", () => {
    // As the 157 KB file that claimed 200 GiB was made: bzip2 streams of zeros (785 bytes a GiB), concatenated. Run
    // through the built CLI as a user runs it (blocks decode in worker threads there).
    sh("head -c 256M /dev/zero | bzip2 -9 > one.bz2 && for i in $(seq 404); do cat one.bz2; done > bomb.bz2");
    const cli = join(__dirname, "..", "..", "dist", "provider", "cli", "main.js");
    const run = spawnSync(process.execPath, [cli, "validate", "--json", join(dir, "bomb.bz2")], { encoding: "utf8", timeout: 100_000 });
    expect(run.status).toBe(1);
    const r = JSON.parse(run.stdout);
    expect(r.checks.find((c: { id: string }) => c.id === "size")).toMatchObject({
      status: "fail",
      message: expect.stringMatching(/decompressed past 100 GiB/),
    });
    expect(r.checks.find((c: { id: string }) => c.id === "format").status).toBe("unknown");
  }, 120_000);

  test("a gzip past the limit stops there too, with the bytes read so far (the limit is lowered here to keep it short)", async () => {
    sh("head -c 64M /dev/zero | gzip -1 > zeros.gz");
    const r = await validateImage(join(dir, "zeros.gz"), { maxBytes: 16 * 1024 ** 2 });
    expect(r.checks.find((c) => c.id === "size")!.message).toMatch(/decompressed past 16\.0 MiB \(\d+ bytes from the first \d+ compressed bytes\)/);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a scratch file system about to fill stops decompression with the reason naming TMPDIR, leaving room on it", async () => {
    const scratch = join(dir, "scratch");
    mkdirSync(scratch);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", scratch], { stdio: "ignore" });
    } catch {
      if (process.env.REQUIRE_TOOLS === "1") throw new Error("mounting a 16 MiB tmpfs needs root, which CI has");
      console.warn("scratch space: skipped, mounting a tmpfs needs root");
      return;
    }
    try {
      sh("head -c 40M /dev/urandom | gzip -1 > random.gz");
      const err = await validateImage(join(dir, "random.gz"), { scratchDir: scratch }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DoImageError);
      expect(err).toMatchObject({ code: "scratch-space", exitCode: 64, fix: expect.stringMatching(/TMPDIR/) });
      expect((err as Error).message).toMatch(new RegExp(`TMPDIR \\(${scratch}\\) is too full to decompress .*random\\.gz`));
      // It stopped with a reserve left on the file system, not when a write failed for want of space.
      expect(Number(/ ([\d.]+) MiB free/.exec((err as Error).message)?.[1])).toBeGreaterThanOrEqual(1);
      expect((err as Error).cause).toBeUndefined();
    } finally {
      execFileSync("umount", [scratch]);
    }
  });

  test("blocks repeated across streams decode to exactly the original bytes (the repeat shortcut is exact)", async () => {
    // Three patterns that each expand a lot, in an order that makes a worker see a repeat of a block it did not decode last.
    sh(
      "for p in a b b a a c c b; do head -c 30M /dev/zero | tr '\\0' $p; done > runs.raw && " +
        "(for p in a b b a a c c b; do head -c 30M /dev/zero | tr '\\0' $p | bzip2 -9; done) > runs.bz2",
    );
    const { openImage } = await import("../../provider/image");
    const image = await openImage(join(dir, "runs.bz2"));
    try {
      const want = execFileSync("sha256sum", [join(dir, "runs.raw")])
        .toString()
        .split(" ")[0];
      const hash = (await import("node:crypto")).createHash("sha256");
      for (let off = 0; off < image.host.size; off += 8 * 1024 ** 2) hash.update(await image.host.read(off, Math.min(8 * 1024 ** 2, image.host.size - off)));
      expect(hash.digest("hex")).toBe(want);
    } finally {
      await image.close();
    }
  }, 60_000);
});
