#!/usr/bin/env node
// The `do-image` command line: a thin face that turns arguments into core calls and results into output and exit codes.
// The AWS SDK warns on Node 20 at every start that its 2027 releases will need Node 22; the README says so once instead.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
import { Command } from "commander";
import { ImageError, inspectImage, unreadable, validateImage } from "../image";
import { colour as c } from "./format";
import { renderInspect } from "./inspect";
import { renderValidate } from "./validate";

/** Exit codes shared by every command: 0 fine, 1 the image has a failing finding, 2 the file could not be read. */
export const EXIT = { ok: 0, failed: 1, unreadable: 2 } as const;

function errorJson(file: string, err: unknown) {
  if (err instanceof ImageError) return { file, error: { code: err.code, message: err.message, fix: err.fix, offset: err.offset } };
  return { file, error: { code: "internal", message: String((err as Error)?.message ?? err), fix: "report this as a bug with the command you ran" } };
}

/** Errors the user can act on are printed as a message; anything else is a bug and keeps its stack. */
const EXPECTED_ERRORS = new Set([
  "DigitalOceanError",
  "SpacesError",
  "PublishError",
  "ValidationFailedError",
  "MissingTokenError",
  "MissingSpacesKeysError",
  "ImportFailedError",
  "WaitTimeoutError",
  "InvalidArgumentError",
]);

function printError(err: unknown): void {
  if (err instanceof ImageError) {
    process.stderr.write(`${c.red("error")} ${err.message}\n  ${c.bold("fix:")} ${err.fix}\n`);
  } else if (EXPECTED_ERRORS.has((err as Error)?.name)) {
    process.stderr.write(`${c.red("error")} ${(err as Error).message}\n`);
  } else {
    process.stderr.write(`${c.red("error")} ${(err as Error)?.stack ?? String(err)}\n`);
  }
}

const list = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean),
];

async function run(json: boolean | undefined, body: () => Promise<unknown>): Promise<void> {
  try {
    const out = await body();
    if (json && out !== undefined) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } catch (err) {
    if (json) process.stdout.write(`${JSON.stringify(errorJson("", err), null, 2)}\n`);
    printError(err);
    process.exitCode = err instanceof ImageError ? EXIT.unreadable : EXIT.failed;
  }
}

