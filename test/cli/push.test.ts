// `do-image push`, `ls`, `regions add` and `rm` as a user runs them, against the local DigitalOcean.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { gunzipSync } from "node:zlib";
import { basename, dirname, join } from "node:path";
import { spawnCli } from "../support/cli";
import { startLocalDigitalOcean, type LocalDigitalOcean } from "../../tools/local-do/emulator";

const root = join(__dirname, "..", "..");
const cli = join(root, "dist", "provider", "cli", "main.js");
const sample = join(root, "examples", "images", "debian-12-sample.qcow2");
let local: LocalDigitalOcean;
let env: NodeJS.ProcessEnv;

// The emulator runs in this process, so the CLI must run without blocking it (spawn, not spawnSync).
const doImage = (...args: string[]) => spawnCli(env, args);

beforeAll(async () => {
  local = await startLocalDigitalOcean({ api: { timings: { importMs: 20, transferMs: 50, bootMs: 20 } }, s3: { buckets: ["images"] } });
  env = { ...process.env, ...local.env, SPACES_BUCKET: "images", DO_IMAGE_CACHE: mkdtempSync(join(tmpdir(), "push-cache-")), NO_COLOR: "1" };
});
afterAll(() => local.close());

test("push validates, uploads, imports, transfers in parallel and removes the object; a second push uploads nothing", async () => {
  // The sample is a skeleton with no kernel or boot loader, so those two checks are accepted for it.
  const first = await doImage("push", sample, "--region", "nyc3", "--regions", "sfo3,ams3", "--name", "app", "--skip", "boot-loader,kernel", "--json");
  expect(first.stderr).toMatch(/validated: 10 checks pass/);
  // Outside a terminal, progress is lines a CI log keeps: the start, every 5 % or 5 s, and the end of each phase.
  expect(first.stderr).toMatch(/^hashing 100% \(1\.70 MiB of 1\.70 MiB/m);
  expect(first.stderr).toMatch(/^uploading 100% \(1\.70 MiB of 1\.70 MiB/m);
  expect(first.code).toBe(0);
  const r = JSON.parse(first.stdout);
  expect(r.image).toMatchObject({ name: "app", status: "available", regions: ["nyc3", "sfo3", "ams3"] });
  expect(r.upload.reused).toBe(false);
  expect(r.objectDeleted).toBe(true);
  expect(await local.s3.contents("images")).toEqual({ objects: [], uploads: [] });

  // The same bytes again, with another name and a tag: the image is found and edited in place, nothing uploaded.
  const second = await doImage("push", sample, "--region", "nyc3", "--name", "app-v2", "--tag", "web", "--skip", "boot-loader,kernel", "--json");
  expect(second.code).toBe(0);
  expect(JSON.parse(second.stdout)).toMatchObject({
    image: { id: r.image.id, name: "app-v2", tags: expect.arrayContaining(["web"]) },
    adopted: true,
    upload: null,
  });
  expect(second.stderr).toMatch(/found image \d+ from an earlier attempt/);
  expect(second.stderr).toMatch(/updated image \d+ in place: name, \+tag web/);
  expect(second.stderr).not.toMatch(/deleted the uploaded object/);
  expect(local.api.state.log!.filter((l) => l.startsWith("POST /v2/images ")).length).toBe(1);

  const ls = await doImage("ls", "--json");
  expect(JSON.parse(ls.stdout).map((i: { id: number }) => i.id)).toEqual([r.image.id]);
  const table = (await doImage("ls")).stdout.split("\n");
  expect(table[0]).toMatch(/^ID\s+Name\s+Status\s+Regions\s+Distribution\s+Size$/);
  expect(table[1]).toMatch(new RegExp(`^${r.image.id}\\s+app-v2\\s+available\\s+nyc3,sfo3,ams3`));
  expect((await doImage("ls", "--format", "ID,Tags", "--no-header")).stdout).toMatch(new RegExp(`^${r.image.id}\\s+web`));
  const add = await doImage("regions", "add", String(r.image.id), "lon1", "sfo3", "--json", "--timeout", "30m");
  expect(JSON.parse(add.stdout).regions).toEqual(["nyc3", "sfo3", "ams3", "lon1"]);
  expect(add.stderr).not.toMatch(/warning/);
  // a bare number keeps its old meaning (minutes) for one release, and says so
  const bare = await doImage("regions", "add", String(r.image.id), "lon1", "--timeout", "30");
  expect(bare).toMatchObject({ code: 0 });
  expect(bare.stderr).toMatch(
    /warning: --timeout 30 is read as minutes, as before; bare numbers will be seconds in the next release, as for boot: write 30m or 1800s/,
  );
  expect(await doImage("regions", "add", String(r.image.id), "lon1", "--timeout", "soon")).toMatchObject({
    code: 64,
    stderr: expect.stringMatching(/--timeout.*"soon" is not a duration: write 90s, 15m or 1h/),
  });
  expect(await doImage("rm", String(r.image.id))).toMatchObject({ code: 0, stdout: `deleted image ${r.image.id}\n` });
  expect(await doImage("rm", String(r.image.id))).toMatchObject({ code: 0, stdout: `image ${r.image.id} was already gone\n` });
});

test("push stops on a failing check before uploading anything", async () => {
  const bad = join(mkdtempSync(join(tmpdir(), "push-")), "blank.raw");
  writeFileSync(bad, Buffer.alloc(4 << 20));
  const r = await doImage("push", bad, "--region", "nyc3");
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/would not work as a DigitalOcean custom image:\n {2}partition-table: no partition table/);
  expect(r.stderr).not.toMatch(/validated/);
  expect(r.stderr).toMatch(/hint: nothing was uploaded; --skip partition-table,[a-z,-]+ accepts these failures, --force publishes/);
  expect(await local.s3.contents("images")).toEqual({ objects: [], uploads: [] });
});

test("a wrong token fails with DigitalOcean's message and exit 1", async () => {
  const saved = env;
  env = { ...env, DIGITALOCEAN_TOKEN: "dop_v1_wrong" };
  // The emulator repeats the Authorization header in its error body: the CLI must not print it.
  local.api.faults.echoAuth = true;
  const r = await doImage("ls");
  local.api.faults.echoAuth = false;
  env = saved;
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/401 unauthorized: Unable to authenticate you/);
  expect(r.stderr).not.toContain("dop_v1_wrong");
});

