// The CDKTF constructs: what they synthesize, and `synth` failing on an image DigitalOcean would reject.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { CustomImage as DoCustomImage } from "@cdktf/provider-digitalocean/lib/custom-image";
import { Droplet } from "@cdktf/provider-digitalocean/lib/droplet";
import { DigitaloceanProvider } from "@cdktf/provider-digitalocean/lib/provider";
import { SpacesBucketObject } from "@cdktf/provider-digitalocean/lib/spaces-bucket-object";
import { App, Testing, TerraformStack } from "cdktf";
import { CDKTF_UPLOAD_FORMATS, CustomImage, ImageDroplet } from "../../provider/cdktf";
import { UPLOAD_FORMATS } from "../../provider/publish/inputs";
import { ImageStack } from "../../examples/cdktf/main";

Testing.setupJest();
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    interface Matchers<R> {
      toHaveResourceWithProperties(resource: { tfResourceType: string }, properties: Record<string, unknown>): R;
    }
  }
}
const ROOT = join(__dirname, "..", "..");
const SAMPLE = join(ROOT, "examples", "images", "debian-12-sample.qcow2");

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "provider", "cli", "main.js"))) throw new Error("dist/ is missing: run 'make build' (make test does it first)");
  process.env.DO_IMAGE_CACHE = mkdtempSync(join(tmpdir(), "cdktf-cache-"));
});

test("the example synthesizes a content-addressed upload, the import and a Droplet per region", () => {
  // Beside the folder cdktf synth uses for the example (not in it: the synth test removes that), so the relative paths
  // are the ones a user gets.
  const app = Testing.app({ outdir: join(ROOT, "examples", "cdktf", "cdktf.test.out") });
  const stack = new ImageStack(app, "stack", SAMPLE);
  const synthesized = Testing.synth(stack);
  const image = stack.node.findChild("app-image") as CustomImage;
  // Terraform runs in the stack's output folder: the file is named relative to it.
  const source = relative(resolve(app.outdir, "stacks", "stack"), SAMPLE);
  expect(source).toBe("../../../../images/debian-12-sample.qcow2");
  expect(synthesized).toHaveResourceWithProperties(SpacesBucketObject, {
    bucket: "my-images",
    region: "nyc3",
    key: image.objectKey,
    acl: "public-read",
    source,
    etag: `\${filemd5("${source}")}`,
  });
  expect(image.objectKey).toMatch(/^do-image\/[0-9a-f]{64}\/debian-12-sample\.qcow2$/);
  expect(synthesized).toHaveResourceWithProperties(DoCustomImage, {
    name: "app-image",
    regions: ["nyc3", "sfo3"],
    url: `https://my-images.nyc3.digitaloceanspaces.com/${image.objectKey}`,
    distribution: "Debian",
  });
  expect(synthesized).toHaveResourceWithProperties(Droplet, { name: "app-1", region: "nyc3", ipv6: false });
  // Each Droplet boots from the image's id and is created after it.
  for (const d of Object.values(JSON.parse(synthesized).resource.digitalocean_droplet) as { image: string; depends_on: string[] }[]) {
    expect(d.image).toMatch(/^\$\{digitalocean_custom_image\.app-image_[0-9A-F]+\.id\}$/);
    expect(d.depends_on).toEqual([expect.stringMatching(/^digitalocean_custom_image\.app-image_/)]);
  }
  expect(synthesized).toHaveResourceWithProperties(Droplet, { name: "app-2", region: "sfo3" });
  expect(synthesized).not.toContain(ROOT);
  expect(synthesized).toMatchSnapshot();
});

test("synth fails listing the image's failing checks; warnings become annotations", () => {
  const blank = join(mkdtempSync(join(tmpdir(), "cdktf-")), "blank.raw");
  writeFileSync(blank, Buffer.alloc(4 << 20));
  const app = Testing.app();
  const stack = new TerraformStack(app, "bad");
  new DigitaloceanProvider(stack, "do", {});
  new CustomImage(stack, "img", { file: blank, regions: ["nyc3"], bucket: "bkt" });
  expect(() => Testing.fullSynth(stack)).toThrow(/partition-table: no partition table.*Fix: pass a bootable disk image/s);
  const skipped = new TerraformStack(Testing.app(), "skipped");
  new DigitaloceanProvider(skipped, "do", {});
  new CustomImage(skipped, "img", { file: blank, regions: ["nyc3"], bucket: "bkt", validation: { skip: ["partition-table", "filesystem", "boot-loader"] } });
  // The failures are accepted, but with no root filesystem nothing says the Droplet would run cloud-init or sshd.
  expect(() => Testing.fullSynth(skipped)).toThrow(/sshd: could not be judged/);
  const accepted = new TerraformStack(Testing.app(), "accepted");
  new DigitaloceanProvider(accepted, "do", {});
  const skip = ["partition-table", "filesystem", "boot-loader", "cloud-init", "cloud-init-datasources", "sshd"];
  new CustomImage(accepted, "img", { file: blank, regions: ["nyc3"], bucket: "bkt", validation: { skip } });
  expect(Testing.fullSynth(accepted)).toBeTruthy();
});

