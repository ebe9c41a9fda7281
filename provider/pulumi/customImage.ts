// `CustomImage`: a Linux disk image validated at preview, uploaded to Spaces and imported at up, its regions added in place.
import * as pulumi from "@pulumi/pulumi";
import type { CustomImageArgs } from "./args.generated";
import { customImageProvider } from "./provider";

// The arguments are generated from schema.json, which documents each one (args.generated.ts, `make generate`).
export type { CustomImageArgs, CustomImageSpacesArgs, CustomImageValidationArgs, CustomImageTimeoutsArgs } from "./args.generated";

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
