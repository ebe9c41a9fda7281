// `do-image push`, `ls`, `regions add` and `rm` as a user runs them, against the local DigitalOcean.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalDigitalOcean, type LocalDigitalOcean } from "../../tools/local-do/emulator";

const root = join(__dirname, "..", "..");
const cli = join(root, "dist", "provider", "cli", "main.js");
const sample = join(root, "examples", "images", "debian-12-sample.qcow2");
let local: LocalDigitalOcean;
let env: NodeJS.ProcessEnv;

// The emulator runs in this process, so the CLI must run without blocking it (spawn, not spawnSync).
function doImage(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run 'make build' (make test does it first)`);
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { env });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  local = await startLocalDigitalOcean({ api: { timings: { importMs: 20, transferMs: 50, bootMs: 20 } }, s3: { buckets: ["images"] } });
  env = { ...process.env, ...local.env, SPACES_BUCKET: "images", DO_IMAGE_CACHE: mkdtempSync(join(tmpdir(), "push-cache-")), NO_COLOR: "1" };
});
afterAll(() => local.close());

test("push validates, uploads, imports, transfers in parallel and removes the object; a second push uploads nothing", async () => {
  // The sample is a skeleton with no kernel or boot loader, so those two checks are accepted for it.
  const first = await doImage("push", sample, "--region", "nyc3", "--regions", "sfo3,ams3", "--name", "app", "--skip", "boot-loader,kernel", "--json");
  expect(first.stderr).toMatch(/validated: 10 checks pass/);
  expect(first.code).toBe(0);
  const r = JSON.parse(first.stdout);
  expect(r.image).toMatchObject({ name: "app", status: "available", regions: ["nyc3", "sfo3", "ams3"] });
  expect(r.upload.reused).toBe(false);
  expect(r.objectDeleted).toBe(true);
  expect(await local.s3.contents("images")).toEqual({ objects: [], uploads: [] });

  const second = await doImage("push", sample, "--region", "nyc3", "--skip", "boot-loader,kernel", "--json");
  expect(second.code).toBe(0);
  expect(JSON.parse(second.stdout)).toMatchObject({ image: { id: r.image.id }, upload: null });
  expect(second.stderr).toMatch(/found image \d+ from an earlier attempt/);
  expect(local.api.state.log!.filter((l) => l.startsWith("POST /v2/images ")).length).toBe(1);

  const ls = await doImage("ls", "--json");
  expect(JSON.parse(ls.stdout).map((i: { id: number }) => i.id)).toEqual([r.image.id]);
  const add = await doImage("regions", "add", String(r.image.id), "lon1", "sfo3", "--json");
  expect(JSON.parse(add.stdout).regions).toEqual(["nyc3", "sfo3", "ams3", "lon1"]);
  expect((await doImage("rm", String(r.image.id))).code).toBe(0);
  expect((await doImage("rm", String(r.image.id))).code).toBe(0); // gone already: fine
});

test("push stops on a failing check before uploading anything", async () => {
  const bad = join(mkdtempSync(join(tmpdir(), "push-")), "blank.raw");
  writeFileSync(bad, Buffer.alloc(4 << 20));
  const r = await doImage("push", bad, "--region", "nyc3");
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/would not work as a DigitalOcean custom image:\n {2}partition-table: no partition table/);
  expect(await local.s3.contents("images")).toEqual({ objects: [], uploads: [] });
});

test("a wrong token fails with DigitalOcean's message and exit 1", async () => {
  const saved = env;
  env = { ...env, DIGITALOCEAN_TOKEN: "dop_v1_wrong" };
  const r = await doImage("ls");
  env = saved;
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/401 unauthorized: Unable to authenticate you/);
  expect(r.stderr).not.toContain("dop_v1_wrong");
});
