// Uploads against a real S3 server: byte-exact round trips, resume after an interruption, no second upload, clear key errors.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorJson } from "../../provider/errors";
import { ImageError } from "../../provider/image";
import { objectKey } from "../../provider/publish";
import { deleteImageObject, sha256File, SpacesError, uploadObject, uploadStream, type StreamSource, type UploadOptions } from "../../provider/spaces";
import { startS3Server, type S3Server } from "../../tools/local-do/emulator";

const MiB = 1024 * 1024;
let s3: S3Server;
let dir: string;
let opts: Omit<UploadOptions, "key" | "sha256">;

/** An upload as the publish pipeline makes it: hashed, under its content-addressed key. */
async function uploadImage(file: string, o: Omit<UploadOptions, "key" | "sha256">) {
  const { sha256 } = await sha256File(file);
  return uploadObject(file, { ...o, sha256, key: objectKey(sha256, file) });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "do-image-up-"));
  process.env.DO_IMAGE_CACHE = join(dir, "cache");
});
beforeEach(async () => {
  s3 = await startS3Server({ buckets: ["images"] });
  opts = { bucket: "images", endpoint: s3.url, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, partSize: 5 * MiB, concurrency: 2 };
});
afterEach(() => s3.close());

function randomFile(name: string, size: number): { path: string; sha256: string } {
  const data = randomBytes(size);
  const path = join(dir, name);
  writeFileSync(path, data);
  return { path, sha256: createHash("sha256").update(data).digest("hex") };
}

async function fetchSha(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return createHash("sha256")
    .update(Buffer.from(await res.arrayBuffer()))
    .digest("hex");
}

test("multipart round trip: a presigned GET returns exactly the file, under a content-addressed key", async () => {
  const f = randomFile("disk.qcow2", 23 * MiB + 123);
  const r = await uploadImage(f.path, opts);
  expect(r).toMatchObject({ key: `do-image/${f.sha256}/disk.qcow2`, sha256: f.sha256, reused: false, partsUploaded: 5, partsReused: 0 });
  expect(r.url).toMatch(/X-Amz-Signature=/);
  expect(await fetchSha(r.url)).toBe(f.sha256);
});

test("a second upload of the same file sends nothing", async () => {
  const f = randomFile("again.img", 7 * MiB);
  await uploadImage(f.path, opts);
  const second = await uploadImage(f.path, opts);
  expect(second).toMatchObject({ reused: true, partsUploaded: 0, bytesUploaded: 0 });
  expect(await fetchSha(second.url)).toBe(f.sha256);
});

test("an interrupted upload resumes: stored parts are skipped, only the missing ones are sent", async () => {
  const f = randomFile("resume.raw", 30 * MiB);
  const stop = new AbortController();
  // Stopped as the third part arrives (progress reports are throttled, so a fast machine could finish before one came).
  s3.faults.onPut = (n) => {
    if (n === 3) stop.abort();
  };
  const first = await uploadImage(f.path, { ...opts, concurrency: 1, signal: stop.signal }).catch((e: unknown) => e);
  delete s3.faults.onPut;
  expect(first).toBeInstanceOf(SpacesError);
  expect((first as SpacesError).message).toMatch(/interrupted after 2 of 6 parts$/);
  expect((first as SpacesError).fix).toMatch(/run the same command again/);
  expect((await s3.contents("images")).uploads).toHaveLength(1);
  const resumed = await uploadImage(f.path, opts);
  expect(resumed).toMatchObject({ partsReused: 2, partsUploaded: 4, bytesUploaded: 20 * MiB });
  expect(await fetchSha(resumed.url)).toBe(f.sha256);
  expect((await s3.contents("images")).uploads).toEqual([]);
});

