// ImageDroplet at preview, as `pulumi preview` runs a program: the image's id is not known yet, its regions are, and a
// Droplet that cannot work fails there rather than at up.
import * as pulumi from "@pulumi/pulumi";
import { CustomImage, ImageDroplet } from "../../provider/pulumi";

/** An Output's value or its error, whatever the preview leaves unknown. */
const settle = (o: pulumi.Output<unknown>) => (o as unknown as { promise(withUnknowns?: boolean): Promise<unknown> }).promise(true);

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      // A preview: the dynamic resource's outputs (imageId among them) are unknown; its inputs (regions) are known.
      newResource: (args) => ({ id: undefined, state: args.type.startsWith("pulumi-nodejs:dynamic") ? { regions: args.inputs.regions } : args.inputs }),
      call: (args) => args.inputs,
    },
    "do-image-test",
    "dev",
    true,
  );
});

const image = () => new CustomImage("img", { url: "https://example.com/a.qcow2", regions: ["nyc3", "sfo3"] });

test("a Droplet outside the image's regions fails the preview, naming the region and the image's regions", async () => {
  const d = new ImageDroplet("web", { image: image(), region: "ams3", size: "s-1vcpu-1gb", sshKeys: ["aa:bb"] });
  await expect(settle(d.imageId)).rejects.toThrow(/ImageDroplet web: region "ams3" is not one of the image's regions \(nyc3, sfo3\)/);
});

test("a Droplet with no SSH key fails the preview", async () => {
  const d = new ImageDroplet("web2", { image: image(), region: "sfo3", size: "s-1vcpu-1gb", sshKeys: [] });
  await expect(settle(d.imageId)).rejects.toThrow(/sshKeys is empty; a Droplet from a custom image has no root password/);
});

test("a Droplet in one of the image's regions previews, its image id still unknown", async () => {
  const d = new ImageDroplet("web3", { image: image(), region: "nyc3", size: "s-1vcpu-1gb", sshKeys: ["aa:bb"] });
  await expect(settle(d.imageId)).resolves.toEqual(expect.objectContaining({ __pulumiUnknown: true }));
});
