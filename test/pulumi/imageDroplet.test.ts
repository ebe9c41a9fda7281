// ImageDroplet at preview, as `pulumi preview` runs a program: the image's id is not known yet, its regions are, and a
// Droplet that cannot work fails the preview rather than the up. Each program runs in its own process, as under the
// Pulumi CLI, where the check's error ends the program.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");

function preview(droplet: string): { status: number | null; output: string } {
  const program = `
    const pulumi = require("@pulumi/pulumi");
    pulumi.runtime.setMocks({
      // A preview: the dynamic resource's outputs (imageId among them) are unknown; its inputs (regions) are known.
      newResource: (a) => ({ id: undefined, state: a.type.startsWith("pulumi-nodejs:dynamic") ? { regions: a.inputs.regions } : a.inputs }),
      call: (a) => a.inputs,
    }, "do-image-test", "dev", true);
    const { CustomImage, ImageDroplet } = require(${JSON.stringify(join(ROOT, "dist", "provider", "pulumi", "index.js"))});
    const image = new CustomImage("img", { url: "https://example.com/a.qcow2", regions: ["nyc3", "sfo3"] });
    const d = new ImageDroplet("web", { image, size: "s-1vcpu-1gb", ${droplet} });
    d.imageId.apply((id) => console.log("imageId", pulumi.Output.isInstance(id) ? "output" : JSON.stringify(id ?? null)));
  `;
  const r = spawnSync(process.execPath, ["-e", program], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, output: r.stdout + r.stderr };
}

test("a Droplet outside the image's regions fails the preview, naming the region and the image's regions", () => {
  const r = preview(`region: "ams3", sshKeys: ["aa:bb"]`);
  expect(r.status).not.toBe(0);
  expect(r.output).toMatch(/ImageDroplet web: region "ams3" is not one of the image's regions \(nyc3, sfo3\)/);
});

test("a Droplet with no SSH key fails the preview", () => {
  const r = preview(`region: "sfo3", sshKeys: []`);
  expect(r.status).not.toBe(0);
  expect(r.output).toMatch(/ImageDroplet web: sshKeys is empty; a Droplet from a custom image has no root password/);
});

test("a Droplet in one of the image's regions previews cleanly", () => {
  const r = preview(`region: "nyc3", sshKeys: ["aa:bb"]`);
  expect(r.status).toBe(0);
  expect(r.output).not.toMatch(/Error/);
});
