// A real S3-compatible server standing in for Spaces: s3rver (SigV4 and presigned URLs verified), bound to 127.0.0.1.
//
// s3rver lacks three calls the uploader relies on for resuming and cleaning up (ListParts, ListMultipartUploads,
// AbortMultipartUpload); they are added here on s3rver's own store and run behind its own SigV4 authentication.
// DigitalOcean Spaces implements all three natively.
import { throttledLink } from "./throttle";
import type { Clock } from "do-image/internal";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { access, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/* eslint-disable @typescript-eslint/no-require-imports */
const S3rver = require("@20minutes/s3rver");
const AWSAccount = require("@20minutes/s3rver/lib/models/account");
const authentication = require("@20minutes/s3rver/lib/middleware/authentication");
const S3Error = require("@20minutes/s3rver/lib/models/error");
const S3Object = require("@20minutes/s3rver/lib/models/object");
/* eslint-enable @typescript-eslint/no-require-imports */

export interface S3ServerOptions {
  port?: number;
  /** Where objects are kept; a fresh temporary directory by default (removed on close). */
  directory?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Buckets created at start. */
  buckets?: string[];
  /** Upload speed of the link in front of the server, in bytes per second (a token bucket shared by all clients). */
  bandwidth?: number;
  /** The clock the link's pauses are slept on. @default real time */
  clock?: Clock;
}

/** Faults a test switches on, live: failing uploads (a key revoked mid-upload), secrets echoed in errors. */
export interface S3Faults {
  /**
   * Every upload request (a PUT of an object or a part) after this many, counted from when it is set, fails with
   * `code`: an S3 error code, answered once the body is read, or "ECONNRESET" to drop the connection mid-body.
   */
  failPutsAfter?: { puts: number; code: string };
  /** Error messages repeat the request's secret key, as a misbehaving proxy might; do-image must never pass it on. */
  echoSecret?: boolean;
  /** Called as each upload request arrives, with how many have arrived since the server started: a test acts at an exact part. */
  onPut?: (count: number) => void;
}

export interface S3Server {
  url: string;
  accessKeyId: string;
  secretAccessKey: string;
  directory: string;
  faults: S3Faults;
  /** With `bandwidth`: bytes sent to the server through the link, and the milliseconds of pause it charged them. */
  link?: { bytes: number; owed: number };
  /** Object keys in a bucket, and multipart uploads still open. */
  contents(bucket: string): Promise<{ objects: string[]; uploads: string[] }>;
  close(): Promise<void>;
}

interface KoaContext {
  req: Readable & { socket: { destroy(): void } };
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  status: number;
  body: unknown;
  type: string;
  state: Record<string, unknown>;
  app: { store: S3Store };
  params: Record<string, string>;
}
interface S3Store {
  rootDirectory: string;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putContent(objectPath: string, content: Buffer | Readable): Promise<[number, string]>;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string): Promise<void>;
  putObjectMultipart(bucket: string, uploadId: string, parts: unknown[]): Promise<unknown>;
  putPart(bucket: string, uploadId: string, partNumber: number, content: unknown): Promise<unknown>;
}

/**
 * Gives s3rver's store S3's semantics where concurrent clients meet: a PUT replaces an object atomically (its content
 * and its metadata each written aside, then renamed, so a reader never sees half of either; s3rver wrote both in place,
 * and a GET that met a half-written metadata file answered 500), and completing an upload that another client
 * already completed or aborted is NoSuchUpload, one completion at a time.
 */
