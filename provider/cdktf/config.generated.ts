// Generated from schema.json by tools/schema-types/generate.ts (`make generate`): edit the schema, not this file.
import type { CustomImage } from "./index";

/**
 * A Droplet from a CustomImage, created after the image; synth fails when its region is not among the image's regions or sshKeys is empty. No IPv6 (custom images get none).
 */
export interface ImageDropletConfig {
  /**
   * The custom image to boot from.
   */
  readonly image: CustomImage;
  /**
   * The Droplet's region; it must be one of the image's regions.
   */
  readonly region: string;
  /**
   * The Droplet size slug, e.g. "s-1vcpu-1gb".
   */
  readonly size: string;
  /**
   * SSH key ids or fingerprints. Required: Droplets from custom images get no root password, so a key is the only way in.
   */
  readonly sshKeys: string[];
  /**
   * The Droplet's name. Defaults to the resource name.
   */
  readonly name?: string;
  /**
   * cloud-init user data.
   */
  readonly userData?: string;
  /**
   * Tags on the Droplet.
   */
  readonly tags?: string[];
  /**
   * The VPC to place the Droplet in. Defaults to the region's default VPC.
   */
  readonly vpcUuid?: string;
  /**
   * Install the metrics agent. Defaults to false.
   */
  readonly monitoring?: boolean;
  /**
   * Enable backups. Defaults to false.
   */
  readonly backups?: boolean;
  /**
   * Install the Droplet agent (for the web console); it needs an image that supports it. Defaults to false.
   */
  readonly dropletAgent?: boolean;
  /**
   * Shut down gracefully before destroying. Defaults to false.
   */
  readonly gracefulShutdown?: boolean;
  /**
   * Grow the disk when resizing. Defaults to true.
   */
  readonly resizeDisk?: boolean;
  /**
   * Block storage volumes to attach.
   */
  readonly volumeIds?: string[];
}
