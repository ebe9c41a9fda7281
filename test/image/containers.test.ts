// Unit tests of every container reader over in-memory images: the bytes read back are the bytes the builder put in.
import { createHash } from "node:crypto";
import { BufferSource, ImageError, openContainer, type VirtualDisk } from "../../provider/image";
import { bunzip2 } from "../../provider/image/codecs/bzip2-parallel";
import { qcow2Image, vdiImage, vhdxImage, type ClusterSpec } from "../support/builders";

const MiB = 1024 * 1024;
const pattern = (seed: number, len: number) => {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
};
const open = (buf: Buffer, name = "test-image") => openContainer(new BufferSource(buf, name), name);
const expectImageError = async (p: Promise<unknown>, code: string, text: RegExp) => {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageError);
  expect((err as ImageError).code).toBe(code);
  expect((err as ImageError).message).toMatch(text);
  expect((err as ImageError).fix.length).toBeGreaterThan(10);
};

describe("qcow2", () => {
  const clusters = new Map<number, ClusterSpec>([
    [0, { kind: "data", data: pattern(1, 65536) }],
    [1, { kind: "data", data: pattern(2, 65536) }], // contiguous with cluster 0 on the host: one pread
    [5, { kind: "compressed", data: pattern(3, 65536) }],
    [6, { kind: "zero" }],
    [8200, { kind: "data", data: pattern(4, 100) }], // second L2 table
  ]);
  const cases: { name: string; version: 2 | 3 }[] = [
    { name: "v2", version: 2 },
    { name: "v3", version: 3 },
  ];
  test.each(cases)("$name reads data, compressed, zero and unallocated clusters", async ({ version }) => {
    const disk = await open(qcow2Image({ virtualSize: 1024 * MiB, version, clusters }));
    expect(disk.format).toBe("qcow2");
    expect(disk.size).toBe(1024 * MiB);
    expect(await disk.read(0, 131072)).toEqual(Buffer.concat([pattern(1, 65536), pattern(2, 65536)]));
    expect(await disk.read(5 * 65536 + 100, 1000)).toEqual(pattern(3, 65536).subarray(100, 1100));
    expect((await disk.read(6 * 65536, 65536)).every((b) => b === 0)).toBe(true);
    expect((await disk.read(3 * 65536, 65536)).every((b) => b === 0)).toBe(true);
    expect((await disk.read(8200 * 65536, 100)).equals(pattern(4, 100))).toBe(true);
    // A read spanning allocated, compressed and unallocated clusters.
    const span = await disk.read(65536 * 4 + 10, 65536 * 2);
    expect(span.subarray(65526, 65526 + 65536)).toEqual(pattern(3, 65536));
    expect(span.subarray(0, 65526).every((b) => b === 0)).toBe(true);
    expect(await disk.allocatedBytes()).toBe(4 * 65536);
  });

  const refusals: { name: string; image: () => Buffer; code: string; text: RegExp }[] = [
    {
      name: "backing file",
      image: () => qcow2Image({ virtualSize: MiB, backingFile: "base.qcow2" }),
      code: "qcow2-backing-file",
      text: /backing file "base.qcow2"/,
    },
    {
      name: "external data file",
      image: () => qcow2Image({ virtualSize: MiB, incompatible: 1n << 2n }),
      code: "qcow2-external-data-file",
      text: /external data file/,
    },
    { name: "encryption", image: () => qcow2Image({ virtualSize: MiB, cryptMethod: 2 }), code: "qcow2-encrypted", text: /encrypted \(LUKS\)/ },
    { name: "unknown feature", image: () => qcow2Image({ virtualSize: MiB, incompatible: 1n << 40n }), code: "qcow2-unknown-feature", text: /bit 40/ },
    { name: "corrupt bit", image: () => qcow2Image({ virtualSize: MiB, incompatible: 1n << 1n }), code: "qcow2-corrupt", text: /marked corrupt/ },
    {
      name: "truncated L2 table",
      image: () => qcow2Image({ virtualSize: MiB, clusters: new Map([[0, { kind: "data", data: pattern(1, 10) }]]) }).subarray(0, 3 * 65536),
      code: "truncated",
      text: /past the end of the file/,
    },
  ];
  test.each(refusals)("refuses $name", async ({ image, code, text }) => {
    await expectImageError(
      open(image()).then((d) => d.allocatedBytes()),
      code,
      text,
    );
  });
});

