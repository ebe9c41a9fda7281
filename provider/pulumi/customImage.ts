// `CustomImage`: a Linux disk image validated at preview, uploaded to Spaces and imported at up, its regions added in place.
import * as pulumi from "@pulumi/pulumi";
import { customImageProvider } from "./provider";

/** Where a local file is uploaded before DigitalOcean imports it. */
export interface CustomImageSpacesArgs {
  /** The Spaces bucket to upload to. */
  readonly bucket: pulumi.Input<string>;
  /** The bucket's region, for its endpoint. @default $SPACES_REGION, else the import region */
  readonly region?: pulumi.Input<string>;
  /** Object keys are <keyPrefix>/<sha256>/<file name>. @default "do-image" */
  readonly keyPrefix?: pulumi.Input<string>;
  /** A private object with a presigned URL, or a public-read one for accounts where presigned imports fail. @default "presigned" */
  readonly access?: pulumi.Input<"presigned" | "public-read">;
  /** Keep the uploaded object after the import; it is deleted with the image. @default false */
  readonly keepObject?: pulumi.Input<boolean>;
  /**
   * How the file is sent: "qcow2", a compressed qcow2 of only its non-zero clusters, produced while it uploads;
   * "gzip", the file gzip-compressed while it uploads (a file already compressed goes as it is); "original", the file
   * as it is; "auto", qcow2 for raw disks and uncompressed containers, else original. Changing it never replaces an
   * image that exists. @default "auto"
   */
  readonly uploadAs?: pulumi.Input<"auto" | "original" | "qcow2" | "gzip">;
}

export interface CustomImageArgs {
  /** A local image file (raw, qcow2, VMDK, VDI or VHDX, optionally gzip or bzip2), relative to the program. Exactly one of file and url. */
  readonly file?: pulumi.Input<string>;
  /** An image already reachable over HTTP(S). Exactly one of file and url. */
  readonly url?: pulumi.Input<string>;
  /** The image's name in DigitalOcean. @default the resource name */
  readonly name?: pulumi.Input<string>;
  /** Regions the image is made available in; order and duplicates do not matter. At least one. */
  readonly regions: pulumi.Input<pulumi.Input<string>[]>;
  /** The region the import happens in. @default the first of regions */
  readonly importRegion?: pulumi.Input<string>;
  /** The distribution shown in the control panel (e.g. "Debian"). @default "Unknown" */
  readonly distribution?: pulumi.Input<string>;
  /** A description of the image. */
  readonly description?: pulumi.Input<string>;
  /** Tags on the image. */
  readonly tags?: pulumi.Input<pulumi.Input<string>[]>;
  /** Where to upload a local file. Required with file. */
  readonly spaces?: pulumi.Input<CustomImageSpacesArgs>;
  /**
   * Validation settings: check ids in `skip` only warn; `boot` boots the image locally in QEMU as a Droplet to decide
   * (auto: when a check that predicts the boot warns or cannot judge; always; never). A boot needs
   * qemu-system-x86_64 and takes 1-3 minutes under TCG, under one under KVM, once per content.
   * @default { skip: [], boot: "never" }
   */
  readonly validation?: pulumi.Input<{ skip?: pulumi.Input<pulumi.Input<string>[]>; boot?: pulumi.Input<"auto" | "always" | "never"> }>;
  /** Minutes to wait for the import and for each region transfer. @default { import: 60, transfer: 60 } */
  readonly timeouts?: pulumi.Input<{ import?: pulumi.Input<number>; transfer?: pulumi.Input<number> }>;
}

export class CustomImage extends pulumi.dynamic.Resource {
  /** The DigitalOcean image id, for Droplets. */
  declare public readonly imageId: pulumi.Output<number>;
  declare public readonly name: pulumi.Output<string>;
  /** "available" once imported. */
  declare public readonly status: pulumi.Output<string>;
  /** Regions the image is in now. */
  declare public readonly actualRegions: pulumi.Output<string[]>;
  /** Regions asked for. */
  declare public readonly regions: pulumi.Output<string[]>;
  declare public readonly sizeGigabytes: pulumi.Output<number | null>;
  declare public readonly minDiskSize: pulumi.Output<number | null>;
  declare public readonly createdAt: pulumi.Output<string>;
  declare public readonly slug: pulumi.Output<string | null>;
  declare public readonly type: pulumi.Output<string>;
  declare public readonly public: pulumi.Output<boolean>;
  declare public readonly distribution: pulumi.Output<string>;
  declare public readonly description: pulumi.Output<string | undefined>;
  declare public readonly tags: pulumi.Output<string[]>;
  /** SHA-256 of the uploaded file. */
  declare public readonly sha256: pulumi.Output<string | undefined>;
  /** Key of the uploaded object in the bucket. */
  declare public readonly objectKey: pulumi.Output<string | undefined>;
  /** Whether the image passed validation, and which checks only warned. */
  declare public readonly validationSummary: pulumi.Output<{ ok: boolean; warnings: string[] } | undefined>;

  constructor(name: string, args: CustomImageArgs, opts?: pulumi.CustomResourceOptions) {
    // The resource's identity: with the content, it lets a retried create adopt the image it already started.
    const owner = `${pulumi.getProject()}/${pulumi.getStack()}/${name}`;
    const outputs = {
      imageId: undefined,
      status: undefined,
      actualRegions: undefined,
      desiredRegions: undefined,
      sizeGigabytes: undefined,
      minDiskSize: undefined,
      createdAt: undefined,
      slug: undefined,
      type: undefined,
      public: undefined,
      sha256: undefined,
      objectKey: undefined,
      bucket: undefined,
      validationSummary: undefined,
    };
    super(customImageProvider, name, { ...outputs, ...args, resourceName: name, owner }, opts, "do-image", "CustomImage");
  }
}
