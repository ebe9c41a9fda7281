#!/usr/bin/env node
// The `do-image` command line: a thin face that turns arguments into core calls and results into output and exit codes.
// The AWS SDK warns on Node 20 at every start that its 2027 releases will need Node 22; the README says so once instead.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
import { DoImageError, EXIT, UsageError, errorJson, exitCodeOf } from "../errors";
import { parseCommandLine, type CommandSpec, type FlagSpec, type Opts } from "./args";
import type { BootOptions, BootWhen } from "../boot";
import { CHECK_IDS } from "../image/checks/types";
import { packageVersion } from "../package";
import { colour as c } from "./format";
import { writeErr, writeOut } from "./output";
import type { TokenFlags } from "./settings";

/** Errors the user can act on are printed with their fix; anything else is a bug and keeps its stack. */
function printError(err: unknown): void {
  if (err instanceof DoImageError) writeErr(`${c.red("error")} ${err.message}\n  ${c.bold("fix:")} ${err.fix}\n`);
  else
    writeErr(`${c.red("error")} ${(err as Error)?.stack ?? String(err)}\n  ${c.bold("fix:")} this is a bug in do-image: report it with the command you ran\n`);
}

/** Runs a command body: its JSON result (when asked) to stdout, an error as text to stderr (and as JSON), the exit code. */
async function run(json: boolean | undefined, body: () => Promise<unknown>, file?: string): Promise<void> {
  try {
    const out = await body();
    if (json && out !== undefined) writeOut(`${JSON.stringify(out, null, 2)}\n`);
  } catch (err) {
    if (json) writeOut(`${JSON.stringify({ ...(file !== undefined ? { file } : {}), error: errorJson(err) }, null, 2)}\n`);
    printError(err);
    process.exitCode = exitCodeOf(err);
  }
}

const list = (v: string, prev: unknown = []) => [
  ...(prev as string[]),
  ...v
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean),
];

function checkIds(v: string, prev: unknown = []): string[] {
  const ids = list(v, prev);
  const bad = ids.filter((id) => !(CHECK_IDS as readonly string[]).includes(id));
  if (bad.length) throw new Error(`${bad.map((b) => `"${b}"`).join(", ")} is not a check id (${CHECK_IDS.join(", ")})`);
  return ids;
}

function imageId(v: string): number {
  if (!/^[1-9]\d{0,15}$/.test(v)) throw new Error(`"${v}" is not an image id (a positive whole number; do-image ls lists them)`);
  return Number(v);
}

function nonNegative(v: string): number {
  const n = Number(v);
  if (!(n >= 0) || !Number.isFinite(n)) throw new Error(`"${v}" is not a number of hours (0 or more)`);
  return n;
}

function positive(v: string): number {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`"${v}" is not a positive number`);
  return n;
}

/**
 * A duration in seconds: "90s", "15m", "1h", or a bare number in `bare` units. Returned with whether it had a unit, for
 * the one flag whose bare numbers change meaning (regions add --timeout: minutes before, seconds next release).
 */
function duration(v: string, bare: "s" | "m"): { seconds: number; unitless: boolean } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smh])?\s*$/i.exec(v);
  const n = m ? Number(m[1]) : NaN;
  if (!m || !(n > 0)) throw new Error(`"${v}" is not a duration: write 90s, 15m or 1h`);
  const unit = (m[2]?.toLowerCase() ?? bare) as "s" | "m" | "h";
  return { seconds: n * { s: 1, m: 60, h: 3600 }[unit], unitless: !m[2] };
}

/**
 * The flags `push` takes, by the publish input each one sets, so an input problem names the flag to change; every
 * input schema.json documents is here or its absence explained (test/faces.test.ts).
 */
export const PUSH_FLAGS: Record<string, string> = {
  file: "<file>",
  regions: "--region/--regions",
  importRegion: "--region",
  name: "--name",
  distribution: "--distribution",
  description: "--description",
  tags: "--tag",
  "spaces.bucket": "--bucket (or $SPACES_BUCKET)",
  "spaces.region": "--spaces-region",
  "spaces.keyPrefix": "--key-prefix",
  "spaces.access": "--public",
  "spaces.keepObject": "--keep-object",
  "spaces.uploadAs": "--upload-as",
  "timeouts.import": "--import-timeout",
  "timeouts.transfer": "--import-timeout",
  "validation.skip": "--skip",
  "validation.boot": "--boot",
};
const flagFor = (field: string) => PUSH_FLAGS[field.replace(/\[\d+\]$/, "")] ?? field;

