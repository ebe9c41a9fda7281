// The CLI as a user runs it: the built `do-image` binary, its output and its exit codes.
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTools } from "../support/require";

const root = join(__dirname, "..", "..");
const cli = join(root, "dist", "provider", "cli", "main.js");
const sample = join(root, "examples", "images", "debian-12-sample.qcow2");

function doImage(...args: string[]) {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run 'make build' (make test does it first)`);
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("do-image inspect", () => {
  test("reports a good image and exits 0", () => {
    const r = doImage("inspect", sample);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/format\s+qcow2 \(version 3/);
    expect(r.stdout).toMatch(/virtual size\s+64\.0 MiB \(67108864 bytes\)/);
    expect(r.stdout).toMatch(/3\s+10\.0 MiB\s+54\.0 MiB\s+Linux root \(x86-64\)\s+root/);
  });

  test("--json is a parseable report", () => {
    const r = doImage("inspect", "--json", sample);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ format: "qcow2", compression: "none", virtualSize: 67108864, partitionTable: { scheme: "gpt" }, findings: [] });
    expect(report.partitionTable.partitions).toHaveLength(3);
  });

  test("an unreadable file exits 2 with the reason and the fix, in JSON too", () => {
    const dir = mkdtempSync(join(tmpdir(), "do-image-cli-"));
    const iso = join(dir, "fake.img");
    const buf = Buffer.alloc(40000);
    buf.write("CD001", 0x8001, "latin1");
    writeFileSync(iso, buf);
    const human = doImage("inspect", iso);
    expect(human.code).toBe(2);
    expect(human.stderr).toMatch(/ISO 9660/);
    expect(human.stderr).toMatch(/fix:/);
    const json = doImage("inspect", "--json", iso);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ file: iso, error: { code: "iso9660" } });
  });

  test("a missing file exits 2 naming it", () => {
    const r = doImage("inspect", "/nonexistent/disk.qcow2");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot open \/nonexistent\/disk.qcow2: no such file/);
  });
});

const noQemu = requireTools(["qemu-img", "qemu-io"]);
if (noQemu) console.warn(`inspect and validate on damaged containers: ${noQemu}`);

(noQemu && process.env.REQUIRE_TOOLS !== "1" ? describe.skip : describe)("the same damage gets the same verdict from inspect and validate", () => {
  const dir = mkdtempSync(join(tmpdir(), "do-image-damage-"));
  /** A 64 MiB container with its first MiB written, as QEMU writes it. */
  const made = (format: string, name: string, options: string[] = []) => {
    const file = join(dir, name);
    execFileSync("qemu-img", ["create", "-q", "-f", format, ...options, file, "64M"]);
    execFileSync("qemu-io", ["-f", format, "-c", "write -P 0x5a 0 1M", file], { stdio: "ignore" });
    return file;
  };
  const cut = (file: string, bytes: number) => {
    truncateSync(file, statSync(file).size - bytes);
    return file;
  };
  const poke = (file: string, offset: number, bytes: Buffer) => {
    const fd = openSync(file, "r+");
    writeSync(fd, bytes, 0, bytes.length, offset);
    closeSync(fd);
    return file;
  };
  const u64 = (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(n);
    return b;
  };

  test.each([
    ["a qcow2 cut off inside a data cluster", () => cut(made("qcow2", "cut.qcow2"), 300_000), /qcow2 data cluster \d+ .* past the end of the file/],
    ["a VMDK cut off inside a grain", () => cut(made("vmdk", "cut.vmdk"), 300_000), /VMDK grain \d+ .* past the end of the file/],
    [
      "a qcow2 whose refcount table lies past the end",
      () => poke(made("qcow2", "refcount.qcow2"), 48, u64(1n << 36n)),
      /qcow2 refcount table at offset 68719476736/,
    ],
    [
      "a qcow2 whose snapshot table lies past the end",
      () => poke(made("qcow2", "snapshots.qcow2"), 60, Buffer.concat([Buffer.from([0, 0, 0, 1]), u64(1n << 36n)])),
      /qcow2 snapshot table at offset 68719476736/,
    ],
  ])("%s: both exit 2 and name the same structure", (_name, build, reason) => {
    const file = build();
    const inspect = doImage("inspect", "--json", file);
    const validate = doImage("validate", "--json", file);
    expect([inspect.code, validate.code]).toEqual([2, 2]);
    expect(JSON.parse(inspect.stdout).error.message).toMatch(reason);
    const format = JSON.parse(validate.stdout).checks.find((c: { id: string }) => c.id === "format");
    expect(format).toMatchObject({ status: "fail", message: expect.stringMatching(reason) });
  });
});
