// `ImageDroplet`: a Droplet made from a CustomImage, created only once the image is available in the Droplet's region.
import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import type { ImageDropletArgs } from "./args.generated";

// The arguments are generated from schema.json, which documents each one (args.generated.ts, `make generate`).
export type { ImageDropletArgs } from "./args.generated";

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
