// `do-image convert`: the compressed qcow2 push sends, written to a file that qemu-img reads as the same disk.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnCli } from "../support/cli";

const sample = join(__dirname, "..", "..", "examples", "images", "debian-12-sample.qcow2");
const env = { ...process.env, NO_COLOR: "1" };
const doImage = (...args: string[]) => spawnCli(env, args);
const dir = mkdtempSync(join(tmpdir(), "convert-"));

test("a raw disk becomes a compressed qcow2 of its non-zero clusters that qemu-img reads as the same disk", async () => {
  const raw = join(dir, "disk.raw");
  execFileSync("qemu-img", ["convert", "-O", "raw", sample, raw]);
  const out = join(dir, "disk.qcow2");
  const r = await doImage("convert", raw, out, "--json");
  expect(r.code).toBe(0);
  const json = JSON.parse(r.stdout);
  expect(json).toMatchObject({ file: raw, output: out, converted: true, virtualSize: 64 * 2 ** 20, size: statSync(out).size });
  expect(json.dataClusters).toBeGreaterThan(10);
  expect(spawnSync("qemu-img", ["check", out]).status).toBe(0);
  expect(execFileSync("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", raw, out], { encoding: "utf8" })).toMatch(/identical/);
  const text = await doImage("convert", raw, out);
  expect(text.stdout).toMatch(/^wrote .*disk\.qcow2: [\d.]+ MiB, a compressed qcow2 of a 64\.0 MiB disk \(\d+ clusters of data\)\n$/);
});

test("--auto leaves an image that already compresses its data; bad input fails naming the file, leaving no file behind", async () => {
  const r = await doImage("convert", "--auto", sample, join(dir, "never.qcow2"), "--json");
  expect(JSON.parse(r.stdout)).toMatchObject({ converted: false, output: null, reason: expect.stringMatching(/already compresses its data/) });
  expect(existsSync(join(dir, "never.qcow2"))).toBe(false);
  expect((await doImage("convert", sample, sample)).code).toBe(64);
  // Cut off part way through its clusters: the header and tables read, the data runs out while the qcow2 is written.
  const junk = join(dir, "junk.qcow2");
  writeFileSync(junk, readFileSync(sample).subarray(0, Math.floor(statSync(sample).size * 0.6)));
  const bad = await doImage("convert", junk, join(dir, "out.qcow2"));
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/junk\.qcow2/);
  expect(readdirSync(dir).filter((f) => f.startsWith("out.qcow2"))).toEqual([]);
});

// What the output names must be a file the result may replace: a device, FIFO or directory is refused with 64
// before any work, and left as it was; a symlink is written through, and stays a symlink.
test.each([
  // a node like /dev/full (1,7), made here so that a regression replaces nothing of the machine's
  [
    "a character device",
    "a character device",
    () => {
      const p = join(dir, "full");
      if (!existsSync(p)) execFileSync("mknod", [p, "c", "1", "7"]);
      return p;
    },
  ],
  [
    "a FIFO",
    "a FIFO",
    () => {
      const p = join(dir, "fifo");
      if (!existsSync(p)) execFileSync("mkfifo", [p]);
      return p;
    },
  ],
  ["a directory", "a directory", () => dir],
  [
    "a symlink to /dev/null",
    "a character device",
    () => {
      const p = join(dir, "to-null");
      if (!existsSync(p)) symlinkSync("/dev/null", p);
      return p;
    },
  ],
])("convert to %s exits 64 naming it, and leaves it as it was", async (_n, what, make) => {
  const target = make();
  const before = lstatSync(target);
  const r = await doImage("convert", sample, target, "--json");
  expect(r.code).toBe(64);
  expect(JSON.parse(r.stdout).error).toMatchObject({ code: "usage", message: expect.stringContaining(`is ${what}`) });
  const after = lstatSync(target);
  expect({ ino: after.ino, mode: after.mode, rdev: after.rdev }).toEqual({ ino: before.ino, mode: before.mode, rdev: before.rdev });
  expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
});

test("a symlink to a file is written through: the link stays, the file it names is the new image", async () => {
  const file = join(dir, "real.qcow2");
  writeFileSync(file, "old");
  const link = join(dir, "link.qcow2");
  symlinkSync(file, link);
  const raw = join(dir, "disk.raw");
  if (!existsSync(raw)) execFileSync("qemu-img", ["convert", "-O", "raw", sample, raw]);
  expect((await doImage("convert", raw, link)).code).toBe(0);
  expect(lstatSync(link).isSymbolicLink()).toBe(true);
  expect(spawnSync("qemu-img", ["check", file]).status).toBe(0);
});
