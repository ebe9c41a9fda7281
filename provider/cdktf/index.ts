// CDKTF constructs (entry "do-image/cdktf"): the same job for synth pipelines, validated at synth with do-image's validator.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { CustomImage as DoCustomImage } from "@cdktf/provider-digitalocean/lib/custom-image";
import { Droplet } from "@cdktf/provider-digitalocean/lib/droplet";
import { SpacesBucketObject } from "@cdktf/provider-digitalocean/lib/spaces-bucket-object";
import { Annotations, App, AssetType, Fn, TerraformAsset, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { UsageError } from "../errors";
import { packageRoot } from "../package";
import { failureLines, type ValidationReport } from "../image";
import type { BootWhen } from "../boot/when";
import { checkInputs, convertedCopyPath, objectKey, spacesRegionFor, uploadName } from "../publish";
import { publicObjectUrl, sha256FileSync, spacesLocation } from "../spaces";
import type { ImageDropletConfig } from "./config.generated";

export type { ImageDropletConfig };

export interface CustomImageConfig {
  /** The local image file (raw, qcow2, VMDK, VDI or VHDX, optionally gzip or bzip2), relative to where synth runs (cdktf.json's folder). */
  readonly file: string;
  /** Regions the image is made available in. Terraform's provider replaces the image when one is removed. */
  readonly regions: string[];
  /** The Spaces bucket the image is uploaded to. */
  readonly bucket: string;
  /** The bucket's region. @default $SPACES_REGION, else the first of regions */
  readonly spacesRegion?: string;
  /** @default the construct id */
  readonly name?: string;
  readonly description?: string;
  /** @default "Unknown" */
  readonly distribution?: string;
  readonly tags?: string[];
  /** Object keys are <keyPrefix>/<sha256>/<file name>. @default "do-image" */
  readonly keyPrefix?: string;
  /**
   * How the file is uploaded: "qcow2" converts it at synth into the compressed qcow2 `do-image push` sends (only its
   * non-zero clusters; cached by content, added to the stack as an asset), "auto" does so for raw disks and containers
   * of uncompressed data. The default sends the file as it is, because the object's URL changes with the choice and
   * Terraform replaces an image whose URL changed. @default "original"
   */
  readonly uploadAs?: (typeof CDKTF_UPLOAD_FORMATS)[number];
  /**
   * Check ids whose failures only warn; `boot` boots the image locally in QEMU as a Droplet at synth to decide (auto:
   * when a check that predicts the boot warns or cannot judge; always; never: 1-3 minutes under TCG, needs
   * qemu-system-x86_64); `enabled: false` skips validation. @default { enabled: true, skip: [], boot: "never" }
   */
  readonly validation?: { readonly enabled?: boolean; readonly skip?: string[]; readonly boot?: BootWhen };
}

/**
 * What a construct can send: the file, or the qcow2 made at synth. Not "gzip", which push and Pulumi make while the
 * file uploads: here Terraform's provider uploads the file itself.
 */
export const CDKTF_UPLOAD_FORMATS = ["auto", "original", "qcow2"] as const;

/** The CLI this package ships, run in a child process: construct validations are synchronous, the validator is not. */
const cliPath = () => join(packageRoot(), "dist", "provider", "cli", "main.js");

/**
 * The file as Terraform sees it: relative to the stack's output folder, where terraform runs, so the synthesized
 * configuration holds no path of the machine that synthesized it.
 */
function pathForTerraform(scope: Construct, file: string): string {
  return relative(resolve(App.of(scope).outdir, "stacks", TerraformStack.of(scope).node.id), file);
}

/**
 * The compressed qcow2 of `file` (do-image convert, in a child process: constructs are built synchronously), kept in the
 * cache by content so that synth converts once; null where `auto` sends the file as it is.
 */
function convertForSynth(file: string, sha256: string, uploadAs: "auto" | "qcow2"): string | null {
  const out = convertedCopyPath(sha256);
  if (existsSync(out)) return out;
  mkdirSync(dirname(out), { recursive: true });
  const args = [cliPath(), "convert", "--json", ...(uploadAs === "auto" ? ["--auto"] : []), file, out];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  let result: { converted?: boolean; error?: { message: string } };
  try {
    result = JSON.parse(r.stdout);
  } catch {
    throw new UsageError(`do-image convert could not run on ${file}: ${r.stderr || r.error?.message}`, { fix: "run do-image convert on the file to see why" });
  }
  if (result.error)
    throw new UsageError(`do-image convert ${file}: ${result.error.message}`, { fix: "run do-image validate on the file to see what is wrong" });
  return result.converted ? out : null;
}

function validateForSynth(file: string, skip: string[] = [], boot: BootWhen = "never"): ValidationReport {
  const args = [cliPath(), "validate", "--json", file, ...(skip.length ? ["--skip", skip.join(",")] : []), ...(boot !== "never" ? [`--boot=${boot}`] : [])];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, maxBuffer: 16 * 1024 * 1024 });
  try {
    return JSON.parse(r.stdout) as ValidationReport;
  } catch {
    throw new UsageError(`do-image validate could not run on ${file}: ${r.stderr || r.error?.message}`, {
      fix: "run do-image validate on the file to see why",
    });
  }
}

