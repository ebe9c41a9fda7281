// deleteImage with the object it was uploaded as: keys that cannot reach the bucket stop the delete before the image
// is gone, so a failure leaves both, not an image removed and its object orphaned.
import { join } from "node:path";
import { scaledClock } from "../../tools/local-do/clock";
import { startLocalDigitalOcean, type LocalDigitalOcean } from "../../tools/local-do/emulator";
import { DigitalOceanClient } from "../../provider/digitalocean";
import { deleteImage, publishImage } from "../../provider/publish";

const SAMPLE = join(__dirname, "..", "..", "examples", "images", "debian-12-sample.qcow2");
let local: LocalDigitalOcean;
beforeAll(async () => {
  local = await startLocalDigitalOcean({ api: { timings: { importMs: 20, transferMs: 100, bootMs: 20 } }, s3: { buckets: ["images"] } });
});
afterAll(() => local?.close());

/** The sample published with its object kept, and a client and keys for the local DigitalOcean. */
async function published(name: string) {
  const api = { endpoint: local.api.url, token: local.api.token, clock: scaledClock(0.001) };
  const keys = { endpoint: local.s3.url, accessKeyId: local.s3.accessKeyId, secretAccessKey: local.s3.secretAccessKey };
  const r = await publishImage({
    api,
    file: SAMPLE,
    name,
    regions: ["nyc3"],
    spaces: { bucket: "images", keepObject: true, ...keys },
    validation: { skip: ["boot-loader", "kernel"] },
  });
  return { image: r.image, object: { ...r.object!, ...keys }, client: new DigitalOceanClient(api) };
}

test("a wrong Spaces secret stops the delete before the image is removed; the right one removes both", async () => {
  const { image, object, client } = await published("to-delete");
  const deletes = () => local.api.state.log!.filter((l) => l.startsWith("DELETE ")).length;
  const before = deletes();

  await expect(deleteImage(client, image.id, { ...object, secretAccessKey: "not-the-secret" })).rejects.toMatchObject({
    code: "spaces-SignatureDoesNotMatch",
  });
  expect(deletes()).toBe(before);
  expect((await client.images.get(image.id)).status).toBe("available");
  expect((await local.s3.contents("images")).objects).toContain(object.key);

  expect(await deleteImage(client, image.id, object)).toEqual({ image: "deleted", objectDeleted: true });
  expect((await local.s3.contents("images")).objects).not.toContain(object.key);
});

test("a bucket deleted since holds no object: the image is still removed", async () => {
  const { image, object, client } = await published("bucket-gone");
  expect(await deleteImage(client, image.id, { ...object, bucket: "no-such-bucket" })).toEqual({ image: "deleted", objectDeleted: false });
  await expect(client.images.get(image.id)).rejects.toMatchObject({ notFound: true });
});
