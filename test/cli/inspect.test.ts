// The CLI as a user runs it: the built `do-image` binary, its output and its exit codes.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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
