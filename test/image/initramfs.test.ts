// The initramfs lister on archives laid out as the kernel reads them: early microcode in front, then gzip or zstd.
import { spawnSync } from "node:child_process";
import { gzipSync } from "node:zlib";
import { listInitramfs } from "../../provider/image/initramfs";
import { requireTools } from "../support/require";

/** A newc cpio archive of `names` (each a small file, or of `size(i)` bytes), ending with the TRAILER!!! entry. */
function cpio(names: string[], size?: (i: number) => number): Buffer {
  const parts: Buffer[] = [];
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  for (const [i, name] of [...names, "TRAILER!!!"].entries()) {
    const data = name === "TRAILER!!!" ? Buffer.alloc(0) : size ? Buffer.alloc(size(i), i % 251) : Buffer.from(`contents of ${name}\n`);
    const hex = (v: number) => v.toString(16).padStart(8, "0");
    const fields = [1, 0o100644, 0, 0, 1, 0, data.length, 0, 0, 0, 0, name.length + 1, 0];
    const header = Buffer.from(`070701${fields.map(hex).join("")}`, "latin1");
    const nameBuf = Buffer.from(`${name}\0`);
    parts.push(header, nameBuf, pad(header.length + nameBuf.length), data, pad(data.length));
  }
  return Buffer.concat(parts);
}

const MAIN = ["usr/lib/modules/6.1.0/kernel/drivers/block/virtio_blk.ko", "usr/lib/modules/6.1.0/kernel/fs/ext4/ext4.ko.zst", "init"];
const EARLY = cpio(["kernel/x86/microcode/GenuineIntel.bin"]);

test("an early microcode archive, zero padding, then a gzip-compressed archive", async () => {
  const image = Buffer.concat([EARLY, Buffer.alloc(512 - (EARLY.length % 512)), gzipSync(cpio(MAIN))]);
  const l = await listInitramfs(image);
  expect(l).toEqual({ files: ["kernel/x86/microcode/GenuineIntel.bin", ...MAIN], layers: ["none", "gzip"] });
});

const noZstd = requireTools(["zstd"]);
(noZstd && process.env.REQUIRE_TOOLS !== "1" ? test.skip : test)("a zstd-compressed archive (Debian 12's and Fedora's default)", async () => {
  const z = spawnSync("zstd", ["-q", "-c"], { input: cpio(MAIN) });
  expect(z.status).toBe(0);
  expect(await listInitramfs(Buffer.concat([EARLY, z.stdout]))).toEqual({
    files: ["kernel/x86/microcode/GenuineIntel.bin", ...MAIN],
    layers: ["none", "zstd"],
  });
});

(noZstd && process.env.REQUIRE_TOOLS !== "1" ? test.skip : test).each(["zstd", "gzip"])(
  "a large %s archive is listed as it decompresses: names and contents that straddle the decompressor's pieces",
  async (tool) => {
    // 2,000 files of 0 to 97 KiB (about 95 MiB), names of every length mod 4: entries cross piece boundaries everywhere.
    const names = Array.from({ length: 2000 }, (_, i) => `usr/lib/modules/6.1.0/kernel/${"d".repeat(i % 7)}/m${i}.ko`);
    const z = spawnSync(tool, ["-q", "-1", "-c"], { input: cpio(names, (i) => (i * 7919) % 99_000), maxBuffer: 1 << 30 });
    expect(z.status).toBe(0);
    expect(await listInitramfs(z.stdout)).toEqual({ files: names, layers: [tool] });
  },
);

test("a compression this reader does not decode is named, with what was read before it", async () => {
  const xz = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]);
  expect(await listInitramfs(Buffer.concat([EARLY, xz]))).toEqual({ files: ["kernel/x86/microcode/GenuineIntel.bin"], layers: ["none"], unreadable: "xz" });
});

test("garbage ends the listing instead of looping", async () => {
  expect(await listInitramfs(Buffer.from("not an initramfs at all"))).toEqual({ files: [], layers: [] });
});

test("a layer that decompresses past the bound is listed as far as the bound, and says so (never a bug)", async () => {
  const names = Array.from({ length: 40 }, (_, i) => `usr/lib/modules/6.1.0/m${i}.ko`);
  const image = gzipSync(cpio(names, () => 64 * 1024));
  const l = await listInitramfs(image, 1024 * 1024);
  expect(l.partial).toBe("it decompresses to more than 1048576 bytes; listed as far as that");
  expect(l.files.length).toBeGreaterThan(0);
  expect(l.files.length).toBeLessThan(names.length);
  expect(l.files).toEqual(names.slice(0, l.files.length));
  expect((await listInitramfs(image)).partial).toBeUndefined();
});

test("damaged gzip data ends the listing with the reason, keeping what was listed", async () => {
  const good = gzipSync(cpio(MAIN));
  const damaged = Buffer.concat([good.subarray(0, 10), Buffer.from("this is not deflate data at all"), good.subarray(40)]);
  const l = await listInitramfs(damaged);
  expect(l.partial).toMatch(/^its gzip data is damaged \(.+\); listed as far as that$/);
});