/** Each retry or wait is said as it happens, so a slow network or a rate limit is never silence. */
const retryLog = (line: string) => writeErr(`${c.dim(line)}\n`);

async function client(flags: Opts & TokenFlags) {
  const [{ DigitalOceanClient }, { apiSettings }] = await Promise.all([import("../digitalocean"), import("./settings")]);
  return new DigitalOceanClient({ ...apiSettings(flags), log: retryLog });
}

/** Ctrl-C during a long command: say how to carry on, and exit as a shell expects (128 + SIGINT). */
function onInterrupt(what: string): () => void {
  const handler = () => {
    writeErr(`\n${c.yellow("interrupted")}: ${what}\n`);
    process.exit(130);
  };
  process.on("SIGINT", handler);
  return () => process.off("SIGINT", handler);
}

const FILE_ARG = { name: "file", description: "disk image: raw, qcow2, VMDK, VDI or VHDX, optionally gzip- or bzip2-compressed" };

/** Whether validation boots the image, for `validate` and `push` (the publish input validation.boot). */
const BOOT_WHEN_FLAG: FlagSpec = {
  name: "boot",
  value: "<when>",
  bare: "auto",
  choices: ["auto", "always", "never"] satisfies BootWhen[],
  default: "never",
  description:
    "boot the image as a Droplet (QEMU, as `do-image boot`) and let the boot decide: auto (the bare flag) when a check that predicts the boot warns or cannot judge, always, or never; 1-3 minutes under TCG, under a minute under KVM",
};

/** The flags that shape a local boot, for `boot` and `validate --boot`. */
const BOOT_FLAGS: FlagSpec[] = [
  {
    name: "timeout",
    value: "<seconds>",
    description: "seconds before an unfinished boot fails, or with a unit: 10m (default 600 under TCG, 240 under KVM)",
    parse: (v: string) => duration(v, "s").seconds,
  },
  { name: "keep-console", value: "<file>", description: "write the whole serial console to this file" },
  { name: "accel", value: "<accel>", description: "accelerator: auto tries KVM and falls back to TCG", choices: ["auto", "kvm", "tcg"], default: "auto" },
  { name: "memory", value: "<MiB>", description: "guest memory", parse: positive, default: 1024 },
];

function bootOptions(o: Opts): BootOptions {
  return {
    timeoutSeconds: o.timeout as number | undefined,
    keepConsole: o.keepConsole as string | undefined,
    accel: o.accel as "auto" | "kvm" | "tcg",
    memoryMiB: o.memory as number,
    onProgress: (m) => writeErr(`${c.dim("boot")} ${m}\n`),
  };
}

