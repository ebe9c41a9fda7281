// publishImage in-process against the local DigitalOcean, on an injected clock: a file published, then adopted when
// published again, a URL, a refusal before any upload, and an import DigitalOcean refuses, each asserted on what the
// API and the bucket hold afterwards (counted requests, not time).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scaledClock } from "../../tools/local-do/clock";
import { startLocalDigitalOcean, type LocalDigitalOcean } from "../../tools/local-do/emulator";
import { publishImage, type PublishEvent } from "../../provider/publish";
import { serveFile } from "../support/static-server";

const SAMPLE = join(__dirname, "..", "..", "examples", "images", "debian-12-sample.qcow2");
/** The sample is a skeleton without a kernel or boot loader: those checks are skipped, as a user would knowingly. */
const SKIP = { skip: ["boot-loader", "kernel"] as string[] };
let local: LocalDigitalOcean;
beforeAll(async () => {
  local = await startLocalDigitalOcean({ api: { timings: { importMs: 10, transferMs: 50, bootMs: 10 } }, s3: { buckets: ["images"] } });
});
afterAll(() => local?.close());

const api = () => ({ endpoint: local.api.url, token: local.api.token, clock: scaledClock(0.001) });
const spaces = (extra: object = {}) => ({
  bucket: "images",
  endpoint: local.s3.url,
  accessKeyId: local.s3.accessKeyId,
  secretAccessKey: local.s3.secretAccessKey,
  ...extra,
});
const count = (line: RegExp) => local.api.state.log!.filter((l) => line.test(l)).length;

test("a file is validated, uploaded, imported, transferred and its object removed; the same content again is adopted and edited in place", async () => {
  const events: PublishEvent["type"][] = [];
  const creates = count(/^POST \/v2\/images 202$/);
  const first = await publishImage({
    api: api(),
    file: SAMPLE,
    name: "pipeline-app",
    regions: ["nyc3", "sfo3"],
    spaces: spaces(),
    validation: SKIP,
    onEvent: (e) => events.push(e.type),
  });
  expect(first).toMatchObject({ adopted: false, objectDeleted: true, image: { status: "available", regions: ["nyc3", "sfo3"] } });
  expect(first.object?.key).toMatch(new RegExp(`^do-image/${first.sha256}/`));
  expect(count(/^POST \/v2\/images 202$/)).toBe(creates + 1);
  expect((await local.s3.contents("images")).objects).toEqual([]);
  for (const step of ["sending-as", "validated", "uploaded", "imported", "transferring", "transferred", "cleaned"] as const) expect(events).toContain(step);
  expect(events.indexOf("validated")).toBeLessThan(events.indexOf("uploaded"));

  // Again, with another description: no upload, no second image; the description is changed in place.
  const second = await publishImage({
    api: api(),
    file: SAMPLE,
    name: "pipeline-app",
    description: "v2",
    regions: ["nyc3", "sfo3"],
    spaces: spaces(),
    validation: SKIP,
  });
  expect(second).toMatchObject({ adopted: true, upload: undefined, image: { id: first.image.id, description: "v2" } });
  expect(count(/^POST \/v2\/images 202$/)).toBe(creates + 1);
});

test("a URL is imported as it is: no bucket is needed, nothing is uploaded", async () => {
  const served = await serveFile(SAMPLE);
  try {
    const r = await publishImage({ api: api(), url: served.url, name: "pipeline-url", regions: ["ams3"] });
    expect(r).toMatchObject({ adopted: false, objectDeleted: false, object: undefined, sha256: undefined, image: { status: "available", regions: ["ams3"] } });
  } finally {
    await served.close();
  }
});

test("a file that fails validation is refused before anything is uploaded or imported", async () => {
  // Another owner: the same content published by the first test would otherwise be adopted, as it is already imported.
  const creates = count(/^POST \/v2\/images/);
  await expect(
    publishImage({ api: api(), file: SAMPLE, name: "pipeline-refused", regions: ["nyc3"], spaces: spaces(), owner: "another/stack/app" }),
  ).rejects.toMatchObject({
    code: "validation-failed",
    exitCode: 1,
  });
  expect(count(/^POST \/v2\/images/)).toBe(creates);
  expect((await local.s3.contents("images")).objects).toEqual([]);
});

test("an import DigitalOcean refuses leaves no image and no object behind", async () => {
  // A raw disk with no partition table: DigitalOcean's importer (qemu-img here) refuses it; validation is turned off.
  const file = join(mkdtempSync(join(tmpdir(), "pipeline-")), "blank.raw");
  writeFileSync(file, Buffer.alloc(2 * 2 ** 20, 1));
  const images = () => local.api.state.images.filter((i) => i.name === "pipeline-blank").length;
  const err = await publishImage({
    api: api(),
    file,
    name: "pipeline-blank",
    regions: ["nyc3"],
    spaces: spaces({ uploadAs: "original" }),
    validation: false,
  }).catch((e: unknown) => e);
  expect(err).toMatchObject({ code: "import-failed", stage: "import" });
  expect((err as Error).message).toMatch(/no MBR or GPT partition table/);
  expect(images()).toBe(0);
  expect((await local.s3.contents("images")).objects).toEqual([]);
});
