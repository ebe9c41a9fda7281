// Bytes produced as they are sent (the compressed qcow2 publish makes), uploaded part by part as they fill.
import { createHash } from "node:crypto";
import { MiB, UploadSession } from "./session";
import type { StreamSource, UploadOptions, UploadResult } from "./upload";

/**
 * Uploads bytes produced as they are sent: parts go out as they fill, at most `concurrency` at a time, while the first
 * part waits in memory for the source's head (sent last, it is the only part that changes once the rest is known). An
 * unfinished upload of the same key is resumed: a part already stored with the same MD5 is not sent again.
 */
export async function uploadStream(source: StreamSource, options: UploadOptions): Promise<UploadResult> {
  const up = await UploadSession.open(source.name, options);
  const { result } = up;
  return up.run(async () => {
    const existing = await up.stored();
    if (existing && existing.sha256 === options.sha256) {
      result.reused = true;
      result.size = existing.size;
      return;
    }
    const partSize = up.partSizeFor(source.maxSize, 6 * MiB);
    // Three in flight rather than a file's four: every part of a stream is in memory until it is sent.
    const concurrency = Math.max(1, options.concurrency ?? 3);
    const free: Buffer[] = [];
    const first = Buffer.allocUnsafe(partSize);
    let firstLength = 0;
    let current: Buffer | null = null;
    let currentLength = 0;
    /** The number of the next part after the first. */
    let n = 2;
    let multipart = null as { uploadId: string; found: Awaited<ReturnType<typeof up.resumable>> } | null;
    const etags = new Map<number, string>();
    const inFlight = new Set<Promise<void>>();
    let failure = null as { err: unknown } | null;

    const sendOrReuse = async (part: number, body: Buffer) => {
      const stored = multipart!.found?.parts.get(part);
      if (stored && stored.size === body.length && stored.etag.replace(/"/g, "") === createHash("md5").update(body).digest("hex")) {
        etags.set(part, stored.etag);
        result.partsReused++;
        return;
      }
      etags.set(part, await up.sendPart(multipart!.uploadId, part, body));
    };
    const enqueue = async (part: number, body: Buffer, recycle: boolean) => {
      if (!multipart) {
        const found = await up.resumable();
        multipart = { uploadId: found?.uploadId ?? (await up.createUpload()), found };
      }
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      if (failure) return;
      const p: Promise<void> = sendOrReuse(part, body)
        .catch((err: unknown) => void (failure ??= { err }))
        .finally(() => {
          inFlight.delete(p);
          if (recycle) free.push(body);
        });
      inFlight.add(p);
    };

    let size = 0;
    try {
      for await (const chunk of source.chunks) {
        size += chunk.length;
        let at = 0;
        while (at < chunk.length && !failure) {
          if (firstLength < partSize) {
            const k = chunk.copy(first, firstLength, at);
            firstLength += k;
            at += k;
            continue;
          }
          if (!current) {
            current = free.pop() ?? Buffer.allocUnsafe(partSize);
            currentLength = 0;
          }
          const k = chunk.copy(current, currentLength, at);
          currentLength += k;
          at += k;
          if (currentLength === partSize) {
            await enqueue(n++, current, true);
            current = null;
          }
        }
        if (failure) break;
      }
    } catch (err) {
      // The source failed (the image could not be read): nothing more will come, so what was sent is aborted.
      await Promise.allSettled(inFlight);
      if (multipart) await up.abort(multipart.uploadId);
      throw err;
    }
    const head = failure ? null : (source.head?.() ?? null);
    if (head && head.length > firstLength) throw new Error(`uploadStream: a head of ${head.length} bytes is longer than the first part`);
    head?.copy(first, 0);
    if (!failure && !multipart) {
      // It all fit in one part: one PUT.
      result.size = firstLength;
      await up.putWhole(first.subarray(0, firstLength));
      return;
    }
    if (!failure && current && currentLength > 0) await enqueue(n++, current.subarray(0, currentLength), false);
    if (!failure) await enqueue(1, first.subarray(0, firstLength), false);
    await Promise.all(inFlight);
    result.size = size;
    const { uploadId } = multipart!;
    if (failure) {
      if (!(await up.completedElsewhere(failure.err))) throw await up.partFailed(failure.err, uploadId, String(n - 1));
      result.size = (await up.stored())!.size;
    } else await up.complete(uploadId, etags);
  });
}