test("a wrong Spaces secret is found before anything changes: the image pushed before keeps its name, nothing is sent", async () => {
  const first = await doImage("push", sample, "--region", "nyc3", "--name", "kept", "--skip", "boot-loader,kernel", "--json");
  expect(first.code).toBe(0);
  const id = JSON.parse(first.stdout).image.id as number;
  const writes = () => local.api.state.log!.filter((l) => /^(POST|PUT|DELETE) /.test(l)).length;
  const before = writes();
  const saved = env;
  env = { ...env, SPACES_SECRET_ACCESS_KEY: "not-the-secret" };
  // the same content again: without the check first, the image was adopted and renamed, then the push failed
  const r = await doImage("push", sample, "--region", "nyc3", "--name", "renamed-by-mistake", "--skip", "boot-loader,kernel", "--json");
  env = saved;
  expect(r.code).toBe(1);
  expect(JSON.parse(r.stdout).error).toMatchObject({
    code: expect.stringMatching(/SignatureDoesNotMatch/),
    message: expect.stringMatching(/secret key does not match/),
  });
  expect(writes()).toBe(before);
  expect(JSON.parse((await doImage("ls", "--json")).stdout)).toEqual([expect.objectContaining({ id, name: "kept" })]);
  expect((await doImage("rm", String(id))).code).toBe(0);
});

test("usage errors exit 64 naming the flag or argument, before anything is read or sent", async () => {
  const before = local.api.state.log!.length;
  const cases: [string[], RegExp][] = [
    [["rm", "abc"], /"abc" is not an image id/],
    [["regions", "add", "12", "Mars"], /Mars: not a region slug/],
    [["validate", sample, "--skip", "bogus"], /"bogus" is not a check id/],
    [["push", sample, "--region", "nyc3", "--tag", "has space"], /--tag: tag "has space" may hold only/],
    [["push", sample, "--region", "nyc3", "--bucket", "Not_A_Bucket"], /--bucket \(or \$SPACES_BUCKET\): "Not_A_Bucket" is not a bucket name/],
    [["push", sample, "--region", "nyc3", "--distribution", "Plan9"], /--distribution: "Plan9" is not one DigitalOcean knows/],
    [["push", sample, "--region", "nyc3", "--boot=sometimes"], /--boot.*sometimes/],
    [["ls", "--format", "ID,Colour"], /unknown column Colour/],
    [["bogus"], /unknown command 'bogus'/],
    [["push", sample, "--region", "nyc3", "--frobnicate"], /unknown option '--frobnicate'/],
  ];
  for (const [args, message] of cases) {
    const r = await doImage(...args);
    expect([args.join(" "), r.code]).toEqual([args.join(" "), 64]);
    expect(r.stderr).toMatch(message);
  }
  expect(local.api.state.log!.length).toBe(before);
});