/** The command tree: each command's arguments, flags and body. Global flags stand before or after the command. */
export const PROGRAM: CommandSpec = {
  name: "do-image",
  description: "Validate, boot, upload and import Linux disk images as DigitalOcean custom images",
  flags: [
    { name: "version", short: "v", description: "print the version" },
    { name: "access-token", short: "t", value: "<token>", description: "DigitalOcean API token (default: $DIGITALOCEAN_TOKEN, else doctl's saved context)" },
    { name: "context", value: "<name>", description: "doctl auth context whose token to use" },
    {
      name: "api-url",
      value: "<url>",
      description: "API endpoint (default: $DIGITALOCEAN_API_URL, else https://api.digitalocean.com)",
      env: "DIGITALOCEAN_API_URL",
    },
  ],
  commands: [
    {
      name: "inspect",
      description: "show an image's format, sizes and partitions, reading only the metadata it needs",
      args: [FILE_ARG],
      flags: [{ name: "json", description: "print a JSON report" }],
      run: async ([file], opts) => {
        const [{ inspectImage }, { renderInspect }] = await Promise.all([import("../image/inspect"), import("./inspect")]);
        await run(
          opts.json as boolean,
          async () => {
            const report = await inspectImage(file as string);
            if (!opts.json) writeOut(`${renderInspect(report)}\n`);
            process.exitCode = report.findings.some((f) => f.severity === "error") ? EXIT.refused : EXIT.ok;
            return report;
          },
          file as string,
        );
      },
    },
    {
      name: "validate",
      description: "judge every DigitalOcean requirement locally: format, size, partitions, filesystem, cloud-init, datasources, sshd, boot",
      args: [FILE_ARG],
      flags: [
        { name: "json", description: 'print the JSON report: { "file", "ok", "checks": [ { "id", "status", "message", "evidence", "fix" } ] }' },
        { name: "skip", value: "<ids>", description: "comma-separated check ids whose failures count as warnings", parse: checkIds },
        BOOT_WHEN_FLAG,
        ...BOOT_FLAGS,
      ],
      run: async ([file], opts) => {
        const [{ validateImage, unreadable }, { renderValidate }] = await Promise.all([import("../image/checks/validate"), import("./validate")]);
        await run(
          opts.json as boolean,
          async () => {
            const options = { skip: opts.skip as string[] | undefined };
            const report =
              opts.boot === "never"
                ? await validateImage(file as string, options)
                : await (
                    await import("../boot")
                  ).validateWithBoot(file as string, {
                    ...options,
                    boot: opts.boot as BootWhen,
                    bootOptions: bootOptions(opts),
                    onBoot: (why) => writeErr(`${c.dim("boot")} booting the image as a Droplet: ${why}\n`),
                  });
            writeOut(`${opts.json ? JSON.stringify(report, null, 2) : renderValidate(report)}\n`);
            process.exitCode = unreadable(report) ? EXIT.unreadable : report.ok ? EXIT.ok : EXIT.refused;
          },
          file as string,
        );
      },
    },
    {
      name: "boot",
      description: "boot the image locally in QEMU as DigitalOcean starts a Droplet, and log in over SSH",
      args: [FILE_ARG],
      flags: [{ name: "json", description: "print the JSON report" }, ...BOOT_FLAGS],
      run: async ([file], o) => {
        const [{ bootImage }, { renderBoot }] = await Promise.all([import("../boot"), import("./boot")]);
        await run(
          o.json as boolean,
          async () => {
            const report = await bootImage(file as string, bootOptions(o));
            if (!o.json) writeOut(`${renderBoot(report)}\n`);
            process.exitCode = report.verdict === "works" ? EXIT.ok : EXIT.refused;
            return report;
          },
          file as string,
        );
      },
    },
    {
      name: "convert",
      description: "write the image as the compressed qcow2 push sends: only its non-zero clusters, deflated (qemu-img reads it)",
      args: [FILE_ARG, { name: "output", description: "the qcow2 file to write (replaced if it exists)" }],
      flags: [
        { name: "auto", description: "convert only where push's --upload-as auto would (raw disks, containers of uncompressed data); else say why not" },
        { name: "json", description: "print the result as JSON" },
      ],
      run: async ([fileArg, outputArg], o) => {
        const file = fileArg as string;
        const output = outputArg as string;
        const [{ openImage, writeCompressedQcow2, replaceableTarget }, { uploadFormatFor }, { bytes }, { realpath }] = await Promise.all([
          import("../image"),
          import("../publish/upload-format"),
          import("./format"),
          import("node:fs/promises"),
        ]);
        await run(
          o.json as boolean,
          async () => {
            // Before any work: what <output> names must be a file the result may replace, and not the image itself.
            const target = await replaceableTarget(output);
            if (target === (await realpath(file).catch(() => file)))
              throw new UsageError(`<output> is ${file} itself`, "name another file: the image is read while the qcow2 is written", "<output>");
            const choice = await uploadFormatFor(file, o.auto ? "auto" : "qcow2");
            if (choice.format !== "qcow2") {
              if (!o.json) writeOut(`not converted: ${choice.reason}\n`);
              return { file, output: null, converted: false, reason: choice.reason };
            }
            const image = await openImage(file);
            try {
              const stats = await writeCompressedQcow2(image.disk, output);
              if (!o.json)
                writeOut(
                  `wrote ${output}: ${bytes(stats.size)}, a compressed qcow2 of a ${bytes(stats.virtualSize)} disk (${stats.dataClusters} clusters of data)\n`,
                );
              return { file, output, converted: true, reason: choice.reason, ...stats };
            } finally {
              await image.close();
            }
          },
          file,
        );
      },
    },
    {
      name: "push",
      description: "validate, upload to Spaces, import as a custom image, wait, and copy it to more regions",
      args: [{ name: "file", description: "disk image to publish" }],
      flags: [
        { name: "region", value: "<slug>", description: "region to import into (nyc3, sfo3, ams3, …)", required: true },
        {
          name: "regions",
          value: "<slugs>",
          description: "more regions to copy the image to, in parallel (comma-separated)",
          parse: list,
          default: [],
          hideDefault: true,
        },
        { name: "name", value: "<name>", description: "image name (default: the file name)" },
        { name: "bucket", value: "<name>", description: "Spaces bucket to upload to (default: $SPACES_BUCKET)" },
        { name: "spaces-region", value: "<slug>", description: "region of that bucket (default: $SPACES_REGION, else --region)" },
        { name: "key-prefix", value: "<prefix>", description: "object key prefix", default: "do-image" },
        { name: "public", description: "upload the object public-read instead of private with a presigned URL" },
        { name: "keep-object", description: "keep the uploaded object after the import" },
        {
          name: "upload-as",
          value: "<format>",
          description:
            "qcow2: a compressed qcow2 of only the non-zero clusters, produced while it uploads; gzip: the file gzip-compressed while it uploads (a compressed file goes as it is); original: the file as it is; auto: qcow2 for raw disks and uncompressed containers, else original",
          choices: ["auto", "original", "qcow2", "gzip"],
          default: "auto",
        },
        { name: "distribution", value: "<name>", description: "distribution shown in the control panel", default: "Unknown" },
        { name: "description", value: "<text>", description: "image description" },
        { name: "tag", value: "<tag>", description: "tag the image (repeatable, or comma-separated)", parse: list, default: [], hideDefault: true },
        { name: "skip", value: "<ids>", description: "checks whose failures count as warnings", parse: checkIds, default: [], hideDefault: true },
        BOOT_WHEN_FLAG,
        { name: "force", description: "publish even when checks fail" },
        { name: "import-timeout", value: "<minutes>", description: "minutes to wait for the import and each transfer", parse: positive, default: 60 },
        { name: "json", description: "print the result as JSON" },
      ],
      run: async ([fileArg], o) => {
        const file = fileArg as string;
        const [core, { progressPrinter, renderPushed }, { imageJson }, { apiSettings }] = await Promise.all([
          import("../publish"),
          import("./progress"),
          import("./images"),
          import("./settings"),
        ]);
        const printer = progressPrinter();
        const stopInterrupt = onInterrupt("run the same command to resume: the parts already uploaded are kept, and an image already importing is found again");
        await run(
          o.json as boolean,
          async () => {
            const inputs = {
              file,
              name: (o.name as string) ?? core.imageNameFromFile(file),
              regions: [o.region as string, ...(o.regions as string[])],
              importRegion: o.region as string,
              distribution: o.distribution as string,
              description: o.description as string | undefined,
              tags: o.tag as string[],
              spaces: {
                bucket: ((o.bucket as string) ?? process.env.SPACES_BUCKET)!,
                region: o.spacesRegion as string | undefined,
                keyPrefix: o.keyPrefix as string,
                access: o.public ? ("public-read" as const) : ("presigned" as const),
                keepObject: Boolean(o.keepObject),
                uploadAs: o.uploadAs as "auto" | "original" | "qcow2" | "gzip",
              },
              validation: { skip: o.force ? [...CHECK_IDS] : (o.skip as string[]), boot: o.boot as BootWhen },
              timeouts: { import: o.importTimeout as number, transfer: o.importTimeout as number },
            };
            // Every bad flag is a usage error, named as the flag, before anything is read, hashed or sent.
            const r = await core
              .publishImage({ ...inputs, fieldName: flagFor, api: { ...apiSettings(o), log: retryLog }, onEvent: printer.onEvent })
              .catch((err) => {
                if (err instanceof core.ValidationFailedError) {
                  const ids = (err.details().failed as string[]).join(",");
                  writeErr(`${c.dim(`hint: nothing was uploaded; --skip ${ids} accepts these failures, --force publishes whatever the checks say`)}\n`);
                }
                throw err;
              });
            printer.stop();
            if (!o.json) writeOut(`${renderPushed(r)}\n`);
            return {
              image: imageJson(r.image),
              adopted: r.adopted,
              upload: r.upload
                ? {
                    bucket: r.upload.bucket,
                    key: r.upload.key,
                    sha256: r.upload.sha256,
                    format: r.uploadAs?.format,
                    size: r.upload.size,
                    reused: r.upload.reused,
                    bytesUploaded: r.upload.bytesUploaded,
                  }
                : null,
              objectDeleted: r.objectDeleted,
            };
          },
          file,
        );
        printer.stop();
        stopInterrupt();
      },
    },
    {
      name: "ls",
      description: "list your custom images",
      flags: [
        { name: "tag", value: "<tag>", description: "only images with this tag" },
        { name: "format", value: "<columns>", description: `columns to show, comma-separated (default ${"ID,Name,Status,Regions,Distribution,Size"})` },
        { name: "no-header", description: "leave out the header line" },
        { name: "json", description: "print JSON" },
      ],
      run: async (_args, o) => {
        const { imageJson, renderImages, LS_COLUMNS, LS_DEFAULT_FORMAT } = await import("./images");
        const columns = list((o.format as string | undefined) ?? LS_DEFAULT_FORMAT);
        const bad = columns.filter((k) => !LS_COLUMNS[k]);
        if (bad.length) throw new UsageError(`--format: unknown column ${bad.join(", ")}`, `use any of ${Object.keys(LS_COLUMNS).join(", ")}`, "--format");
        await run(o.json as boolean, async () => {
          const images = [];
          for await (const i of (await client(o)).images.list({ private: true, tagName: o.tag as string | undefined }))
            if (i.type === "custom") images.push(imageJson(i));
          if (!o.json) {
            const text = renderImages(images, columns, o.header as boolean);
            if (text) writeOut(`${text}\n`);
          }
          return images;
        });
      },
    },
    {
      name: "regions",
      description: "manage an image's regions",
      commands: [
        {
          name: "add",
          description: "copy an image to more regions, in parallel, and wait",
          args: [
            { name: "id", description: "image id", parse: imageId },
            { name: "regions", description: "region slugs", variadic: true },
          ],
          flags: [
            {
              name: "timeout",
              value: "<duration>",
              description:
                "how long to wait for each transfer: 3600s, 60m or 1h (default 1h); a bare number is still minutes in this release, with a warning, and seconds from the next",
              parse: (v: string) => duration(v, "m"),
            },
            { name: "json", description: "print JSON" },
          ],
          run: async ([idArg, regionsArg], o) => {
            const id = idArg as number;
            const regions = regionsArg as string[];
            const [{ addRegions, REGION_SLUG }, { progressPrinter }, { imageJson }] = await Promise.all([
              import("../publish"),
              import("./progress"),
              import("./images"),
            ]);
            const bad = regions.filter((r) => !REGION_SLUG.test(r));
            if (bad.length)
              throw new UsageError(`${bad.join(", ")}: not a region slug`, "region slugs are three letters and a digit, e.g. nyc3", "<regions...>");
            const timeout = o.timeout as ReturnType<typeof duration> | undefined;
            if (timeout?.unitless)
              writeErr(
                `warning: --timeout ${timeout.seconds / 60} is read as minutes, as before; bare numbers will be seconds in the next release, as for boot: write ${timeout.seconds / 60}m or ${timeout.seconds}s\n`,
              );
            const printer = progressPrinter();
            await run(o.json as boolean, async () => {
              const image = await addRegions(await client(o), id, regions, { timeoutMinutes: (timeout?.seconds ?? 3600) / 60, onEvent: printer.onEvent });
              printer.stop();
              if (!o.json) writeOut(`${image.id}\t${image.regions.join(",")}\n`);
              return imageJson(image);
            });
          },
        },
      ],
    },
    {
      name: "rm",
      description: "delete a custom image (an image already gone is not an error)",
      args: [{ name: "id", description: "image id", parse: imageId }],
      flags: [{ name: "json", description: "print JSON" }],
      run: async ([idArg], o) => {
        const id = idArg as number;
        const { deleteImage } = await import("../publish");
        await run(o.json as boolean, async () => {
          const r = await deleteImage(await client(o), id);
          if (!o.json) writeOut(r.image === "deleted" ? `deleted image ${id}\n` : `image ${id} was already gone\n`);
          return { id, result: r.image };
        });
      },
    },
    {
      name: "gc",
      description: "abort unfinished multipart uploads an interrupted push left in the bucket (their parts are billed until then)",
      flags: [
        { name: "bucket", value: "<name>", description: "Spaces bucket (default: $SPACES_BUCKET)" },
        { name: "spaces-region", value: "<slug>", description: "region of that bucket (default: $SPACES_REGION)" },
        { name: "key-prefix", value: "<prefix>", description: "only uploads under this prefix", default: "do-image" },
        {
          name: "older-than",
          value: "<hours>",
          description: "keep uploads started more recently than this, which a push may still resume (0: abort all)",
          parse: nonNegative,
          default: 24,
        },
        { name: "dry-run", description: "list what would be aborted, abort nothing" },
        { name: "json", description: "print JSON" },
      ],
      run: async (_args, o) => {
        const { collectUnfinishedUploads } = await import("../spaces");
        await run(o.json as boolean, async () => {
          const bucket = (o.bucket as string | undefined) ?? process.env.SPACES_BUCKET;
          if (!bucket) throw new UsageError("no bucket named", "pass --bucket NAME or set SPACES_BUCKET", "--bucket");
          const keyPrefix = o.keyPrefix as string;
          const olderThan = o.olderThan as number;
          const r = await collectUnfinishedUploads({
            bucket,
            region: (o.spacesRegion as string | undefined) ?? process.env.SPACES_REGION,
            prefix: keyPrefix ? `${keyPrefix.replace(/\/+$/, "")}/` : "",
            olderThanMs: olderThan * 3_600_000,
            dryRun: o.dryRun as boolean | undefined,
          });
          const row = (u: { key: string; uploadId: string; initiated?: Date }) =>
            `${u.key} (upload ${u.uploadId}${u.initiated ? `, started ${u.initiated.toISOString()}` : ""})`;
          if (!o.json) {
            for (const u of r.aborted) writeOut(`${o.dryRun ? "would abort" : "aborted"} ${row(u)}\n`);
            for (const u of r.kept) writeOut(`kept ${row(u)}: newer than ${olderThan} h, a push may resume it\n`);
            if (r.aborted.length + r.kept.length === 0) writeOut(`no unfinished uploads under ${bucket}/${keyPrefix}\n`);
          }
          const json = (u: { key: string; uploadId: string; initiated?: Date }) => ({ ...u, initiated: u.initiated?.toISOString() ?? null });
          return { bucket, dryRun: Boolean(o.dryRun), aborted: r.aborted.map(json), kept: r.kept.map(json) };
        });
      },
    },
    {
      name: "completion",
      description: 'print a shell completion script: eval "$(do-image completion bash)"; zsh and fish say where to put theirs',
      args: [{ name: "shell", description: "the shell", choices: ["bash", "zsh", "fish"] }],
      run: async ([shell]) => {
        const { completionScript } = await import("./completion");
        writeOut(completionScript(PROGRAM, shell as string));
      },
    },
  ],
};

/** Runs the CLI: help and --version exit 0, usage errors 64 (and a bare `do-image` shows the help on stderr), the rest by the error model. */
export async function main(argv: string[] = process.argv): Promise<void> {
  const args = argv.slice(2);
  try {
    const parsed = parseCommandLine(PROGRAM, args);
    if (parsed.kind === "version") writeOut(`${packageVersion()}\n`);
    else if (parsed.kind === "help") {
      (parsed.toStderr ? writeErr : writeOut)(parsed.text);
      process.exitCode = parsed.toStderr ? EXIT.usage : EXIT.ok;
    } else await parsed.command.run!(parsed.args, parsed.opts);
  } catch (err) {
    // A usage error asked for as JSON is JSON too, as an error from a command's body is.
    if (err instanceof UsageError && args.includes("--json")) writeOut(`${JSON.stringify({ error: errorJson(err) }, null, 2)}\n`);
    printError(err);
    process.exitCode = exitCodeOf(err);
  }
}

if (require.main === module) void main();
