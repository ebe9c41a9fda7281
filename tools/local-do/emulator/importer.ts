// The importer: downloads an image URL as DigitalOcean does and judges the file as its importer would, with qemu-img
// and the system's gzip/bzip2 rather than do-image's own readers, so our readers are held to an independent verdict.
import { execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream } from "node:stream/web";
import { pipeline } from "node:stream/promises";
import type { ImageRec } from "./types";
import type { World } from "./world";

/** Downloads the image URL (a GET: presigned URLs refuse HEAD), judges it, and after `importMs` makes it available. */
export async function runImport(world: World, image: ImageRec, url: string): Promise<void> {
  const fail = (message: string) => {
    image.status = "deleted";
    image.error_message = message;
    world.save();
  };
  const file = join(world.scratch, `${image.id}-${url.split("?")[0].split("/").pop() || "image"}`);
  try {
    const res = await fetch(url);
    if (!res.ok || !res.body)
      return fail(`Unable to download the image: the URL answered HTTP ${res.status}. Check that the URL is reachable and public or presigned.`);
    await pipeline(Readable.fromWeb(res.body as ReadableStream), createWriteStream(file));
  } catch (err) {
    return fail(`Unable to download the image: ${(err as Error).message}.`);
  }
  try {
    // What DigitalOcean's importer judges: the container format, its compression, and the virtual size. Whether the
    // guest boots is left to the boot (`--boot qemu`).
    const judged = world.options.validate === false ? { ok: true as const, virtualSize: 0, actualSize: 0 } : await judgeLikeImporter(file);
    if (!judged.ok) return fail(judged.message);
    await new Promise((r) => setTimeout(r, world.timings.importMs));
    if (!world.state.images.includes(image)) return; // deleted meanwhile
    image.status = "available";
    image.error_message = "";
    image.size_gigabytes = judged.actualSize ? Math.round((judged.actualSize / 1024 ** 3) * 100) / 100 : 0.5;
    image.min_disk_size = judged.virtualSize ? Math.max(1, Math.ceil(judged.virtualSize / 1024 ** 3)) : 1;
    if (world.options.boot === "qemu") world.imageFiles.set(image.id, file);
    world.save();
  } finally {
    if (world.imageFiles.get(image.id) !== file) await rm(file, { force: true });
  }
}

const IMPORT_FORMATS = ["raw", "qcow2", "vmdk", "vdi", "vhdx"];

/**
 * The importer's own verdict on a downloaded file, independent of do-image's readers: gzip/bzip2 undone with the
 * system's gzip/bzip2, then `qemu-img info` for the format, backing file and virtual size (at most 100 GiB).
 */
export async function judgeLikeImporter(file: string): Promise<{ ok: true; virtualSize: number; actualSize: number } | { ok: false; message: string }> {
  const run = (cmd: string, args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, out) => (err ? reject(Object.assign(err, { stdout: out })) : resolve(out))),
    );
  const head = Buffer.alloc(512);
  const fh = await open(file, "r");
  await fh.read(head, 0, 512, 0);
  await fh.close();
  let target = file;
  if (head[0] === 0x1f && head[1] === 0x8b) target = `${file}.raw`;
  else if (head.toString("latin1", 0, 3) === "BZh") target = `${file}.raw`;
  try {
    if (target !== file) {
      const tool = head[0] === 0x1f ? "gzip" : "bzip2";
      await run("sh", ["-c", `${tool} -dc "$1" > "$2"`, "sh", file, target]).catch(() => {
        throw new Error(`the ${tool} data is corrupt`);
      });
    }
    const info = JSON.parse(await run("qemu-img", ["info", "--output=json", target])) as {
      format: string;
      "virtual-size": number;
      "actual-size": number;
      "backing-filename"?: string;
    };
    if (!IMPORT_FORMATS.includes(info.format))
      return { ok: false, message: `The image format ${info.format} is not supported; use raw, qcow2, VHDX, VDI or VMDK.` };
    if (info["backing-filename"]) return { ok: false, message: "The image has a backing file; flatten it first." };
    if (info["virtual-size"] > 100 * 1024 ** 3) return { ok: false, message: "The image's virtual size is over the 100 GiB limit." };
    // A qcow2 whose tables disagree (refcounts, overlapping or out-of-file clusters) does not convert: checked as
    // qemu-img checks it, so that do-image's own qcow2 output is held to it in every push test.
    if (info.format === "qcow2") {
      // Exit 2 is corruption; 3 is leaked clusters only, which converts fine.
      const check = await run("qemu-img", ["check", "--output=json", target]).then(
        () => null,
        (err: { code?: number; stdout?: string }) => (err.code === 3 ? null : (err.stdout ?? String(err))),
      );
      if (check !== null) return { ok: false, message: `The qcow2 image is corrupt (qemu-img check: ${check.replace(/\s+/g, " ").slice(0, 300)}).` };
    }
    if (info.format === "raw") {
      const mbr = Buffer.alloc(512);
      const rh = await open(target, "r");
      await rh.read(mbr, 0, 512, 0);
      await rh.close();
      if (mbr.readUInt16LE(510) !== 0xaa55) return { ok: false, message: "The raw image has no MBR or GPT partition table." };
    }
    return { ok: true, virtualSize: info["virtual-size"], actualSize: info["actual-size"] };
  } catch (err) {
    return { ok: false, message: `The image could not be read: ${(err as Error).message}.` };
  } finally {
    if (target !== file) await rm(target, { force: true });
  }
}
