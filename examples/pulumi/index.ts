// The example stack: one custom image in two regions and a Droplet from it in each, in the right order.
import * as pulumi from "@pulumi/pulumi";
import { CustomImage, ImageDroplet } from "do-image/pulumi";

const config = new pulumi.Config();
const regions = config.getObject<string[]>("regions") ?? ["nyc3", "sfo3"];
const file = config.get("imageFile") ?? "examples/images/debian-12-sample.qcow2";
// The bundled sample images are skeletons (cloud-init and sshd, but no kernel and no boot loader), so their boot checks
// can only fail: they are accepted for the samples alone. A real image gets every check unless skipChecks says otherwise.
const skipChecks = config.getObject<string[]>("skipChecks") ?? (/debian-12-sample\./.test(file) ? ["boot-loader", "kernel"] : []);

export const image = new CustomImage("app-image", {
  file,
  validation: { skip: skipChecks },
  regions,
  distribution: "Debian",
  description: "do-image example: Debian 12 with cloud-init and sshd",
  tags: ["do-image-example"],
  spaces: { bucket: config.require("bucket"), region: config.get("spacesRegion") ?? regions[0] },
});

const droplets = regions.map(
  (region, i) =>
    new ImageDroplet(`app-${i + 1}`, {
      image,
      region,
      size: config.get("size") ?? "s-1vcpu-1gb",
      sshKeys: config.requireObject<string[]>("sshKeys"),
      tags: ["do-image-example"],
    }),
);

export const imageId = image.imageId;
export const imageRegions = image.actualRegions;
export const addresses = droplets.map((d) => d.ipv4Address);
