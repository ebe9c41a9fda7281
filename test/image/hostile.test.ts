// Hostile filesystem metadata ends in bounded time: sizes on disk that claim far more than the blocks that exist.
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ext4, failureLines, FileSource, validateImage } from "../../provider/image";
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
    const src = await FileSource.open(img);
    try {
      const fs = await Ext4.open(src, img);
      const t0 = Date.now();
      const names = ((await fs.readdir("/etc")) ?? []).map((e) => e.name).sort();
      expect(names).toEqual(["a", "b", "c"]);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await src.close();
    }
  }, 20_000);
});

test("a FIFO is refused at once instead of blocking in open()", async () => {
  const fifo = join(mkdtempSync(join(tmpdir(), "hostile-")), "image.fifo");
  execFileSync("mkfifo", [fifo]);
  const t0 = Date.now();
  await expect(FileSource.open(fifo)).rejects.toThrow(/is a FIFO, not a disk image file/);
  expect(Date.now() - t0).toBeLessThan(2000);
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