function atomicStore(store: S3Store): void {
  let n = 0;
  const asideOf = (path: string) => `${path}.${process.pid}-${n++}.partial`;
  const replace = async (path: string, data: string) => {
    const aside = asideOf(path);
    await writeFile(aside, data);
    await rename(aside, path);
  };
  // As s3rver's own, but each file replaced whole.
  store.putMetadata = async (bucket, key, metadata, md5) => {
    const kept = Object.entries(metadata).filter(([k]) => (S3Object.ALLOWED_METADATA as string[]).includes(k) || k.startsWith("x-amz-meta-"));
    if (md5) await replace(store.getResourcePath(bucket, key, "object.md5"), md5);
    await replace(store.getResourcePath(bucket, key, "metadata.json"), JSON.stringify(Object.fromEntries(kept), null, 2));
  };
  store.putContent = async (objectPath, content) => {
    const aside = asideOf(objectPath);
    const md5 = createHash("md5");
    let size = 0;
    const out = createWriteStream(aside);
    try {
      if (Buffer.isBuffer(content)) {
        md5.update(content);
        size = content.length;
        await new Promise<void>((resolve, reject) => out.on("error", reject).end(content, resolve));
      } else {
        content.on("data", (chunk: Buffer) => {
          md5.update(chunk);
          size += chunk.length;
        });
        await pipeline(content, out);
      }
      await rename(aside, objectPath);
    } catch (err) {
      await rm(aside, { force: true });
      throw err;
    }
    return [size, md5.digest("hex")];
  };
  const noSuchUpload = async (bucket: string, uploadId: string) => {
    const dir = join(store.getResourcePath(bucket, undefined, "uploads"), uploadId);
    if (
      await access(dir).then(
        () => false,
        () => true,
      )
    )
      throw new S3Error(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        { UploadId: uploadId },
      );
  };
  const putPart = store.putPart.bind(store);
  store.putPart = async (bucket, uploadId, partNumber, content) => {
    await noSuchUpload(bucket, uploadId); // s3rver would recreate the folder of an upload already completed
    return putPart(bucket, uploadId, partNumber, content);
  };
  const completeMultipart = store.putObjectMultipart.bind(store);
  const completing = new Map<string, Promise<unknown>>();
  store.putObjectMultipart = async (bucket, uploadId, parts) => {
    const before = completing.get(uploadId);
    const mine = (async () => {
      await before?.catch(() => undefined);
      await noSuchUpload(bucket, uploadId);
      return completeMultipart(bucket, uploadId, parts);
    })();
    completing.set(uploadId, mine);
    try {
      return await mine;
    } finally {
      if (completing.get(uploadId) === mine) completing.delete(uploadId);
    }
  };
}

const md5File = (path: string) =>
  new Promise<string>((resolve, reject) => {
    const h = createHash("md5");
    createReadStream(path)
      .on("data", (d) => h.update(d))
      .on("end", () => resolve(h.digest("hex")))
      .on("error", reject);
  });

async function uploadsOf(store: S3Store, bucket: string): Promise<{ id: string; key: string; initiated: Date }[]> {
  const dir = store.getResourcePath(bucket, undefined, "uploads");
  const ids = await readdir(dir).catch(() => [] as string[]);
  return Promise.all(
    ids.map(async (id) => ({ id, key: (await readFile(join(dir, id, "key"))).toString(), initiated: (await stat(join(dir, id, "key"))).mtime })),
  );
}

/** The multipart calls s3rver does not implement, answered from its filesystem store. */
function multipartExtensions() {
  const auth = authentication();
  return async (ctx: KoaContext, next: () => Promise<void>) => {
    const [, bucket, ...rest] = decodeURIComponent(ctx.path).split("/");
    const key = rest.join("/");
    const listUploads = ctx.method === "GET" && !key && "uploads" in ctx.query;
    const listParts = ctx.method === "GET" && key && ctx.query.uploadId !== undefined;
    const abort = ctx.method === "DELETE" && key && ctx.query.uploadId !== undefined;
    if (!bucket || !(listUploads || listParts || abort)) return next();
    // s3rver's authentication builds the canonical URI from params; "/bucket/?uploads" must keep its trailing slash.
    ctx.params = key ? { bucket, key } : { bucket: ctx.path.endsWith("/") ? `${bucket}/` : bucket };
    return auth(ctx, async () => {
      const store = ctx.app.store;
      const uploads = await uploadsOf(store, bucket);
      if (listUploads) {
        ctx.body = {
          ListMultipartUploadsResult: {
            "@": { xmlns: "http://s3.amazonaws.com/doc/2006-03-01/" },
            Bucket: bucket,
            IsTruncated: false,
            Upload: uploads
              .filter((u) => !ctx.query.prefix || u.key.startsWith(ctx.query.prefix))
              .map((u) => ({ Key: u.key, UploadId: u.id, Initiated: u.initiated.toISOString() })),
          },
        };
        return;
      }
      const upload = uploads.find((u) => u.id === ctx.query.uploadId && u.key === key);
      if (!upload) throw new S3Error("NoSuchUpload", "The specified upload does not exist.", { UploadId: ctx.query.uploadId });
      const dir = join(store.getResourcePath(bucket, undefined, "uploads"), upload.id);
      if (abort) {
        await rm(dir, { recursive: true, force: true });
        ctx.status = 204;
        return;
      }
      const names = (await readdir(dir)).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b));
      const parts = await Promise.all(
        names.map(async (n) => {
          const p = join(dir, n);
          const st = await stat(p);
          return { PartNumber: Number(n), ETag: `"${await md5File(p)}"`, Size: st.size, LastModified: st.mtime.toISOString() };
        }),
      );
      ctx.body = {
        ListPartsResult: {
          "@": { xmlns: "http://s3.amazonaws.com/doc/2006-03-01/" },
          Bucket: bucket,
          Key: key,
          UploadId: upload.id,
          IsTruncated: false,
          Part: parts,
        },
      };
    });
  };
}