export function buildProgram(): Command {
  const program = new Command("do-image").description("Validate, upload and import Linux disk images as DigitalOcean custom images").showHelpAfterError();

  program
    .command("inspect")
    .description("show an image's format, sizes and partitions, reading only the metadata it needs")
    .argument("<file>", "disk image: raw, qcow2, VMDK, VDI or VHDX, optionally gzip- or bzip2-compressed")
    .option("--json", "print a JSON report")
    .action(async (file: string, opts: { json?: boolean }) => {
      try {
        const report = await inspectImage(file);
        process.stdout.write(`${opts.json ? JSON.stringify(report, null, 2) : renderInspect(report)}\n`);
        process.exitCode = report.findings.some((f) => f.severity === "error") ? EXIT.failed : EXIT.ok;
      } catch (err) {
        if (opts.json) process.stdout.write(`${JSON.stringify(errorJson(file, err), null, 2)}\n`);
        else printError(err);
        process.exitCode = EXIT.unreadable;
      }
    });

  program
    .command("validate")
    .description("judge every DigitalOcean requirement locally: format, size, partitions, filesystem, cloud-init, datasources, sshd")
    .argument("<file>", "disk image: raw, qcow2, VMDK, VDI or VHDX, optionally gzip- or bzip2-compressed")
    .option("--json", 'print the JSON report: { "file", "ok", "checks": [ { "id", "status", "message", "evidence", "fix" } ] }')
    .option("--skip <ids>", "comma-separated check ids whose failures count as warnings", (v: string) => v.split(",").map((x) => x.trim()))
    .action(async (file: string, opts: { json?: boolean; skip?: string[] }) => {
      const report = await validateImage(file, { skip: opts.skip });
      process.stdout.write(`${opts.json ? JSON.stringify(report, null, 2) : renderValidate(report)}\n`);
      process.exitCode = unreadable(report) ? EXIT.unreadable : report.ok ? EXIT.ok : EXIT.failed;
    });

  program
    .command("boot")
    .description("boot the image locally in QEMU as DigitalOcean starts a Droplet, and log in over SSH")
    .argument("<file>", "disk image: raw, qcow2, VMDK, VDI or VHDX, optionally gzip- or bzip2-compressed")
    .option("--json", "print the JSON report")
    .option("--timeout <seconds>", "seconds before an unfinished boot fails (default 600 under TCG, 240 under KVM)", (v) => Number(v))
    .option("--keep-console <file>", "write the whole serial console to this file")
    .option("--accel <kvm|tcg|auto>", "accelerator: auto tries KVM and falls back to TCG", "auto")
    .option("--memory <MiB>", "guest memory", (v) => Number(v), 1024)
    .action(async (file: string, o: { json?: boolean; timeout?: number; keepConsole?: string; accel: "auto" | "kvm" | "tcg"; memory: number }) => {
      const { bootImage } = await import("../image/boot");
      const { renderBoot } = await import("./boot");
      try {
        const report = await bootImage(file, {
          timeoutSeconds: o.timeout,
          keepConsole: o.keepConsole,
          accel: o.accel,
          memoryMiB: o.memory,
          onProgress: (m) => process.stderr.write(`${c.dim("boot")} ${m}\n`),
        });
        process.stdout.write(`${o.json ? JSON.stringify(report, null, 2) : renderBoot(report)}\n`);
        process.exitCode = report.verdict === "works" ? EXIT.ok : EXIT.failed;
      } catch (err) {
        if (o.json) process.stdout.write(`${JSON.stringify(errorJson(file, err), null, 2)}\n`);
        printError(err);
        process.exitCode = EXIT.unreadable;
      }
    });

  program
    .command("push")
    .description("validate, upload to Spaces, import as a custom image, wait, and copy it to more regions")
    .argument("<file>", "disk image to publish")
    .requiredOption("--region <slug>", "region to import into (nyc3, sfo3, ams3, …)")
    .option("--regions <slugs>", "more regions to copy the image to, in parallel (comma-separated)", list, [])
    .option("--name <name>", "image name (default: the file name)")
    .option("--bucket <name>", "Spaces bucket to upload to (default: $SPACES_BUCKET)")
    .option("--spaces-region <slug>", "region of that bucket (default: $SPACES_REGION, else --region)")
    .option("--key-prefix <prefix>", "object key prefix", "do-image")
    .option("--public", "upload the object public-read instead of private with a presigned URL")
    .option("--keep-object", "keep the uploaded object after the import")
    .option("--distribution <name>", "distribution shown in the control panel", "Unknown")
    .option("--description <text>", "image description")
    .option("--tag <tag>", "tag the image (repeatable, or comma-separated)", list, [])
    .option("--skip <ids>", "checks whose failures count as warnings", list, [])
    .option("--force", "publish even when checks fail")
    .option("--import-timeout <minutes>", "minutes to wait for the import and each transfer", (v) => Number(v), 60)
    .option("--json", "print the result as JSON")
    .action(async (file: string, o: Record<string, unknown>) => {
      const { publishImage, CHECK_IDS, contentMarker } = { ...(await import("../digitalocean")), ...(await import("../image")) };
      const { sha256File } = await import("../spaces");
      const { progressPrinter, imageJson, renderPushed } = await import("./push");
      const bucket = (o.bucket as string) ?? process.env.SPACES_BUCKET;
      if (!bucket) throw Object.assign(new Error("no Spaces bucket: pass --bucket or set SPACES_BUCKET"), { name: "InvalidArgumentError" });
      const printer = progressPrinter();
      await run(o.json as boolean, async () => {
        try {
          // The same bytes pushed again find the image they became instead of uploading and importing twice.
          const marker = contentMarker((await sha256File(file)).sha256);
          const r = await publishImage({
            file,
            marker,
            name:
              (o.name as string) ??
              file
                .split("/")
                .pop()!
                .replace(/\.(gz|bz2)$/, ""),
            regions: [o.region as string, ...(o.regions as string[])],
            distribution: o.distribution as string,
            description: o.description as string | undefined,
            tags: o.tag as string[],
            spaces: {
              bucket,
              region: (o.spacesRegion as string) ?? process.env.SPACES_REGION ?? (o.region as string),
              keyPrefix: o.keyPrefix as string,
              access: o.public ? "public-read" : "presigned",
              keepObject: Boolean(o.keepObject),
            },
            validation: { skip: o.force ? [...CHECK_IDS] : (o.skip as string[]) },
            timeouts: { import: o.importTimeout as number, transfer: o.importTimeout as number },
            onEvent: printer.onEvent,
          });
          if (!o.json) process.stdout.write(`${renderPushed(r)}\n`);
          return {
            image: imageJson(r.image),
            upload: r.upload
              ? { bucket: r.upload.bucket, key: r.upload.key, sha256: r.upload.sha256, reused: r.upload.reused, bytesUploaded: r.upload.bytesUploaded }
              : null,
            objectDeleted: r.objectDeleted,
          };
        } finally {
          printer.stop();
        }
      });
    });

  program
    .command("ls")
    .description("list your custom images")
    .option("--tag <tag>", "only images with this tag")
    .option("--json", "print JSON")
    .action(async (o: { tag?: string; json?: boolean }) => {
      const { DigitalOceanClient } = await import("../digitalocean");
      const { imageJson } = await import("./push");
      await run(o.json, async () => {
        const images = [];
        for await (const i of new DigitalOceanClient().images.list({ private: true, tagName: o.tag })) if (i.type === "custom") images.push(imageJson(i));
        if (!o.json) for (const i of images) process.stdout.write(`${i.id}\t${i.status}\t${i.regions.join(",")}\t${i.name}\n`);
        return images;
      });
    });

  program
    .command("regions")
    .description("manage an image's regions")
    .command("add")
    .description("copy an image to more regions, in parallel, and wait")
    .argument("<id>", "image id", (v) => Number(v))
    .argument("<regions...>", "region slugs")
    .option("--timeout <minutes>", "minutes to wait for each transfer", (v) => Number(v), 60)
    .option("--json", "print JSON")
    .action(async (id: number, regions: string[], o: { timeout: number; json?: boolean }) => {
      const { DigitalOceanClient, addRegions } = await import("../digitalocean");
      const { progressPrinter, imageJson } = await import("./push");
      const printer = progressPrinter();
      await run(o.json, async () => {
        const image = await addRegions(new DigitalOceanClient(), id, regions, { timeoutMinutes: o.timeout, onEvent: printer.onEvent });
        if (!o.json) process.stdout.write(`${image.id}\t${image.regions.join(",")}\n`);
        return imageJson(image);
      });
    });

  program
    .command("rm")
    .description("delete a custom image (an image already gone is not an error)")
    .argument("<id>", "image id", (v) => Number(v))
    .option("--json", "print JSON")
    .action(async (id: number, o: { json?: boolean }) => {
      const { DigitalOceanClient, DigitalOceanError } = await import("../digitalocean");
      await run(o.json, async () => {
        try {
          await new DigitalOceanClient().images.delete(id);
        } catch (err) {
          if (!(err instanceof DigitalOceanError && err.notFound)) throw err;
        }
        if (!o.json) process.stdout.write(`deleted ${id}\n`);
        return { id, deleted: true };
      });
    });

  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err) => {
      printError(err);
      process.exitCode = EXIT.unreadable;
    });
}