/**
 * A custom image: the file uploaded to Spaces under a content-addressed key (a changed file is a new key and so a new
 * image; an unchanged one is no diff), then imported. Terraform's DigitalOcean provider imports from a plain URL, so
 * the object is public-read.
 */
export class CustomImage extends Construct {
  readonly object: SpacesBucketObject;
  readonly image: DoCustomImage;
  readonly sha256: string;
  readonly objectKey: string;
  readonly regions: string[];
  /** How the file is uploaded: as it is, or as the compressed qcow2 made at synth. */
  readonly uploadedAs: "original" | "qcow2";

  constructor(scope: Construct, id: string, config: CustomImageConfig) {
    super(scope, id);
    const file = resolve(config.file);
    const { inputs, problems } = checkInputs({
      file,
      name: config.name ?? id,
      regions: config.regions,
      distribution: config.distribution,
      description: config.description,
      tags: config.tags,
      spaces: { bucket: config.bucket, region: config.spacesRegion, keyPrefix: config.keyPrefix, access: "public-read" },
      validation: config.validation?.enabled === false ? false : { skip: config.validation?.skip, boot: config.validation?.boot },
    });
    const uploadAs = config.uploadAs ?? "original";
    if (!CDKTF_UPLOAD_FORMATS.includes(uploadAs))
      problems.push({
        field: "uploadAs",
        reason: `${JSON.stringify(uploadAs)} is not one of ${CDKTF_UPLOAD_FORMATS.join(", ")} (a construct cannot gzip while Terraform uploads; "qcow2" compresses at synth)`,
      });
    if (problems.length > 0)
      throw new UsageError(`CustomImage ${id}: ${problems.map((p) => `${p.field}: ${p.reason}`).join("; ")}`, { fix: "correct the construct's config" });
    if (!existsSync(file))
      throw new UsageError(`CustomImage ${id}: file ${config.file} does not exist`, { fix: "give the path of a disk image file", field: "file" });
    this.regions = inputs.regions;
    const spacesRegion = spacesRegionFor(config.spacesRegion, this.regions[0]);
    this.sha256 = sha256FileSync(file);
    const converted = uploadAs === "original" ? null : convertForSynth(file, this.sha256, uploadAs);
    this.uploadedAs = converted ? "qcow2" : "original";
    this.objectKey = objectKey(this.sha256, uploadName(file, this.uploadedAs), config.keyPrefix);
    // A converted image is an asset of the stack: copied into its output folder, named relative to it.
    const source = converted ? new TerraformAsset(this, "converted", { path: converted, type: AssetType.FILE }).path : pathForTerraform(this, file);
    this.object = new SpacesBucketObject(this, "object", {
      region: spacesRegion,
      bucket: config.bucket,
      key: this.objectKey,
      source,
      acl: "public-read",
      // Terraform notices a content change through the etag even where the key would not change.
      etag: Fn.filemd5(source),
    });
    this.image = new DoCustomImage(this, "image", {
      name: config.name ?? id,
      url: publicObjectUrl(spacesLocation({ region: spacesRegion }).endpoint, config.bucket, this.objectKey),
      regions: this.regions,
      description: config.description,
      distribution: config.distribution ?? "Unknown",
      tags: config.tags,
      dependsOn: [this.object],
    });
    if (config.validation?.enabled !== false) {
      const skip = config.validation?.skip ?? [];
      this.node.addValidation({
        validate: () => {
          const report = validateForSynth(file, skip, config.validation?.boot);
          for (const c of report.checks.filter((x) => x.status === "warn"))
            Annotations.of(this).addWarning(`${c.id}: ${c.message}${c.fix ? ` (fix: ${c.fix})` : ""}`);
          return failureLines(report).map((line) => `${config.file}: ${line}`);
        },
      });
    }
  }
}

/** A Droplet from a CustomImage, after the image; no IPv6 (custom images get none). */
export class ImageDroplet extends Construct {
  readonly droplet: Droplet;

  constructor(scope: Construct, id: string, config: ImageDropletConfig) {
    super(scope, id);
    this.droplet = new Droplet(this, "droplet", {
      name: config.name ?? id,
      image: config.image.image.id,
      region: config.region,
      size: config.size,
      sshKeys: config.sshKeys,
      userData: config.userData,
      tags: config.tags,
      vpcUuid: config.vpcUuid,
      monitoring: config.monitoring,
      backups: config.backups,
      dropletAgent: config.dropletAgent,
      gracefulShutdown: config.gracefulShutdown,
      resizeDisk: config.resizeDisk,
      volumeIds: config.volumeIds,
      ipv6: false,
      dependsOn: [config.image.image],
    });
    this.node.addValidation({
      validate: () => [
        ...(config.image.regions.includes(config.region)
          ? []
          : [`ImageDroplet ${id}: region "${config.region}" is not one of the image's regions (${config.image.regions.join(", ")})`]),
        ...(config.sshKeys.length > 0 ? [] : [`ImageDroplet ${id}: sshKeys is empty; a Droplet from a custom image needs an SSH key`]),
      ],
    });
  }
}