test("wrong keys fail with the reason and the fix, never the secret", async () => {
  const f = randomFile("keys.img", 1 * MiB);
  const badId = (await uploadImage(f.path, { ...opts, accessKeyId: "NOSUCHKEY123" }).catch((e: unknown) => e)) as SpacesError;
  expect(badId).toMatchObject({ code: "spaces-InvalidAccessKeyId", exitCode: 1 });
  expect(badId.message).toMatch(/access key NOSU… is not known/);
  expect(badId.fix).toMatch(/SPACES_ACCESS_KEY_ID/);
  const badSecret = (await uploadImage(f.path, { ...opts, secretAccessKey: "not-the-secret-at-all" }).catch((e: unknown) => e)) as SpacesError;
  expect(badSecret).toMatchObject({ code: "spaces-SignatureDoesNotMatch", exitCode: 1 });
  expect(`${badSecret.message} ${JSON.stringify(badSecret)}`).not.toContain("not-the-secret-at-all");
  expect(`${badSecret.message}`).not.toContain(s3.secretAccessKey);
});

test("public-read gives a plain URL; deleting removes the object", async () => {
  const f = randomFile("public.img", 2 * MiB);
  const r = await uploadImage(f.path, { ...opts, access: "public-read" });
  expect(r.url).toBe(`${s3.url}/images/${r.key}`);
  await deleteImageObject({ ...opts, key: r.key });
  expect((await s3.contents("images")).objects).toEqual([]);
  await deleteImageObject({ ...opts, key: r.key }); // already gone: not an error
});

test("the hash is cached per file identity and recomputed when the file changes", async () => {
  const f = randomFile("cached.img", 3 * MiB);
  expect(await sha256File(f.path)).toMatchObject({ sha256: f.sha256, cached: false });
  expect(await sha256File(f.path)).toMatchObject({ sha256: f.sha256, cached: true });
  utimesSync(f.path, new Date(), new Date(Date.now() + 5000));
  expect(await sha256File(f.path)).toMatchObject({ cached: false });
});

test("an upload refused after some parts were stored is aborted: no open multipart upload is left to cost money", async () => {
  const f = randomFile("revoked.raw", 23 * MiB);
  s3.faults.failPutsAfter = { puts: 2, code: "AccessDenied" };
  const err = (await uploadImage(f.path, { ...opts, concurrency: 1 }).catch((e: unknown) => e)) as SpacesError;
  expect(err).toMatchObject({ code: "spaces-AccessDenied", exitCode: 1 });
  expect(await s3.contents("images")).toEqual({ objects: [], uploads: [] });
});

test("a secret key the server echoes back never reaches the error, its JSON or its fix", async () => {
  const f = randomFile("echo.img", 1 * MiB);
  Object.assign(s3.faults, { failPutsAfter: { puts: 0, code: "EntityTooLarge" }, echoSecret: true });
  const err = (await uploadImage(f.path, opts).catch((e: unknown) => e)) as SpacesError;
  expect(err.message).toMatch(/EntityTooLarge: object refused \(request signed with secret \[redacted\]\)/);
  expect(`${err.message} ${err.fix} ${JSON.stringify(err)} ${JSON.stringify(errorJson(err))}`).not.toContain(s3.secretAccessKey);
});

test("a connection dropped mid-part stops the upload naming the network failure (the SDK calls it TimeoutError), and it resumes", async () => {
  const f = randomFile("reset.raw", 23 * MiB);
  s3.faults.failPutsAfter = { puts: 2, code: "ECONNRESET" };
  const err = (await uploadImage(f.path, { ...opts, concurrency: 1 }).catch((e: unknown) => e)) as SpacesError;
  delete s3.faults.failPutsAfter;
  expect(err).toMatchObject({ code: "spaces-Interrupted", exitCode: 69 });
  expect(err.message).toMatch(/stopped by the connection (being reset \(ECONNRESET\)|closing while the part was sent \(EPIPE\)) after 2 of 5 parts$/);
  const r = await uploadImage(f.path, opts);
  expect(r).toMatchObject({ partsReused: 2, partsUploaded: 3 });
  expect(await s3.contents("images")).toMatchObject({ uploads: [] });
});

