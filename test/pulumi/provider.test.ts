// The CustomImage provider driven as the engine drives it: serialized by the SDK, run by Pulumi's own provider host,
// called over gRPC (Configure, Check, Diff, Create, Read, Update, Delete) against the local DigitalOcean.
import { scaledClock } from "../../tools/local-do/clock";
import { adoptionMarker, isAdoptionMarker } from "../../provider/publish";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DigitalOceanClient } from "../../provider/digitalocean";
import { CustomImage } from "../../provider/pulumi";
import { startLocalDigitalOcean, type LocalDigitalOcean } from "../../tools/local-do/emulator";
import { serializeWithMocks, startProviderHost, type InitError, type ProviderHost, type Props } from "../../tools/local-do/pulumi-host";
import { serveFile } from "../support/static-server";

const SAMPLE = join(__dirname, "..", "..", "examples", "images", "debian-12-sample.qcow2");
let local: LocalDigitalOcean;
let host: ProviderHost;
let provider: string;
let owner: string;
const cacheDir = mkdtempSync(join(tmpdir(), "pulumi-cache-"));

beforeAll(async () => {
  local = await startLocalDigitalOcean({ api: { timings: { importMs: 20, transferMs: 100, bootMs: 20 } }, s3: { buckets: ["images"] } });
  const inputs = await serializeWithMocks(() => [new CustomImage("app", { file: SAMPLE, regions: ["nyc3"], spaces: { bucket: "images" } })]);
  provider = inputs.get("app")!.__provider as string;
  owner = inputs.get("app")!.owner as string;
  // No DIGITALOCEAN_* or SPACES_* in the host's environment: everything comes from stack config through Configure.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DIGITALOCEAN|SPACES)_/.test(k)));
  host = await startProviderHost({ ...env, DO_IMAGE_CACHE: cacheDir });
  await host.configure({
    ...local.stackConfig,
    "do-image-test:unrelated": "x",
  });
});
afterAll(async () => {
  await host?.close();
  await local?.close();
});

const news = (over: Props = {}): Props => ({
  __provider: provider,
  resourceName: "app",
  owner,
  file: SAMPLE,
  regions: ["nyc3", "sfo3"],
  spaces: { bucket: "images" },
  // The sample is a skeleton with no kernel or boot loader; the example stack accepts the same two checks for it.
  validation: { skip: ["boot-loader", "kernel"] },
  ...over,
});
const client = () => new DigitalOceanClient({ endpoint: local.api.url, token: local.api.token, clock: scaledClock(0.001) });

