// The provider the SDK serializes into state: small, stable, and free of any secret.
import { CustomImage } from "../../provider/pulumi";
import { serializeWithMocks } from "../../tools/local-do/pulumi-host";

test("__provider is a few forwarding lines: no token, key, client or Map captured", async () => {
  process.env.DIGITALOCEAN_TOKEN = "dop_v1_secret_token_for_serialization_test";
  process.env.SPACES_SECRET_ACCESS_KEY = "spaces-secret-for-serialization-test";
  const inputs = await serializeWithMocks(() => [
    new CustomImage("app", { file: "examples/images/debian-12-sample.qcow2", regions: ["nyc3", "sfo3"], spaces: { bucket: "images" } }),
  ]);
  const app = inputs.get("app")!;
  const text = app.__provider as string;
  expect(typeof text).toBe("string");
  expect(text).toContain('require("do-image/pulumi-engine")');
  expect(text.length).toBeLessThan(4000);
  for (const secret of ["dop_v1_secret_token_for_serialization_test", "spaces-secret-for-serialization-test"]) {
    expect(text).not.toContain(secret);
    expect(JSON.stringify(app)).not.toContain(secret);
  }
  expect(text).not.toMatch(/new Map|EngineClient|S3Client|Agent/);
  expect(app).toMatchObject({ resourceName: "app", regions: ["nyc3", "sfo3"], owner: expect.stringMatching(/\/app$/) });
});

test("the serialized text does not depend on the resource or its inputs", async () => {
  const inputs = await serializeWithMocks(() => [
    new CustomImage("one", { url: "https://example.com/a.qcow2", regions: ["nyc3"] }),
    new CustomImage("two", { file: "x.qcow2", regions: ["ams3"], spaces: { bucket: "b" }, tags: ["t"] }),
  ]);
  expect(inputs.get("one")!.__provider).toBe(inputs.get("two")!.__provider);
});