test("a Droplet outside the image's regions fails synth", () => {
  const stack = new TerraformStack(Testing.app(), "region");
  new DigitaloceanProvider(stack, "do", {});
  const image = new CustomImage(stack, "img", { file: SAMPLE, regions: ["nyc3"], bucket: "bkt", validation: { enabled: false } });
  new ImageDroplet(stack, "web", { image, region: "ams3", size: "s-1vcpu-1gb", sshKeys: ["k"] });
  expect(() => Testing.fullSynth(stack)).toThrow(/region "ams3" is not one of the image's regions \(nyc3\)/);
});

test("an uploadAs a construct cannot make is refused naming the field, before any conversion (a JavaScript program has no type check)", () => {
  expect([...CDKTF_UPLOAD_FORMATS]).toEqual(UPLOAD_FORMATS.filter((f) => f !== "gzip"));
  const stack = new TerraformStack(Testing.app(), "upload-as");
  for (const uploadAs of ["gzip", "qcow"])
    expect(() => new CustomImage(stack, `img-${uploadAs}`, { file: SAMPLE, regions: ["nyc3"], bucket: "bkt", uploadAs: uploadAs as "qcow2" })).toThrow(
      new RegExp(`CustomImage img-${uploadAs}: uploadAs: "${uploadAs}" is not one of auto, original, qcow2`),
    );
});

test("app.synth() writes the Terraform JSON offline, as `cdktf synth` does", () => {
  const outdir = mkdtempSync(join(tmpdir(), "cdktf-out-"));
  const app = new App({ outdir });
  new ImageStack(app, "do-image-example", SAMPLE);
  app.synth();
  const tf = JSON.parse(readFileSync(join(outdir, "stacks", "do-image-example", "cdk.tf.json"), "utf8"));
  expect(Object.keys(tf.resource).sort()).toEqual(["digitalocean_custom_image", "digitalocean_droplet", "digitalocean_spaces_bucket_object"]);
});

test("uploadAs: a raw disk is converted at synth into the compressed qcow2 push sends, added as an asset; auto leaves a compressed qcow2 as it is", () => {
  const raw = join(mkdtempSync(join(tmpdir(), "cdktf-raw-")), "disk.raw");
  execFileSync("qemu-img", ["convert", "-O", "raw", SAMPLE, raw]);
  const outdir = mkdtempSync(join(tmpdir(), "cdktf-out-"));
  const app = new App({ outdir });
  const stack = new TerraformStack(app, "converted");
  new DigitaloceanProvider(stack, "do", {});
  const image = new CustomImage(stack, "img", {
    file: raw,
    regions: ["nyc3"],
    bucket: "bkt",
    uploadAs: "auto",
    validation: { skip: ["boot-loader", "kernel"] },
  });
  const asIs = new CustomImage(stack, "sample", { file: SAMPLE, regions: ["nyc3"], bucket: "bkt", uploadAs: "auto", validation: { enabled: false } });
  app.synth();
  expect(image.uploadedAs).toBe("qcow2");
  expect(image.objectKey).toMatch(/^do-image\/[0-9a-f]{64}\/disk\.raw\.qcow2-v2\.qcow2$/);
  expect(asIs).toMatchObject({ uploadedAs: "original", objectKey: expect.stringMatching(/\/debian-12-sample\.qcow2$/) });
  const stackDir = join(outdir, "stacks", "converted");
  const tf = JSON.parse(readFileSync(join(stackDir, "cdk.tf.json"), "utf8"));
  const objects = Object.values(tf.resource.digitalocean_spaces_bucket_object) as { key: string; source: string; etag: string }[];
  const object = objects.find((o) => o.key === image.objectKey)!;
  // Terraform finds the converted file inside the stack's output, named relative to where it runs.
  expect(object.source).toMatch(/^assets\/.+\.qcow2$/);
  expect(object.etag).toBe(`\${filemd5("${object.source}")}`);
  const converted = join(stackDir, object.source);
  expect(execFileSync("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", raw, converted], { encoding: "utf8" })).toMatch(/identical/);
  expect(statSync(converted).size).toBeLessThan(statSync(raw).size / 8);
});