/** A source producing `data` in uneven chunks, whose first bytes are only known at the end (as a qcow2 header is). */
function streamOf(data: Buffer, head: Buffer, chunk = 3 * MiB + 17): StreamSource & { consumed: () => number } {
  let consumed = 0;
  return {
    name: "stream",
    maxSize: data.length,
    consumed: () => consumed,
    chunks: (async function* () {
      yield Buffer.alloc(head.length); // the head's place, filled in later
      for (let at = head.length; at < data.length; at += chunk) {
        const piece = data.subarray(at, Math.min(data.length, at + chunk));
        consumed += piece.length;
        yield piece;
      }
    })(),
    head: () => head,
  };
}

describe("streamed uploads (a converted image, its size known only at the end)", () => {
  const sha256 = "f".repeat(64);
  const data = randomBytes(23 * MiB + 123);
  const head = data.subarray(0, 65536);
  const whole = createHash("sha256").update(data).digest("hex");

  test("parts go out as they fill and the first, holding the head, goes last: the object is exactly the bytes", async () => {
    const r = await uploadStream(streamOf(data, head), { ...opts, key: "s/whole.qcow2", sha256 });
    expect(r).toMatchObject({ size: data.length, reused: false, partsUploaded: 5, partsReused: 0, bytesUploaded: data.length });
    expect(await fetchSha(r.url)).toBe(whole);
    // The same content under the same key: nothing is read or sent.
    const source = streamOf(data, head);
    expect(await uploadStream(source, { ...opts, key: "s/whole.qcow2", sha256 })).toMatchObject({ reused: true, size: data.length, bytesUploaded: 0 });
    expect(source.consumed()).toBe(0);
  });

  test("a stream that fits in one part is one PUT", async () => {
    const small = data.subarray(0, 3 * MiB);
    const r = await uploadStream(streamOf(small, head), { ...opts, key: "s/small.qcow2", sha256 });
    expect(r).toMatchObject({ size: small.length, partsUploaded: 1 });
    expect(await fetchSha(r.url)).toBe(createHash("sha256").update(small).digest("hex"));
  });

  test("a source that fails part way (the image cannot be read) fails with its own error, and the parts sent are aborted", async () => {
    const broken = new ImageError("disk.qcow2: cluster 9 is past the end of the file", { file: "disk.qcow2", code: "truncated", fix: "copy it again" });
    const source: StreamSource = {
      name: "broken",
      maxSize: data.length,
      chunks: (async function* () {
        for (let at = 0; at < 17 * MiB; at += MiB) yield data.subarray(at, at + MiB);
        throw broken;
      })(),
    };
    const err = await uploadStream(source, { ...opts, key: "s/broken.qcow2", sha256 }).catch((e: unknown) => e);
    expect(err).toBe(broken);
    expect(await s3.contents("images")).toEqual({ objects: [], uploads: [] });
  });

  test("an interrupted stream resumes: stored parts with the same MD5 are kept, a part that differs is sent again", async () => {
    s3.faults.failPutsAfter = { puts: 2, code: "InternalError" };
    const err = (await uploadStream(streamOf(data, head), { ...opts, key: "s/resume.qcow2", sha256, concurrency: 1 }).catch((e: unknown) => e)) as SpacesError;
    delete s3.faults.failPutsAfter;
    expect(err).toMatchObject({ code: "spaces-Interrupted", exitCode: 69 });
    expect((await s3.contents("images")).uploads).toHaveLength(1);
    // Parts 2 and 3 are stored. This time part 3's bytes differ (as a changed zlib's output would): only part 2 is kept.
    const changed = Buffer.from(data);
    changed[11 * MiB] ^= 1;
    const r = await uploadStream(streamOf(changed, head), { ...opts, key: "s/resume.qcow2", sha256, concurrency: 1 });
    expect(r).toMatchObject({ partsReused: 1, partsUploaded: 4, bytesUploaded: data.length - 5 * MiB });
    expect(await fetchSha(r.url)).toBe(createHash("sha256").update(changed).digest("hex"));
    expect((await s3.contents("images")).uploads).toEqual([]);
  });
});
