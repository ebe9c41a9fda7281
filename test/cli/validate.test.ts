// `do-image validate` as a user runs it: the table, the JSON contract and the exit codes 0, 1 and 2.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeWithFixtures } from "../support/fixtures";
import { requireTools } from "../support/require";

const root = join(__dirname, "..", "..");
const cli = join(root, "dist", "provider", "cli", "main.js");
const CHECK_IDS = [
  "format",
  "compression",
  "size",
  "partition-table",
  "filesystem",
  "cloud-init",
  "cloud-init-datasources",
  "sshd",
  "boot-loader",
  "kernel",
  "fstab",
  "network",
];
/** The committed sample is a skeleton: a guest tree with cloud-init and sshd, but no kernel and no boot code. */
const BOOT_CHECKS = ["boot-loader", "kernel"];

function doImage(...args: string[]) {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run 'make build' (make test does it first)`);
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("the committed sample (a skeleton) passes every check but the boot ones, which fail saying what is missing", () => {
  const sample = join(root, "examples", "images", "debian-12-sample.qcow2");
  const r = doImage("validate", sample);
  expect(r.code).toBe(1);
  for (const id of CHECK_IDS.filter((c) => !BOOT_CHECKS.includes(c))) expect(r.stdout).toMatch(new RegExp(`pass\\s+${id}\\s`));
  expect(r.stdout).toMatch(/fail\s+boot-loader\s+the MBR holds no boot code/);
  expect(r.stdout).toMatch(/fail\s+kernel\s+no Linux kernel in \/boot/);
  const skipped = doImage("validate", "--skip", BOOT_CHECKS.join(","), sample);
  expect(skipped.code).toBe(0);
  expect(skipped.stdout).toMatch(/DigitalOcean should accept this image/);
});

test("an unreadable file exits 2 and still prints every check in JSON", () => {
  const r = doImage("validate", "--json", "/nonexistent/image.qcow2");
  expect(r.code).toBe(2);
  const report = JSON.parse(r.stdout);
  expect(report).toMatchObject({ file: "/nonexistent/image.qcow2", ok: false });
  expect(report.checks.map((c: { id: string }) => c.id)).toEqual(CHECK_IDS);
  expect(report.checks[0]).toMatchObject({ id: "format", status: "fail", message: expect.stringMatching(/no such file/), fix: expect.any(String) });
  for (const c of report.checks) expect(Object.keys(c).sort()).toEqual(["evidence", "fix", "id", "message", "status"]);
});

describeWithFixtures("validate on failing guests", (fx) => {
  test("a failing check exits 1, shows the evidence and the fix", () => {
    const r = doImage("validate", fx.path("guest-sshd-masked.qcow2"));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/fail\s+sshd\s+sshd is installed but ssh.service is masked/);
    expect(r.stdout).toMatch(/evidence: partition 3 \/etc\/systemd\/system\/ssh.service: ssh.service -> \/dev\/null/);
    expect(r.stdout).toMatch(/fix: unmask and enable it in the image/);
  });

  test("--skip turns the failure into an accepted warning and exits 0", () => {
    const r = doImage("validate", "--json", "--skip", ["sshd", ...BOOT_CHECKS].join(","), fx.path("guest-sshd-masked.qcow2"));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).checks.find((c: { id: string }) => c.id === "sshd").status).toBe("warn");
  });
});

test("a compressed image with no usable scratch directory is a usage error (exit 64), as JSON too, before any work", () => {
  const r = spawnSync(process.execPath, [cli, "validate", "--json", join(root, "examples", "images", "debian-12-sample.raw.bz2")], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", TMPDIR: "/nonexistent-scratch" },
  });
  expect(r.status).toBe(64);
  expect(JSON.parse(r.stdout)).toMatchObject({
    error: { code: "scratch-unusable", message: expect.stringMatching(/\/nonexistent-scratch cannot hold one/), fix: expect.stringMatching(/TMPDIR/) },
  });
});

test("an unreachable API is exit 69, with each retry said as it happens and the host named", () => {
  const r = spawnSync(process.execPath, [cli, "ls"], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", DIGITALOCEAN_TOKEN: "t", DIGITALOCEAN_API_URL: "http://127.0.0.1:9" },
    timeout: 60_000,
  });
  expect(r.status).toBe(69);
  expect(r.stderr.match(/retrying in \d+ ms \(attempt \d of 6\)/g)).toHaveLength(5);
  expect(r.stderr).toMatch(/fix: check the network and that 127\.0\.0\.1:9 is reachable/);
});

describe("a well-formed image far over 100 GiB is refused as too big (exit 1) by validate and inspect alike", () => {
  const missing = requireTools(["qemu-img"]);
  if (missing && process.env.REQUIRE_TOOLS !== "1") {
    console.warn(`skipped 1 EiB image: ${missing}`);
    test.skip(`1 EiB qcow2: ${missing}`, () => undefined);
    return;
  }
  test("a 1 EiB qcow2 (a size past 2^53 bytes)", () => {
    const file = join(mkdtempSync(join(tmpdir(), "huge-")), "huge.qcow2");
    execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "cluster_size=2M", file, "1E"]);
    const v = doImage("validate", "--json", file);
    expect(v.code).toBe(1);
    const checks = Object.fromEntries((JSON.parse(v.stdout).checks as { id: string; status: string }[]).map((c) => [c.id, c.status]));
    expect(checks).toMatchObject({ format: "pass", size: "fail" });
    const i = doImage("inspect", "--json", file);
    expect(i.code).toBe(1);
    expect(JSON.parse(i.stdout).error).toMatchObject({ code: "size-over-limit", message: expect.stringMatching(/over DigitalOcean's limit of 100 GiB/) });
  });
});

test("a usage error asked for as JSON is JSON on stdout, naming the flag, and text with its fix on stderr (exit 64)", () => {
  const sample = join(root, "examples", "images", "debian-12-sample.qcow2");
  const r = doImage("validate", sample, "--json", "--skip", "bogus");
  expect(r.code).toBe(64);
  expect(JSON.parse(r.stdout)).toEqual({
    error: { code: "usage", message: expect.stringMatching(/"bogus" is not a check id/), fix: "do-image help validate lists what it takes", field: "--skip" },
  });
  expect(r.stderr).toMatch(/^error option '--skip <ids>': "bogus" is not a check id[\s\S]*\n {2}fix: do-image help validate lists what it takes\n$/);
});