describe("VHDX", () => {
  test("reads present blocks and zeros elsewhere, using the newer header", async () => {
    const blocks = new Map([
      [0, pattern(1, MiB)],
      [3, pattern(2, 4096)],
    ]);
    const disk = await open(vhdxImage({ virtualSize: 8 * MiB, blocks, staleSecondHeader: true }));
    expect(disk.format).toBe("vhdx");
    expect(disk.size).toBe(8 * MiB);
    expect(await disk.read(0, MiB)).toEqual(pattern(1, MiB));
    expect((await disk.read(3 * MiB, 4096)).equals(pattern(2, 4096))).toBe(true);
    expect((await disk.read(MiB, MiB)).every((b) => b === 0)).toBe(true);
    expect(await disk.allocatedBytes()).toBe(2 * MiB);
  });

  test("refuses a log that needs replay, naming the fix", async () => {
    await expectImageError(
      open(vhdxImage({ virtualSize: 8 * MiB, logGuid: "01234567-89AB-4CDE-8F01-23456789ABCD" })),
      "vhdx-log-replay",
      /log .* never applied/,
    );
  });

  test("refuses when both headers fail their CRC-32C", async () => {
    const img = vhdxImage({ virtualSize: 8 * MiB });
    img[64 * 1024 + 100] ^= 1;
    img[128 * 1024 + 100] ^= 1;
    await expectImageError(open(img), "vhdx-corrupt", /neither VHDX header/);
  });
});

describe("VDI", () => {
  test("dynamic: allocated, discarded and never-allocated blocks", async () => {
    const disk = await open(vdiImage({ virtualSize: 4 * MiB, blocks: new Map([[2, pattern(9, MiB)]]), discarded: [1] }));
    expect(disk.format).toBe("vdi");
    expect(await disk.read(2 * MiB, MiB)).toEqual(pattern(9, MiB));
    expect((await disk.read(0, 2 * MiB)).every((b) => b === 0)).toBe(true);
    expect(await disk.allocatedBytes()).toBe(MiB);
  });

  test("refuses a differencing image", async () => {
    await expectImageError(open(vdiImage({ virtualSize: MiB, type: 4 })), "vdi-differencing", /differencing/);
  });
});

describe("bzip2 decoder", () => {
  const one = Buffer.from("QlpoOTFBWSZTWULEDMoAAApbgAAQQAAQAAAEMmTAECAAISoYTE9QgGgBmwPSElhvXVgIBL4u5IpwoSCFiBmU", "base64");
  const two = Buffer.from("QlpoOTFBWSZTWYRSkJQAAAXRgAAQQAAuA5wAIAAiANDQQNA0BQS9OE8eHi7kinChIQilISg=", "base64");
  async function decode(chunks: Buffer[], workers = 0): Promise<string> {
    async function* src() {
      yield* chunks;
    }
    const parts: Uint8Array[] = [];
    for await (const p of bunzip2(src(), "test.bz2", { workers })) parts.push(p);
    return Buffer.concat(parts).toString();
  }

  test("decodes a stream, also when fed one byte at a time", async () => {
    const text = "hello hello hello hello bzip2 " + "a".repeat(96) + "\n";
    expect(await decode([one])).toBe(text);
    expect(await decode([...one].map((b) => Buffer.from([b])))).toBe(text);
  });

  test("decodes concatenated streams", async () => {
    expect(await decode([Buffer.concat([one, two])])).toMatch(/bzip2 a+\nsecond stream\n$/);
  });

  test("detects a flipped bit through the block CRC", async () => {
    const bad = Buffer.from(one);
    bad[bad.length - 20] ^= 0x10;
    await expect(decode([bad])).rejects.toThrow(/bzip2/);
  });

  test("reports truncation", async () => {
    await expect(decode([one.subarray(0, one.length - 12)])).rejects.toThrow(/truncated/);
  });
});

export async function sha256(disk: VirtualDisk, chunk = 4 * MiB): Promise<string> {
  const h = createHash("sha256");
  for (let off = 0; off < disk.size; off += chunk) h.update(await disk.read(off, Math.min(chunk, disk.size - off)));
  return h.digest("hex");
}