test("a region DigitalOcean does not have is refused before any upload, as JSON too", async () => {
  const r = await doImage("push", sample, "--region", "nyc3", "--regions", "xyz9", "--skip", "boot-loader,kernel", "--json");
  expect(r.code).toBe(64);
  expect(JSON.parse(r.stdout)).toEqual({
    file: sample,
    error: { code: "usage", message: "xyz9 is not a DigitalOcean region", fix: expect.stringMatching(/^use one of .*nyc3/), field: "regions" },
  });
  expect(await local.s3.contents("images")).toEqual({ objects: [], uploads: [] });
});

test("--version prints the package's version; --help exits 0", async () => {
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  expect(await doImage("--version")).toMatchObject({ code: 0, stdout: `${version}\n` });
  expect((await doImage("help", "push")).code).toBe(0);
});

test("the token comes from --access-token, else the environment, else doctl's saved context", async () => {
  const config = mkdtempSync(join(tmpdir(), "xdg-"));
  mkdirSync(join(config, "doctl"));
  writeFileSync(join(config, "doctl", "config.yaml"), `access-token: dop_v1_wrong\ncontext: work\nauth-contexts:\n  work: ${local.api.token}\n`);
  const saved = env;
  env = { ...env, XDG_CONFIG_HOME: config };
  delete env.DIGITALOCEAN_TOKEN;
  try {
    expect((await doImage("ls")).code).toBe(0); // doctl's current context, "work"
    expect((await doImage("--context", "default", "ls")).code).toBe(1); // its default token is wrong: 401
    expect(await doImage("--context", "nosuch", "ls")).toMatchObject({
      code: 64,
      stderr: expect.stringMatching(/--context nosuch: doctl's config has no such context/),
    });
    expect((await doImage("--context", "default", "-t", local.api.token, "ls")).code).toBe(0); // the flag wins
  } finally {
    env = saved;
  }
});

test("Ctrl-C mid-push says how to resume; the same command then finds the image instead of importing it twice", async () => {
  const posts = () => local.api.state.log!.filter((l) => l.startsWith("POST /v2/images ")).length;
  const before = posts();
  local.api.faults.latencyMs = 1500; // a slow API: the push is still waiting on the import when it is interrupted
  const args = [cli, "push", sample, "--region", "nyc3", "--name", "resumed", "--skip", "boot-loader,kernel"];
  const child = spawn(process.execPath, args, { env });
  let stderr = "";
  let sent = false;
  child.stderr.on("data", (d) => {
    stderr += d;
    if (!sent && /import of image \d+/.test(stderr)) sent = child.kill("SIGINT"); // once, as one Ctrl-C
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  local.api.faults.latencyMs = 0;
  expect(code).toBe(130);
  expect(stderr).toMatch(/interrupted: run the same command to resume/);
  const again = await doImage(...args.slice(1));
  expect(again.code).toBe(0);
  expect(again.stderr).toMatch(/found image \d+ from an earlier attempt/);
  expect(posts()).toBe(before + 1);
  await doImage("rm", again.stdout.split(/\s+/)[0]);
});

describe("a create that fails after the upload", () => {
  const args = ["push", sample, "--region", "nyc3", "--skip", "boot-loader,kernel", "--json"];
  afterEach(() => {
    delete local.api.faults.refuse;
    delete local.api.faults.errorRate;
  });

  test("refused by DigitalOcean (a 4xx): the uploaded object is deleted and the error says so", async () => {
    local.api.faults.refuse = { "POST /v2/images": { status: 422, id: "unprocessable_entity", message: "custom images are limited to 10 per account" } };
    const r = await doImage(...args);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.message).toMatch(
      /custom images are limited.*; the uploaded object images\/do-image\/[0-9a-f]{64}\/debian-12-sample\.qcow2 was deleted/,
    );
    expect(await local.s3.contents("images")).toEqual({ objects: [], uploads: [] });
  });

  test("with an unknown outcome (a 500: it may have taken effect): the object is kept, and the re-run reuses it and imports once", async () => {
    local.api.faults.errorRate = { "POST /v2/images": 1 };
    const r = await doImage(...args);
    expect(r.code).toBe(69);
    const error = JSON.parse(r.stdout).error;
    expect(error.message).toMatch(/; the uploaded object images\/do-image\/[0-9a-f]{64}\/debian-12-sample\.qcow2 was kept$/);
    expect(error.fix).toMatch(/run the same command again: it reuses .* without uploading, and .* finds it by its tag do-image-c[0-9a-f]+/);
    expect((await local.s3.contents("images")).objects).toHaveLength(1);
    delete local.api.faults.errorRate;
    const again = await doImage(...args);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ upload: { reused: true }, objectDeleted: true });
    expect(await local.s3.contents("images")).toEqual({ objects: [], uploads: [] });
    await doImage("rm", String(JSON.parse(again.stdout).image.id));
  });
});

