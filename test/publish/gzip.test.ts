// The gzip conversion push streams: the chunks gunzip to the file, the size bound holds, and a read error surfaces.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { gzipChunks, gzipSizeBound } from "../../provider/publish/gzip";

async function collect(file: string, onRead: (n: number) => void = () => undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of gzipChunks(file, onRead)) chunks.push(c);
  return Buffer.concat(chunks);
}

test("the chunks are one gzip stream of the file; incompressible bytes stay within the bound; reads are reported", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gzip-"));
  const file = join(dir, "disk.raw");
  // Zeros, then random bytes: the worst case for the bound and the usual case for a disk.
  const data = Buffer.concat([Buffer.alloc(3 << 20), randomBytes(5 << 20)]);
  writeFileSync(file, data);
  let read = 0;
  const gz = await collect(file, (n) => (read = n));
  expect(gunzipSync(gz).equals(data)).toBe(true);
  expect(read).toBe(data.length);
  expect(gz.length).toBeLessThanOrEqual(gzipSizeBound(data.length));
  expect(gz.length).toBeGreaterThan(5 << 20);
});

test("a file that cannot be read fails the stream with its own error", async () => {
  await expect(collect(join(tmpdir(), "no-such-dir-for-gzip", "disk.raw"))).rejects.toMatchObject({ code: "ENOENT" });
});
