// The local S3 server's link speed (--s3-bandwidth): uploads through it take at least size / rate; rates parse.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { uploadObject } from "../../provider/spaces";
import { startS3Server } from "../../tools/local-do/emulator";
import { parseRate } from "../../tools/local-do/emulator/throttle";

test.each([
  ["50MiB/s", 50 * 2 ** 20],
  ["50MB/s", 50e6],
  ["400Mbit/s", 50e6],
  ["1048576", 2 ** 20],
  ["2 GiB", 2 * 2 ** 30],
])("%s is %d bytes a second", (text, rate) => expect(parseRate(text)).toBe(rate));

test("a rate that is not one says how to write it", () => {
  expect(() => parseRate("fast")).toThrow(/write it as 50MiB\/s/);
  expect(() => parseRate("0MB/s")).toThrow(/not a rate/);
});

test("a 6 MiB upload through an 8 MiB/s link takes at least 0.7 s, and arrives whole", async () => {
  const s3 = await startS3Server({ buckets: ["b"], bandwidth: 8 * 2 ** 20 });
  try {
    const file = join(mkdtempSync(join(tmpdir(), "throttle-")), "data.bin");
    writeFileSync(file, randomBytes(6 * 2 ** 20));
    const settings = { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, bucket: "b", key: "k", sha256: "0".repeat(64) };
    const t0 = Date.now();
    const r = await uploadObject(file, settings);
    // The bucket allows a 50 ms burst; the rest of the 6 MiB goes at 8 MiB/s: at least 0.7 s, however fast loopback is.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
    expect(r).toMatchObject({ size: 6 * 2 ** 20, bytesUploaded: 6 * 2 ** 20 });
    expect((await s3.contents("b")).objects).toEqual(["k"]);
  } finally {
    await s3.close();
  }
});