/** Applies the live faults before s3rver answers: uploads that fail after a count, with the secret echoed when asked. */
function faultInjection(faults: S3Faults, secretAccessKey: string) {
  /** Upload requests since the server started, and how many there had been when the current fault was set. */
  let puts = 0;
  let putsWhenArmed = 0;
  let armed: S3Faults["failPutsAfter"];
  return async (ctx: KoaContext, next: () => Promise<void>) => {
    if (faults.failPutsAfter !== armed) {
      armed = faults.failPutsAfter;
      putsWhenArmed = puts;
    }
    const [, , ...key] = ctx.path.split("/");
    const upload = ctx.method === "PUT" && key.join("/") !== "";
    if (upload) {
      puts++; // not inside the call below: an optional call with no function does not evaluate its arguments
      faults.onPut?.(puts);
    }
    if (armed && upload && puts - putsWhenArmed > armed.puts) {
      if (armed.code === "ECONNRESET") {
        ctx.req.socket.destroy();
        return;
      }
      // Read the body first, so the client is told the error. Answered mid-body, it could see only the connection
      // reset (as EPIPE or ECONNRESET, which the SDK names TimeoutError), and which it sees is a race.
      ctx.req.resume();
      await finished(ctx.req);
      const echo = faults.echoSecret ? ` (request signed with secret ${secretAccessKey})` : "";
      throw new S3Error(armed.code, `${ctx.query.partNumber ? `part ${ctx.query.partNumber}` : "object"} refused${echo}`);
    }
    return next();
  };
}

export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), "do-image-s3-")));
  const accessKeyId = options.accessKeyId ?? "DOIMAGELOCALKEY";
  const secretAccessKey = options.secretAccessKey ?? "do-image-local-secret-key";
  new AWSAccount(1, "do-image").createKeyPair(accessKeyId, secretAccessKey);
  const server = new S3rver({
    address: "127.0.0.1",
    port: options.port ?? 0,
    directory,
    silent: true,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name, configs: [] })),
  });
  atomicStore(server.store as S3Store);
  // Koa composes its middleware when it starts listening: the extension goes just before the router.
  const stack = server.middleware as unknown[];
  const faults: S3Faults = {};
  stack.splice(stack.length - 1, 0, faultInjection(faults, secretAccessKey), multipartExtensions());
  const { port } = (await server.run()) as AddressInfo;
  const link = options.bandwidth ? await throttledLink(port, options.bandwidth, options.clock) : undefined;
  const url = `http://127.0.0.1:${link?.port ?? port}`;
  return {
    url,
    accessKeyId,
    secretAccessKey,
    directory,
    faults,
    link: link?.bucket,
    async contents(bucket) {
      const store = server.store as S3Store;
      const objects: string[] = [];
      const walk = async (dir: string, prefix: string) => {
        for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
          if (e.isDirectory()) await walk(join(dir, e.name), `${prefix}${e.name}/`);
          else if (e.name.endsWith("._S3rver_object")) objects.push(`${prefix}${e.name.slice(0, -"._S3rver_object".length)}`);
        }
      };
      await walk(join(store.rootDirectory, bucket), "");
      return { objects: objects.sort(), uploads: (await uploadsOf(store, bucket)).map((u) => `${u.key} (${u.id})`) };
    },
    async close() {
      await link?.close();
      await server.close();
      if (!options.directory) await rm(directory, { recursive: true, force: true });
    },
  };
}
