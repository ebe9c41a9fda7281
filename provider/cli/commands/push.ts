// `do-image push`: validate, upload, import, wait, copy to more regions; each flag named by the publish input it sets.
import type { CommandSpec } from "../args";
import { BOOT_WHEN_FLAG, checkIds, jsonFlag, list, onInterrupt, positive, retryLog, run } from "../common";
import { writeOut, writeErr } from "../output";
import { colour as c } from "../format";
import type { BootWhen } from "../../boot";
import { CHECK_IDS } from "../../image/checks/types";

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

export const push: CommandSpec = {
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
    jsonFlag("print the result as JSON"),
  ],
  run: async ([fileArg], o) => {
    const file = fileArg as string;
    const [core, { progressPrinter, renderPushed }, { imageJson }, { apiSettings }] = await Promise.all([
      import("../../publish"),
      import("../progress"),
      import("../images"),
      import("../settings"),
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
};
