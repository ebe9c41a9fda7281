// The local S3 server's link speed (--s3-bandwidth): a token bucket on an injected clock, an upload charged its pauses; rates parse.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { uploadObject } from "../../provider/spaces";
import { startS3Server } from "../../tools/local-do/emulator";
import { parseRate, TokenBucket } from "../../tools/local-do/emulator/throttle";

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

test("the token bucket, on an injected clock: a burst of 50 ms, then each byte waits its share of the rate", () => {
  let now = 0;
  const bucket = new TokenBucket(8 * 2 ** 20, () => now); // 8 MiB/s: a 409.6 KiB burst
  expect(bucket.take(400 * 1024)).toBe(0); // within the burst
  expect(bucket.take(1024 * 1024)).toBe(124); // 1 MiB past the 9.6 KiB left: 1014.4 KiB at 8 MiB/s, rounded up
  now += 124;
  expect(bucket.take(0)).toBe(0); // the debt is paid by the pause
  now += 10_000; // an idle link refills only to the burst
  expect(bucket.take(409.6 * 1024)).toBe(0);
  expect(bucket.take(8 * 2 ** 20)).toBe(1000);
  expect(bucket.owed).toBe(1124);
});

test("a 6 MiB upload through an 8 MiB/s link pauses 0.7 s of the link's clock (virtual here), and arrives whole", async () => {
  // Virtual time passes only while the link pauses the client, so the clock's reading is the sum of the pauses.
  let now = 0;
  const clock = { now: () => now, sleep: (ms: number) => new Promise<void>((resolve) => setImmediate(() => ((now += ms), resolve()))) };
  const s3 = await startS3Server({ buckets: ["b"], bandwidth: 8 * 2 ** 20, clock });
  try {
    const file = join(mkdtempSync(join(tmpdir(), "throttle-")), "data.bin");
    writeFileSync(file, randomBytes(6 * 2 ** 20));
    const settings = { endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, bucket: "b", key: "k", sha256: "0".repeat(64) };
    const r = await uploadObject(file, settings);
    expect(r).toMatchObject({ size: 6 * 2 ** 20, bytesUploaded: 6 * 2 ** 20 });
    expect((await s3.contents("b")).objects).toEqual(["k"]);
    // All of it went through the link; all but the 0.4 MiB burst paid at 8 MiB/s: 5.6 MiB, 700 ms (plus the headers).
    expect(s3.link!.bytes).toBeGreaterThanOrEqual(6 * 2 ** 20);
    expect(now).toBeGreaterThanOrEqual(700);
    expect(now).toBeLessThan(720);
    expect(s3.link!.owed).toBe(now);
  } finally {
    await s3.close();
  }
});
