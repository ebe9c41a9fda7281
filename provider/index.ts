// The core entry ("do-image"): read, judge and boot a disk image, and publish it. Loads no Pulumi and no CDKTF:
// the resources are in "do-image/pulumi" and the constructs in "do-image/cdktf".
import type * as PulumiFace from "./pulumi";
import type * as Boot from "./boot";

// What a user program calls, and the types those calls take and return. Each layer's building blocks (readers,
// clients, naming rules, limiters) are in "do-image/internal", which the local tools and tests use and which may change.
export { DoImageError, UsageError, EXIT, ERROR_CODES, exitCodeOf, errorJson, type ExitCode, type ErrorCode } from "./errors";

// Read and judge an image (no network).
export {
  ImageError,
  openImage,
  inspectImage,
  validateImage,
  CHECK_IDS,
  type OpenedImage,
  type OpenOptions,
  type InspectReport,
  type ValidateOptions,
  type ValidationReport,
  type CheckId,
  type CheckStatus,
  type CheckResult,
  type Evidence,
} from "./image";

// Publish and manage it.
export {
  publishImage,
  writeCompressedQcow2,
  addRegions,
  updateImage,
  deleteImage,
  checkInputs,
  PublishError,
  ValidationFailedError,
  DISTRIBUTIONS,
  type PublishInputs,
  type PublishOptions,
  type PublishResult,
  type PublishEvent,
  type PublishedObject,
  type SpacesTarget,
  type InputProblem,
  type ImageMetadata,
  type CompressedQcow2Options,
  type Qcow2Stats,
} from "./publish";
export {
  DigitalOceanClient,
  DigitalOceanError,
  ImportFailedError,
  TransferFailedError,
  WaitTimeoutError,
  MissingTokenError,
  resolveApiSettings,
  type ApiSettings,
  type ClientOptions,
  type Image,
  type Droplet,
} from "./digitalocean";
export {
  SpacesError,
  MissingSpacesKeysError,
  resolveSpacesSettings,
  collectUnfinishedUploads,
  type SpacesSettings,
  type ResolvedSpacesSettings,
  type CollectOptions,
  type CollectResult,
  type Progress,
} from "./spaces";
export type { BootOptions, BootReport, BootVerdict, RunningGuest, StageReport, StageStatus, BootWhen, BootedValidation, ValidateWithBootOptions } from "./boot";

/** Boots an image in QEMU as DigitalOcean starts a Droplet and reports each stage (loaded on first use: it brings SSH). */
export async function bootImage(...args: Parameters<typeof Boot.bootImage>): ReturnType<typeof Boot.bootImage> {
  return (await import("./boot")).bootImage(...args);
}

/** Validates an image and, where the reading cannot decide (or always), boots it as a Droplet to decide (loaded on first use). */
export async function validateWithBoot(...args: Parameters<typeof Boot.validateWithBoot>): ReturnType<typeof Boot.validateWithBoot> {
  return (await import("./boot")).validateWithBoot(...args);
}

/** Boots an image and keeps the guest running once it works (loaded on first use). */
export async function startGuest(...args: Parameters<typeof Boot.startGuest>): ReturnType<typeof Boot.startGuest> {
  return (await import("./boot")).startGuest(...args);
}

// do-image 0.2 exported the Pulumi resources from the root. They still resolve here, loaded on first use with a
// one-time warning, for one release: import them from "do-image/pulumi".
/** @deprecated import from "do-image/pulumi"; this re-export goes in 0.4. */
export declare const CustomImage: typeof PulumiFace.CustomImage;
export type CustomImage = PulumiFace.CustomImage;
/** @deprecated import from "do-image/pulumi"; this re-export goes in 0.4. */
export declare const ImageDroplet: typeof PulumiFace.ImageDroplet;
export type ImageDroplet = PulumiFace.ImageDroplet;
export type { CustomImageArgs, CustomImageSpacesArgs, ImageDropletArgs } from "./pulumi";

let warned = false;
for (const name of ["CustomImage", "ImageDroplet"] as const) {
  Object.defineProperty(exports, name, {
    enumerable: false,
    get() {
      if (!warned) {
        warned = true;
        process.emitWarning(`importing ${name} from "do-image" is deprecated: import it from "do-image/pulumi"`, "DeprecationWarning");
      }
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return (require("./pulumi") as typeof PulumiFace)[name];
    },
  });
}
