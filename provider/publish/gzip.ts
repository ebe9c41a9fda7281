// The file gzip-compressed as a stream of chunks, for an upload that sends each part as it fills. zlib runs on libuv's
// thread pool at level 1: on a link of tens of MB/s, the link, not the compression, should set the pace.
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream";
import { createGzip } from "node:zlib";

export const GZIP_LEVEL = 1;

/** The most a gzip stream of `size` bytes can come to (zlib's deflateBound, plus gzip's header and trailer). */
export const gzipSizeBound = (size: number): number => size + Math.floor(size / 4096) + Math.floor(size / 16384) + Math.floor(size / 33554432) + 7 + 18;

/** The file's bytes, gzip-compressed; `onRead` hears how many bytes of the file have been read so far. */
export async function* gzipChunks(file: string, onRead: (bytes: number) => void): AsyncGenerator<Buffer> {
  let read = 0;
  const source = createReadStream(file, { highWaterMark: 1 << 20 });
  source.on("data", (chunk) => onRead((read += chunk.length)));
  // A read error destroys every stream of the pipeline, so the loop below throws it.
  const gzip = pipeline(source, createGzip({ level: GZIP_LEVEL, chunkSize: 1 << 20 }), () => undefined);
  for await (const chunk of gzip) yield chunk as Buffer;
}