describe("check", () => {
  test("normalises inputs, hashes the file and passes a good image", async () => {
    const r = await host.check({}, news({ regions: ["sfo3", "nyc3", "sfo3"], tags: ["b", "a", "b"] }));
    expect(r.failures).toEqual([]);
    expect(r.inputs).toMatchObject({ name: "app", regions: ["sfo3", "nyc3"], tags: ["a", "b"], sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // The bucket's region is decided once, here, and kept in state for the delete: the import region by default.
    expect(r.inputs).toMatchObject({ spaces: { bucket: "images", region: "sfo3" } });
  });

  test("input errors come back as failures naming the property", async () => {
    const r = await host.check(
      {},
      news({
        url: "https://example.com/x.qcow2",
        regions: ["nyc3", "Mars"],
        spaces: {},
        importRegion: "ams3",
        validation: { skip: ["sshdd"], boot: "sometimes" },
      }),
    );
    expect(r.failures).toEqual(
      expect.arrayContaining([
        { property: "url", reason: expect.stringMatching(/exactly one of file/) },
        { property: "regions[1]", reason: expect.stringMatching(/"Mars" is not a region slug/) },
        { property: "importRegion", reason: expect.stringMatching(/must be one of regions/) },
        { property: "spaces.bucket", reason: expect.stringMatching(/must have required property 'bucket'/) },
        { property: "validation.skip[0]", reason: expect.stringMatching(/one of format, compression/) },
        { property: "validation.boot", reason: expect.stringMatching(/one of auto, always, never/) },
      ]),
    );
  });

  test("an image DigitalOcean would reject fails check with the failing checks and their fixes", async () => {
    const blank = join(mkdtempSync(join(tmpdir(), "chk-")), "blank.raw");
    writeFileSync(blank, Buffer.alloc(4 << 20));
    const r = await host.check({}, news({ file: blank, validation: { skip: [] } }));
    expect(r.failures).toEqual([
      { property: "file", reason: expect.stringMatching(/^partition-table: no partition table.*Fix: pass a bootable disk image/) },
      { property: "file", reason: expect.stringMatching(/^filesystem: no partition holds a Linux root filesystem.*Fix: rebuild the image with an ext4 root/) },
      { property: "file", reason: expect.stringMatching(/^boot-loader: the MBR holds no boot code.*Fix: install GRUB for BIOS/) },
    ]);
    const skipped = await host.check({}, news({ file: blank, validation: { skip: ["partition-table", "filesystem", "boot-loader"] } }));
    expect(skipped.failures.map((f) => f.reason).join()).not.toMatch(/partition-table|filesystem:|boot-loader/);
  });
});

describe("diff", () => {
  const olds = (): Props => ({
    ...news(),
    sha256: "a".repeat(64),
    name: "app",
    tags: ["a"],
    description: "d",
    distribution: "Debian",
    desiredRegions: ["nyc3", "sfo3"],
    actualRegions: ["nyc3", "sfo3"],
    imageId: 1,
  });
  const cases: { name: string; change: Props; changes: "none" | "some"; replaces: string[] }[] = [
    { name: "nothing changed", change: {}, changes: "none", replaces: [] },
    { name: "regions reordered and duplicated", change: { regions: ["sfo3", "nyc3", "nyc3"] }, changes: "none", replaces: [] },
    { name: "same content at another path", change: { file: "/elsewhere/app.qcow2" }, changes: "none", replaces: [] },
    {
      name: "spaces (how the file is sent too), validation and timeouts settings",
      change: { spaces: { bucket: "other", keepObject: true, uploadAs: "original" }, validation: { skip: ["sshd"] }, timeouts: { import: 5 } },
      changes: "none",
      replaces: [],
    },
    { name: "the serialized provider's own text", change: { __provider: "(a newer release of the same provider)" }, changes: "none", replaces: [] },
    { name: "a region added", change: { regions: ["nyc3", "sfo3", "ams3"] }, changes: "some", replaces: [] },
    { name: "a region removed (the API cannot remove one)", change: { regions: ["nyc3"] }, changes: "some", replaces: ["regions"] },
    { name: "the file's content changed", change: { sha256: "b".repeat(64) }, changes: "some", replaces: ["file"] },
    { name: "a url instead of a file", change: { file: undefined, url: "https://example.com/a.qcow2" }, changes: "some", replaces: ["url"] },
    { name: "name", change: { name: "renamed" }, changes: "some", replaces: [] },
    { name: "description", change: { description: "new" }, changes: "some", replaces: [] },
    { name: "tags, as a set", change: { tags: ["a", "c"] }, changes: "some", replaces: [] },
  ];
  test.each(cases)("$name → $changes $replaces", async ({ change, changes, replaces }) => {
    const n = { ...olds(), ...change };
    if (n.__provider !== provider) n.__provider = `var doImageRelease = "next";\n${provider}`; // built here: provider is set in beforeAll
    for (const k of Object.keys(n)) if (n[k] === undefined) delete n[k];
    expect(await host.diff("1", olds(), n)).toEqual({ changes, replaces });
  });
});

describe("lifecycle", () => {
  let id: string;
  let state: Props;

  test("create validates, uploads, imports, transfers, removes the object; progress reaches the engine", async () => {
    const { inputs } = await host.check({}, news());
    const r = await host.create(inputs);
    id = r.id;
    state = r.properties;
    expect(state).toMatchObject({
      imageId: Number(id),
      status: "available",
      actualRegions: ["nyc3", "sfo3"],
      desiredRegions: ["nyc3", "sfo3"],
      name: "app",
      type: "custom",
      sha256: inputs.sha256,
      bucket: "images",
      validationSummary: { ok: true, warnings: ["boot-loader", "kernel"] },
    });
    expect(state.objectKey).toBe(`do-image/${inputs.sha256}/debian-12-sample.qcow2`);
    expect(await local.s3.contents("images")).toEqual({ objects: [], uploads: [] });
    expect(host.logs.some((l) => /^app: importing image \d+/.test(l))).toBe(true);
    expect(host.logs.some((l) => /^app: copying to sfo3/.test(l))).toBe(true);
  });

  test("update adds regions in parallel and edits name, description, distribution and tags in place", async () => {
    const { inputs } = await host.check(
      state,
      news({ regions: ["nyc3", "sfo3", "ams3", "lon1"], name: "app-v2", description: "the app", distribution: "Debian", tags: ["web"] }),
    );
    const outs = await host.update(id, state, inputs);
    expect(outs).toMatchObject({
      imageId: Number(id),
      actualRegions: ["nyc3", "sfo3", "ams3", "lon1"],
      name: "app-v2",
      description: "the app",
      distribution: "Debian",
      tags: ["web"],
    });
    // the two transfers ran side by side: both had started before either finished
    const transfers = local.api.state.actions.filter((a) => a.resource_id === Number(id) && ["ams3", "lon1"].includes(a.region_slug!));
    expect(transfers).toHaveLength(2);
    expect(Math.max(...transfers.map((a) => Date.parse(a.started_at)))).toBeLessThanOrEqual(Math.min(...transfers.map((a) => Date.parse(a.completed_at!))));
    const image = await client().images.get(Number(id));
    expect(image.tags.filter((t) => !isAdoptionMarker(t))).toEqual(["web"]);
    expect(image.tags.filter(isAdoptionMarker)).toEqual([adoptionMarker(state.sha256 as string, state.owner as string)]);
    expect(local.api.state.log!.filter((l) => l.startsWith(`POST /v2/images/${id}/actions`)).length).toBe(3);
    state = outs;
  });

  test("read reports the image as it is and returns inputs, so a refresh leaves no diff", async () => {
    const r = await host.read(id, state);
    expect(r.id).toBe(id);
    expect(r.inputs).toMatchObject({ regions: ["nyc3", "sfo3", "ams3", "lon1"], name: "app-v2", file: SAMPLE });
    const { inputs } = await host.check(r.inputs!, { ...r.inputs!, __provider: provider });
    expect(await host.diff(id, r.properties, inputs)).toEqual({ changes: "none", replaces: [] });
  });

  test("delete removes the image; a second delete (already gone) succeeds", async () => {
    await host.delete(id, state);
    await expect(client().images.get(Number(id))).rejects.toMatchObject({ status: 404 });
    await host.delete(id, state);
  });

  test("refresh after an out-of-band delete reports the resource gone", async () => {
    const { inputs } = await host.check({}, news({ regions: ["nyc3"] }));
    const created = await host.create(inputs);
    await client().images.delete(Number(created.id));
    expect((await host.read(created.id, created.properties)).id).toBe("");
  });
});

test("a retried create adopts the image the first attempt started instead of importing a second", async () => {
  const file = await serveFile(SAMPLE);
  try {
    // The first attempt got as far as POST /v2/images with the marker the pipeline derives from content and owner, then died.
    const { inputs } = await host.check({}, news({ owner: "proj/stack/retried", regions: ["nyc3"] }));
    const marker = adoptionMarker(inputs.sha256 as string, "proj/stack/retried");
    const first = await client().images.createCustom({ name: "app", url: file.url, region: "nyc3", tags: [marker] });
    const posts = () => local.api.state.log!.filter((l) => l.startsWith("POST /v2/images ")).length;
    const before = posts();
    const r = await host.create(inputs);
    expect(r.id).toBe(String(first.id));
    expect(posts()).toBe(before);
    expect(host.logs.some((l) => /continuing with image \d+ from an earlier attempt/.test(l))).toBe(true);
    await host.delete(r.id, r.properties);
  } finally {
    await file.close();
  }
});

test("a failed import fails create with DigitalOcean's message and leaves nothing behind", async () => {
  const file = await serveFile(SAMPLE);
  try {
    const before = local.api.state.images.length;
    const { inputs } = await host.check(
      {},
      { __provider: provider, resourceName: "broken", owner: "proj/stack/broken", url: file.url.replace(/[^/]+$/, "missing.qcow2"), regions: ["nyc3"] },
    );
    const err = (await host.create(inputs).catch((e: unknown) => e)) as Error & { init: InitError };
    expect(err.message).toMatch(/could not import image \d+ \("broken"\): Unable to download the image: the URL answered HTTP 404/);
    expect(err.init.id).toBeUndefined(); // nothing to record: the failed image was removed
    expect(local.api.state.images.length).toBe(before);
  } finally {
    await file.close();
  }
});

test("a failure after the image exists is an initialization error carrying its id, so the engine records it", async () => {
  local.api.faults.errorRate = { "POST /v2/images/:id/actions": 1 };
  try {
    const { inputs } = await host.check({}, news({ resourceName: "partial", owner: "proj/stack/partial", regions: ["nyc3", "tor1"] }));
    const err = (await host.create(inputs).catch((e: unknown) => e)) as Error & { init: InitError };
    expect(err.message).toMatch(/could not be transferred to tor1/);
    expect(err.init.id).toMatch(/^\d+$/);
    expect(err.init.properties).toMatchObject({ imageId: Number(err.init.id), desiredRegions: ["nyc3", "tor1"] });
    await host.delete(err.init.id!, err.init.properties!);
  } finally {
    local.api.faults.errorRate = {};
  }
});

test("no token or key appears in any log line or host output", () => {
  const all = `${host.logs.join("\n")}\n${host.output()}`;
  for (const secret of [local.api.token, local.s3.secretAccessKey]) expect(all).not.toContain(secret);
});
