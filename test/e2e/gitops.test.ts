// The example stack under GitOps reconciliation (up --refresh, again and again), through the engine-less runner.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalDigitalOcean, type LocalDigitalOcean } from "../../tools/local-do/emulator";
import { runStack } from "../../tools/local-do/runner/client";
import type { RunnerOptions, RunResult } from "../../tools/local-do/runner/runner";

const ROOT = join(__dirname, "..", "..");
const PROGRAM = join(ROOT, "dist", "examples", "pulumi", "index.js");
const IMAGE = "pulumi-nodejs:dynamic/do-image:CustomImage::app-image";
const DROPLET = (n: number) => `digitalocean:index/droplet:Droplet::app-${n}`;
let local: LocalDigitalOcean;
let opts: Omit<RunnerOptions, "log">;
const preview = (o: typeof opts) => runStack("preview", o, (l) => lines.push(l));
const up = (o: typeof opts) => runStack("up", o, (l) => lines.push(l));
const refresh = (o: typeof opts) => runStack("refresh", o, (l) => lines.push(l));
const destroy = (o: typeof opts) => runStack("destroy", o, (l) => lines.push(l));
const lines: string[] = [];

const changes = (r: RunResult) => r.ops.filter((o) => o.op !== "same").map((o) => `${o.op} ${o.key}`);

beforeAll(async () => {
  if (!existsSync(PROGRAM)) throw new Error(`${PROGRAM} is missing: run 'make build' (make test does it first)`);
  local = await startLocalDigitalOcean({ api: { timings: { importMs: 20, transferMs: 50, bootMs: 20 } }, s3: { buckets: ["images"] } });
  opts = {
    program: PROGRAM,
    project: "do-image-example",
    stack: "gitops",
    stateFile: join(mkdtempSync(join(tmpdir(), "gitops-")), "state.json"),
    env: { ...process.env, DO_IMAGE_CACHE: mkdtempSync(join(tmpdir(), "gitops-cache-")), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    config: {
      ...local.stackConfig,
      "do-image-example:bucket": "images",
      "do-image-example:sshKeys": JSON.stringify(["aa:bb:cc"]),
      "do-image-example:regions": JSON.stringify(["nyc3", "sfo3"]),
      "do-image-example:imageFile": "examples/images/debian-12-sample.qcow2",
    },
  };
});
afterAll(() => local.close());

test("preview plans the stack without touching DigitalOcean", async () => {
  const r = await preview(opts);
  expect(changes(r)).toEqual([`create ${IMAGE}`, `create ${DROPLET(1)}`, `create ${DROPLET(2)}`]);
  expect(local.api.state.log!.filter((l) => !l.startsWith("GET"))).toEqual([]);
});

test("up creates the image, then a Droplet in each of its regions", async () => {
  const r = await up(opts);
  expect(changes(r)).toEqual([`create ${IMAGE}`, `create ${DROPLET(1)}`, `create ${DROPLET(2)}`]);
  expect(r.outputs).toMatchObject({
    imageRegions: ["nyc3", "sfo3"],
    addresses: [expect.stringMatching(/^203\.0\.113\./), expect.stringMatching(/^203\.0\.113\./)],
  });
  const image = local.api.state.images.find((i) => i.id === r.outputs.imageId)!;
  expect(local.api.state.droplets.map((d) => [d.region, d.image_id])).toEqual([
    ["nyc3", image.id],
    ["sfo3", image.id],
  ]);
  expect(lines.length).toBeGreaterThan(3);
  expect(lines.every((l) => l.startsWith("[do-image test runner"))).toBe(true);
});

test("up again changes nothing", async () => {
  const posts = local.api.state.log!.filter((l) => !l.startsWith("GET")).length;
  const r = await up(opts);
  expect(changes(r)).toEqual([]);
  expect(local.api.state.log!.filter((l) => !l.startsWith("GET")).length).toBe(posts);
});

test("drift (a region removed, a Droplet deleted out of band) is repaired by refresh + up", async () => {
  const image = local.api.state.images[0];
  image.regions = image.regions.filter((r) => r !== "sfo3");
  const victim = local.api.state.droplets.find((d) => d.region === "sfo3")!;
  local.api.state.droplets.splice(local.api.state.droplets.indexOf(victim), 1);

  const refreshed = await refresh(opts);
  expect(refreshed.ops.filter((o) => o.op === "gone").map((o) => o.key)).toEqual([DROPLET(2)]);
  const r = await up(opts);
  expect(changes(r)).toEqual([`update ${IMAGE}`, `create ${DROPLET(2)}`]);
  expect(local.api.state.images[0].regions.sort()).toEqual(["nyc3", "sfo3"]);
  expect(local.api.state.droplets.map((d) => d.region).sort()).toEqual(["nyc3", "sfo3"]);
});

test("a new image file replaces the image, its Droplets follow, and the old image goes last", async () => {
  const oldId = local.api.state.images[0].id;
  opts.config["do-image-example:imageFile"] = "examples/images/debian-12-sample.raw.bz2";
  const r = await up(opts);
  expect(changes(r)).toEqual([
    `replace ${IMAGE}`,
    `replace ${DROPLET(1)}`,
    `replace ${DROPLET(2)}`,
    `delete ${DROPLET(2)}`,
    `delete ${DROPLET(1)}`,
    `delete ${IMAGE}`,
  ]);
  expect(local.api.state.images.map((i) => i.id)).not.toContain(oldId);
  expect(new Set(local.api.state.droplets.map((d) => d.image_id))).toEqual(new Set([local.api.state.images[0].id]));
});

test("destroy leaves the emulator and the S3 server empty", async () => {
  await destroy(opts);
  expect(local.api.state.images).toEqual([]);
  expect(local.api.state.droplets).toEqual([]);
  expect(await local.s3.contents("images")).toEqual({ objects: [], uploads: [] });
});

test("preview fails on an image DigitalOcean would reject, naming the property and the fix", async () => {
  const bad = {
    ...opts,
    stateFile: join(mkdtempSync(join(tmpdir(), "gitops-")), "state.json"),
    config: { ...opts.config, "do-image-example:imageFile": "test/fixtures/build.sh" },
  };
  await expect(preview(bad)).rejects.toThrow(/app-image: file: partition-table: no partition table/);
});
