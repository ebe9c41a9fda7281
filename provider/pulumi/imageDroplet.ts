// `ImageDroplet`: a Droplet made from a CustomImage, created only once the image is available in the Droplet's region.
import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import type { CustomImage } from "./customImage";

export interface ImageDropletArgs {
  /** The custom image to boot from. */
  readonly image: CustomImage;
  /** The Droplet's region; it must be one of the image's regions. */
  readonly region: pulumi.Input<string>;
  /** The Droplet size slug, e.g. "s-1vcpu-1gb". */
  readonly size: pulumi.Input<string>;
  /** SSH key ids or fingerprints. Required: Droplets from custom images get no root password, so a key is the only way in. */
  readonly sshKeys: pulumi.Input<pulumi.Input<string>[]>;
  /** The Droplet's name. @default the resource name */
  readonly name?: pulumi.Input<string>;
  /** cloud-init user data. */
  readonly userData?: pulumi.Input<string>;
  /** Tags on the Droplet. */
  readonly tags?: pulumi.Input<pulumi.Input<string>[]>;
  /** The VPC to place the Droplet in. @default the region's default VPC */
  readonly vpcUuid?: pulumi.Input<string>;
  /** Install the metrics agent. @default false */
  readonly monitoring?: pulumi.Input<boolean>;
  /** Enable backups. @default false */
  readonly backups?: pulumi.Input<boolean>;
  /** Install the Droplet agent (for the web console); it needs an image that supports it. @default false */
  readonly dropletAgent?: pulumi.Input<boolean>;
  /** Shut down gracefully before destroying. @default false */
  readonly gracefulShutdown?: pulumi.Input<boolean>;
  /** Grow the disk when resizing. @default true */
  readonly resizeDisk?: pulumi.Input<boolean>;
  /** Block storage volumes to attach. */
  readonly volumeIds?: pulumi.Input<pulumi.Input<string>[]>;
}

export class ImageDroplet extends pulumi.ComponentResource {
  /** The Droplet id. */
  public readonly dropletId: pulumi.Output<string>;
  /** The Droplet's public IPv4 address (custom images get no IPv6). */
  public readonly ipv4Address: pulumi.Output<string>;
  /** The Droplet status, "active" once booted. */
  public readonly status: pulumi.Output<string>;
  /** The id of the image it boots from, once the checks on its region and keys (made at preview) have passed. */
  public readonly imageId: pulumi.Output<string>;
  public readonly droplet: digitalocean.Droplet;

  constructor(name: string, args: ImageDropletArgs, opts?: pulumi.ComponentResourceOptions) {
    super("do-image:index:ImageDroplet", name, {}, opts);
    // The image's asked-for regions are known at preview (its id is not), so a Droplet in another region, or one with no
    // key, fails the preview; the check waits on nothing the preview cannot know.
    const checked = pulumi.all([args.image.regions, args.region, args.sshKeys]).apply(([regions, region, keys]) => {
      if (!regions.includes(region)) {
        throw new pulumi.ResourceError(
          `ImageDroplet ${name}: region "${region}" is not one of the image's regions (${regions.join(", ")}); add it to the CustomImage's regions`,
          this,
        );
      }
      if (keys.length === 0)
        throw new pulumi.ResourceError(
          `ImageDroplet ${name}: sshKeys is empty; a Droplet from a custom image has no root password, so it needs an SSH key`,
          this,
        );
      return true;
    });
    const imageId = pulumi.all([checked, args.image.imageId]).apply(([, id]) => String(id));
    this.imageId = imageId;
    this.droplet = new digitalocean.Droplet(
      name,
      {
        name: args.name ?? name,
        image: imageId,
        region: args.region,
        size: args.size,
        sshKeys: args.sshKeys,
        userData: args.userData,
        tags: args.tags,
        vpcUuid: args.vpcUuid,
        monitoring: args.monitoring,
        backups: args.backups,
        dropletAgent: args.dropletAgent,
        gracefulShutdown: args.gracefulShutdown,
        resizeDisk: args.resizeDisk,
        volumeIds: args.volumeIds,
        // DigitalOcean gives Droplets from custom images no IPv6.
        ipv6: false,
      },
      { parent: this, dependsOn: [args.image] },
    );
    this.dropletId = this.droplet.id;
    this.ipv4Address = this.droplet.ipv4Address;
    this.status = this.droplet.status;
    this.registerOutputs({ dropletId: this.dropletId, ipv4Address: this.ipv4Address, status: this.status, imageId: this.imageId });
  }
}
