// A file uploaded as one object: a single PUT when it fits one part, else parallel multipart parts read straight from
// the file (one buffer per worker), resuming an unfinished upload of the same key; an object of the same size is reused.
import { open, stat } from "node:fs/promises";
import { progressReporter } from "./hash";
import { SpacesError } from "./errors";
import { MiB, UploadSession } from "./session";
import type { UploadOptions, UploadResult } from "./upload";

/** Uploads a file as one object, resuming an unfinished multipart upload of the same key; an object of the same size is reused. */
export async function uploadObject(file: string, options: UploadOptions): Promise<UploadResult> {
  const size = (await stat(file)).size;
  const up = await UploadSession.open(file, options);
  const { result } = up;
  result.size = size;
  return up.run(async () => {
    if ((await up.stored())?.size === size) {
      result.reused = true;
      options.onProgress?.({ phase: "upload", bytes: size, total: size, rate: 0, etaSeconds: 0 });
      return;
    }
    const partSize = up.partSizeFor(size, 16 * MiB);
    const partCount = Math.max(1, Math.ceil(size / partSize));
    const report = progressReporter("upload", size, options.onProgress);
    const handle = await open(file, "r");
    try {
      if (partCount === 1) {
        const body = Buffer.alloc(size);
        if (size > 0) await handle.read(body, 0, size, 0);
        await up.putWhole(body);
        report(size, true);
        return;
      }
      const found = await up.resumable();
      const uploadId = found?.uploadId ?? (await up.createUpload());
      const etags = new Map<number, string>();
      const todo: number[] = [];
      let done = 0;
      for (let n = 1; n <= partCount; n++) {
        const expected = Math.min(partSize, size - (n - 1) * partSize);
        const stored = found?.parts.get(n);
        if (stored && stored.size === expected) {
          etags.set(n, stored.etag);
          result.partsReused++;
          done += expected;
        } else todo.push(n);
      }
      report(done, true);
      let failure: unknown = null;
      const worker = async () => {
        // One buffer per worker, reused for every part it sends: memory stays at concurrency × partSize.
        const buffer = Buffer.allocUnsafe(partSize);
        while (todo.length > 0 && !failure) {
          const n = todo.shift()!;
          const offset = (n - 1) * partSize;
          const body = buffer.subarray(0, Math.min(partSize, size - offset));
          if ((await handle.read(body, 0, body.length, offset)).bytesRead !== body.length)
            throw new SpacesError(`${file} is shorter than when it was hashed`, {
              code: "FileChanged",
              fix: "let whatever writes the file finish, then run again",
            });
          try {
            etags.set(n, await up.sendPart(uploadId, n, body));
          } catch (err) {
            failure = failure ?? err;
            throw err;
          }
          done += body.length;
          report(done, done === size);
        }
      };
      const workers = await Promise.allSettled(Array.from({ length: Math.min(Math.max(1, options.concurrency ?? 4), todo.length) }, worker));
      const rejected = workers.find((w): w is PromiseRejectedResult => w.status === "rejected");
      if (rejected && !(await up.completedElsewhere(rejected.reason, size))) throw await up.partFailed(rejected.reason, uploadId, String(partCount));
      if (!rejected) await up.complete(uploadId, etags, size);
      report(size, true);
    } finally {
      await handle.close();
    }
  });
}
