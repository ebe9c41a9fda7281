// The emulator behaves like DigitalOcean where the provider depends on it: failed imports, persistence, delete then 404.
import { scaledClock } from "../../tools/local-do/clock";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DigitalOceanClient, ImportFailedError, waitForImage } from "../../provider/digitalocean";
import { startEmulator } from "../../tools/local-do/emulator";
import { serveFile } from "../support/static-server";

const SAMPLE = join(__dirname, "..", "..", "examples", "images", "debian-12-sample.qcow2");
const wait = { timeoutMs: 3_600_000 };

test("an import from a URL that answers 404 ends deleted, with DigitalOcean's kind of error_message", async () => {
  const emulator = await startEmulator({ timings: { importMs: 5 } });
  const file = await serveFile(SAMPLE);
  try {
    const c = new DigitalOceanClient({ endpoint: emulator.url, token: emulator.token, clock: scaledClock(0.001) });
    const image = await c.images.createCustom({ name: "gone", url: file.url.replace(/\/[^/]+$/, "/missing.qcow2"), region: "nyc3" });
    expect(image.status).toBe("NEW");
    const err = await waitForImage(c, image.id, wait).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportFailedError);
    expect((err as Error).message).toMatch(/Unable to download the image: the URL answered HTTP 404/);
  } finally {
    await file.close();
    await emulator.close();
  }
});

test("an image DigitalOcean's importer rejects (raw with no partition table) is refused, judged by qemu-img, not by do-image", async () => {
  const emulator = await startEmulator({ timings: { importMs: 5 } });
  const bad = join(mkdtempSync(join(tmpdir(), "emu-")), "not-a-disk.img");
  writeFileSync(bad, Buffer.alloc(1 << 20));
  const file = await serveFile(bad);
  try {
    const c = new DigitalOceanClient({ endpoint: emulator.url, token: emulator.token, clock: scaledClock(0.001) });
    const image = await c.images.createCustom({ name: "blank", url: file.url, region: "nyc3" });
    await expect(waitForImage(c, image.id, wait)).rejects.toThrow(/raw image has no MBR or GPT partition table/);
  } finally {
    await file.close();
    await emulator.close();
  }
});

test("a qcow2 whose refcounts qemu-img check finds corrupt is refused, as it would not convert", async () => {
  const emulator = await startEmulator({ timings: { importMs: 5 } });
  const bad = join(mkdtempSync(join(tmpdir(), "emu-")), "corrupt.qcow2");
  const bytes = readFileSync(SAMPLE);
  // The header cluster's refcount set to 0, while the header is in use.
  const refTable = Number(bytes.readBigUInt64BE(48));
  const firstBlock = Number(bytes.readBigUInt64BE(refTable));
  bytes.writeUInt16BE(0, firstBlock);
  writeFileSync(bad, bytes);
  const file = await serveFile(bad);
  try {
    const c = new DigitalOceanClient({ endpoint: emulator.url, token: emulator.token, clock: scaledClock(0.001) });
    const image = await c.images.createCustom({ name: "corrupt", url: file.url, region: "nyc3" });
    await expect(waitForImage(c, image.id, wait)).rejects.toThrow(/The qcow2 image is corrupt \(qemu-img check: .*"corruptions": 1/);
  } finally {
    await file.close();
    await emulator.close();
  }
});

test("state persists across restarts; a deleted image answers 404", async () => {
  const stateFile = join(mkdtempSync(join(tmpdir(), "emu-")), "state.json");
  const file = await serveFile(SAMPLE);
  let id: number;
  {
    const emulator = await startEmulator({ stateFile, timings: { importMs: 5 } });
    const c = new DigitalOceanClient({ endpoint: emulator.url, token: emulator.token, clock: scaledClock(0.001) });
    id = (await c.images.createCustom({ name: "kept", url: file.url, region: "nyc3" })).id;
    await waitForImage(c, id, wait);
    await emulator.close();
  }
  const emulator = await startEmulator({ stateFile });
  try {
    const c = new DigitalOceanClient({ endpoint: emulator.url, token: emulator.token, clock: scaledClock(0.001) });
    expect(await c.images.get(id)).toMatchObject({ name: "kept", status: "available", regions: ["nyc3"] });
    await c.images.delete(id);
    await expect(c.images.get(id)).rejects.toMatchObject({ status: 404 });
  } finally {
    await file.close();
    await emulator.close();
  }
});
