// Generated from schema.json by tools/schema-types/generate.ts (`make generate`): edit the schema, not this file.
import type * as pulumi from "@pulumi/pulumi";
import type { CustomImage } from "./customImage";

/**
 * Where a local file is uploaded before DigitalOcean imports it.
 */
export interface CustomImageSpacesArgs {
  /**
   * The Spaces bucket to upload to.
   */
  readonly bucket: pulumi.Input<string>;
  /**
   * The bucket's region, for its endpoint. Defaults to $SPACES_REGION, else the import region.
   */
  readonly region?: pulumi.Input<string>;
  /**
   * Object keys are <keyPrefix>/<sha256>/<file name>. Defaults to "do-image".
   */
  readonly keyPrefix?: pulumi.Input<string>;
  /**
   * "presigned" (a private object with a presigned URL) or "public-read" (a public object, for accounts where presigned imports fail). Defaults to "presigned".
   */
  readonly access?: pulumi.Input<"presigned" | "public-read">;
  /**
   * Keep the uploaded object after the import; it is then deleted with the image. Defaults to false.
   */
  readonly keepObject?: pulumi.Input<boolean>;
  /**
   * How the file is sent: "qcow2" (a compressed qcow2 of its non-zero clusters, produced while it uploads), "gzip" (the file gzip-compressed while it uploads; a file already compressed goes as it is), "original" (the file as it is) or "auto" (qcow2 for raw disks and uncompressed containers, else original). Changing it never replaces an existing image. Defaults to "auto".
   */
  readonly uploadAs?: pulumi.Input<"auto" | "original" | "qcow2" | "gzip">;
}

/**
 * Validation settings.
 */
export interface CustomImageValidationArgs {
  /**
   * Check ids whose failures only warn: format, compression, size, partition-table, filesystem, cloud-init, cloud-init-datasources, sshd, boot-loader, kernel, fstab, network.
   */
  readonly skip?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Boot the image locally in QEMU as a Droplet and let the boot decide: auto when a check that predicts the boot warns or cannot judge, always, or never. Needs qemu-system-x86_64; takes 1-3 minutes under TCG, under a minute under KVM; cached by content like the rest of validation.
   * @default "never"
   */
  readonly boot?: pulumi.Input<"auto" | "always" | "never">;
}

/**
 * Minutes to wait.
 */
export interface CustomImageTimeoutsArgs {
  /**
   * Minutes to wait for the import. Defaults to 60.
   */
  readonly import?: pulumi.Input<number>;
  /**
   * Minutes to wait for each region transfer. Defaults to 60.
   */
  readonly transfer?: pulumi.Input<number>;
}

/**
 * A Linux disk image validated at preview, uploaded to Spaces and imported at up, its regions added in place. Implemented as a dynamic resource (this is the type token it has in state); credentials come from digitalocean:token, digitalocean:apiEndpoint, digitalocean:spacesAccessId, digitalocean:spacesSecretKey and digitalocean:spacesEndpoint, or the DIGITALOCEAN_* and SPACES_* environment variables.
 */
export interface CustomImageArgs {
  /**
   * A local image file (raw, qcow2, VMDK, VDI or VHDX, optionally gzip or bzip2), relative to the program. Exactly one of file and url.
   */
  readonly file?: pulumi.Input<string>;
  /**
   * An image already reachable over HTTP(S). Exactly one of file and url.
   */
  readonly url?: pulumi.Input<string>;
  /**
   * The image's name in DigitalOcean. Defaults to the resource name.
   */
  readonly name?: pulumi.Input<string>;
  /**
   * Regions the image is made available in; order and duplicates do not matter. At least one.
   */
  readonly regions: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * The region the import happens in. Defaults to the first of regions.
   */
  readonly importRegion?: pulumi.Input<string>;
  /**
   * The distribution shown in the control panel (e.g. "Debian"). Defaults to "Unknown".
   */
  readonly distribution?: pulumi.Input<string>;
  /**
   * A description of the image.
   */
  readonly description?: pulumi.Input<string>;
  /**
   * Tags on the image.
   */
  readonly tags?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Where to upload a local file. Required with file.
   */
  readonly spaces?: pulumi.Input<CustomImageSpacesArgs>;
  /**
   * Validation settings: check ids in skip only warn; boot boots the image locally in QEMU as a Droplet to decide. Defaults to { skip: [], boot: "never" }.
   */
  readonly validation?: pulumi.Input<CustomImageValidationArgs>;
  /**
   * Minutes to wait for the import and for each region transfer. Defaults to 60 each.
   */
  readonly timeouts?: pulumi.Input<CustomImageTimeoutsArgs>;
}

/**
 * A Droplet made from a CustomImage, created once the image is available in the Droplet's region; fails at preview when that region is not among the image's regions. No IPv6 (custom images get none); an SSH key is required.
 */
export interface ImageDropletArgs {
  /**
   * The custom image to boot from.
   */
  readonly image: CustomImage;
  /**
   * The Droplet's region; it must be one of the image's regions.
   */
  readonly region: pulumi.Input<string>;
  /**
   * The Droplet size slug, e.g. "s-1vcpu-1gb".
   */
  readonly size: pulumi.Input<string>;
  /**
   * SSH key ids or fingerprints. Required: Droplets from custom images get no root password, so a key is the only way in.
   */
  readonly sshKeys: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * The Droplet's name. Defaults to the resource name.
   */
  readonly name?: pulumi.Input<string>;
  /**
   * cloud-init user data.
   */
  readonly userData?: pulumi.Input<string>;
  /**
   * Tags on the Droplet.
   */
  readonly tags?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * The VPC to place the Droplet in. Defaults to the region's default VPC.
   */
  readonly vpcUuid?: pulumi.Input<string>;
  /**
   * Install the metrics agent. Defaults to false.
   */
  readonly monitoring?: pulumi.Input<boolean>;
  /**
   * Enable backups. Defaults to false.
   */
  readonly backups?: pulumi.Input<boolean>;
  /**
   * Install the Droplet agent (for the web console); it needs an image that supports it. Defaults to false.
   */
  readonly dropletAgent?: pulumi.Input<boolean>;
  /**
   * Shut down gracefully before destroying. Defaults to false.
   */
  readonly gracefulShutdown?: pulumi.Input<boolean>;
  /**
   * Grow the disk when resizing. Defaults to true.
   */
  readonly resizeDisk?: pulumi.Input<boolean>;
  /**
   * Block storage volumes to attach.
   */
  readonly volumeIds?: pulumi.Input<pulumi.Input<string>[]>;
}