test("an interrupted multipart upload is listed and aborted by gc; a recent one is kept unless --older-than 0", async () => {
  // 40 MiB of random bytes (three 16 MiB parts), published with --force; the store fails every PUT after the first.
  const file = join(mkdtempSync(join(tmpdir(), "gc-")), "data.img");
  writeFileSync(file, randomBytes(40 << 20));
  local.s3.faults.failPutsAfter = { puts: 1, code: "InternalError" };
  const push = await doImage("push", file, "--region", "nyc3", "--force", "--upload-as", "original");
  delete local.s3.faults.failPutsAfter;
  // Whatever fails below, the upload left open is aborted, so the tests after this one start from an empty bucket.
  try {
    await interruptedUploadIsCollected(push);
  } finally {
    await doImage("gc", "--older-than", "0");
  }
});

async function interruptedUploadIsCollected(push: { code: number | null; stderr: string }) {
  expect(push.code).toBe(69);
  expect(push.stderr).toMatch(/stopped by InternalError after \d of 3 parts/);
  const [left] = (await local.s3.contents("images")).uploads;
  expect(left).toMatch(/^do-image\/[0-9a-f]{64}\/data\.img \(/);

  const recent = await doImage("gc", "--json");
  expect(recent.code).toBe(0);
  expect(JSON.parse(recent.stdout)).toMatchObject({ aborted: [], kept: [{ key: expect.stringMatching(/data\.img$/) }] });
  const dry = await doImage("gc", "--older-than", "0", "--dry-run");
  expect(dry.stdout).toMatch(/^would abort do-image\/[0-9a-f]{64}\/data\.img \(upload \S+, started \d{4}-\d\d-\d\dT/);
  expect((await local.s3.contents("images")).uploads).toEqual([left]);
  const gc = await doImage("gc", "--older-than", "0");
  expect(gc).toMatchObject({ code: 0, stdout: expect.stringMatching(/^aborted do-image\/[0-9a-f]{64}\/data\.img/) });
  expect(await local.s3.contents("images")).toEqual({ objects: [], uploads: [] });
  expect((await doImage("gc")).stdout).toBe("no unfinished uploads under images/do-image\n");
  // An endpoint nobody answers on is the network's fault (exit 69), said with the endpoint and bucket, not a bug.
  const unreachable = await spawnCli({ ...env, SPACES_ENDPOINT_URL: "http://127.0.0.1:9" }, ["gc"]);
  expect(unreachable.code).toBe(69);
  expect(unreachable.stderr).toMatch(/Spaces http:\/\/127\.0\.0\.1:9 bucket "images": .*ECONNREFUSED[\s\S]*fix: check the network and the endpoint/);
}

test("a raw disk goes by default (auto) as a compressed qcow2 of its non-zero clusters; the image imports, and a re-push finds it", async () => {
  const raw = join(mkdtempSync(join(tmpdir(), "compact-")), "disk.raw");
  execFileSync("qemu-img", ["convert", "-O", "raw", sample, raw]);
  const args = ["push", raw, "--region", "nyc3", "--skip", "boot-loader,kernel", "--json"];
  const r = await doImage(...args);
  expect(r.stderr).toMatch(/sending it as a compressed qcow2: a raw disk/);
  expect(r.stderr).toMatch(/converted to a compressed qcow2: [\d.]+ MiB for a 64\.0 MiB disk \(\d+ clusters of data\)/);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.upload).toMatchObject({ format: "qcow2", key: expect.stringMatching(/\/disk\.raw\.qcow2-v2\.qcow2$/), reused: false });
  // The sample's ext4 holds about 5 MiB; compressed, less than half of that crosses the wire.
  expect(out.upload.bytesUploaded).toBeLessThan(3 * 2 ** 20);
  expect(out.image.status).toBe("available");
  expect(await local.s3.contents("images")).toEqual({ objects: [], uploads: [] });
  const again = await doImage(...args, "--upload-as", "qcow2");
  expect(JSON.parse(again.stdout)).toMatchObject({ image: { id: out.image.id }, adopted: true, upload: null });
  // Sent as it is, it is another object and another image.
  const original = await doImage(...args, "--upload-as", "original");
  expect(JSON.parse(original.stdout)).toMatchObject({ adopted: false, upload: { format: "original", bytesUploaded: 64 * 2 ** 20 } });
  expect((await doImage("push", raw, "--region", "nyc3", "--upload-as", "zip")).code).toBe(64);
  await doImage("rm", String(out.image.id));
  await doImage("rm", String(JSON.parse(original.stdout).image.id));
});

test("--upload-as gzip sends the file gzip-compressed while it uploads; the object gunzips to the file, and a bzip2 file goes as it is", async () => {
  const raw = join(mkdtempSync(join(tmpdir(), "gzip-")), "disk.raw");
  execFileSync("qemu-img", ["convert", "-O", "raw", sample, raw]);
  const args = ["push", raw, "--region", "nyc3", "--skip", "boot-loader,kernel", "--upload-as", "gzip", "--json"];
  const r = await doImage(...args, "--keep-object");
  expect(r.stderr).toMatch(/sending it gzip-compressed: as asked/);
  expect(r.stderr).toMatch(/gzip-compressed: [\d.]+ MiB for a 64\.0 MiB file/);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.upload).toMatchObject({ format: "gzip", key: expect.stringMatching(/\/disk\.raw\.gzip-v1\.gz$/), reused: false });
  expect(out.upload.bytesUploaded).toBeLessThan(4 * 2 ** 20);
  expect(out.image.status).toBe("available");
  const stored = join(local.s3.directory, "images", `${out.upload.key}._S3rver_object`);
  expect(gunzipSync(readFileSync(stored)).equals(readFileSync(raw))).toBe(true);
  // The kept object goes, so that the bucket is empty for the tests after this one.
  for (const f of readdirSync(dirname(stored))) rmSync(join(dirname(stored), f));
  // The same bytes sent the same way are the same image.
  expect(JSON.parse((await doImage(...args)).stdout)).toMatchObject({ image: { id: out.image.id }, adopted: true, upload: null });
  await doImage("rm", String(out.image.id));

  const bz2 = join(dirname(sample), "debian-12-sample.raw.bz2");
  const b = await doImage("push", bz2, "--region", "nyc3", "--skip", "boot-loader,kernel", "--upload-as", "gzip", "--json");
  expect(b.stderr).toMatch(/sending it as it is: the file is already bzip2-compressed, and DigitalOcean undoes only one layer/);
  expect(JSON.parse(b.stdout).upload).toMatchObject({ format: "original" });
  await doImage("rm", String(JSON.parse(b.stdout).image.id));
});

test("auto sends an image that already compresses its data as it is: a compressed qcow2, a bzip2 file", async () => {
  const bz2 = join(dirname(sample), "debian-12-sample.raw.bz2");
  for (const [file, reason] of [
    [sample, /sending it as it is: the qcow2 file already compresses its data/],
    [bz2, /sending it as it is: the file is already bzip2-compressed/],
  ] as const) {
    const r = await doImage("push", file, "--region", "nyc3", "--skip", "boot-loader,kernel", "--json");
    expect(r.stderr).toMatch(reason);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.upload).toMatchObject({ format: "original", key: expect.stringMatching(new RegExp(`/${basename(file).replace(/\./g, "\\.")}$`)) });
    await doImage("rm", String(out.image.id));
  }
});
