// The example stack for CDKTF: one custom image in two regions and a Droplet in each; `cdktf synth` validates the image.
import { DigitaloceanProvider } from "@cdktf/provider-digitalocean/lib/provider";
import { App, LocalBackend, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { CustomImage, ImageDroplet } from "do-image/cdktf";

export class ImageStack extends TerraformStack {
  // cdktf synth runs this in examples/cdktf (where cdktf.json is): the default image is the bundled sample beside it.
  constructor(scope: Construct, id: string, file = process.env.IMAGE_FILE ?? "../images/debian-12-sample.qcow2") {
    super(scope, id);
    new DigitaloceanProvider(this, "digitalocean", {});
    // State beside cdktf.json (Terraform runs in cdktf.out/stacks/<stack>), named relatively: no machine path in the output.
    new LocalBackend(this, { path: `../../../terraform.${id}.tfstate` });
    const regions = ["nyc3", "sfo3"];
    // The bundled sample is a skeleton (no kernel, no boot loader): its boot checks are accepted for it alone.
    const skip = process.env.SKIP_CHECKS?.split(",") ?? (/debian-12-sample\./.test(file) ? ["boot-loader", "kernel"] : []);
    const image = new CustomImage(this, "app-image", {
      file,
      validation: { skip },
      regions,
      bucket: process.env.SPACES_BUCKET ?? "my-images",
      distribution: "Debian",
      tags: ["do-image-example"],
    });
    regions.forEach((region, i) => {
      const d = new ImageDroplet(this, `app-${i + 1}`, {
        image,
        region,
        size: "s-1vcpu-1gb",
        sshKeys: [process.env.SSH_KEY ?? "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa"],
      });
      new TerraformOutput(this, `address-${i + 1}`, { value: d.droplet.ipv4Address });
    });
  }
}

if (require.main === module) {
  const app = new App();
  new ImageStack(app, "do-image-example");
  app.synth();
}
