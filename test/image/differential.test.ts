// Differential tests: our readers against qemu-img and sfdisk on images made by the real tools.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImageError, inspectImage, openImage } from "../../provider/image";
import { built, describeWithFixtures, run, runBytes } from "../support/fixtures";

interface GoodFixture {
  file: string;
  format: string;
  compression: "none" | "gzip" | "bzip2";
  /** The uncompressed fixture qemu-img reads for the reference, when `file` is compressed. */
  reference?: string;
  scheme: "gpt" | "mbr";
}

const GOOD: GoodFixture[] = [
  { file: "good-gpt.raw", format: "raw", compression: "none", scheme: "gpt" },
  { file: "good-mbr.raw", format: "raw", compression: "none", scheme: "mbr" },
  { file: "good.qcow2", format: "qcow2", compression: "none", scheme: "gpt" },
  { file: "good-v2.qcow2", format: "qcow2", compression: "none", scheme: "gpt" },
  { file: "good-zlib.qcow2", format: "qcow2", compression: "none", scheme: "gpt" },
  { file: "good-zstd.qcow2", format: "qcow2", compression: "none", scheme: "gpt" },
  { file: "good-extl2.qcow2", format: "qcow2", compression: "none", scheme: "gpt" },
  { file: "good-mbr-4k-clusters.qcow2", format: "qcow2", compression: "none", scheme: "mbr" },
  { file: "good-sparse.vmdk", format: "vmdk", compression: "none", scheme: "gpt" },
  { file: "good-stream.vmdk", format: "vmdk", compression: "none", scheme: "gpt" },
  { file: "good-dynamic.vdi", format: "vdi", compression: "none", scheme: "gpt" },
  { file: "good-static.vdi", format: "vdi", compression: "none", scheme: "mbr" },
  { file: "good-dynamic.vhdx", format: "vhdx", compression: "none", scheme: "gpt" },
  { file: "good-fixed.vhdx", format: "vhdx", compression: "none", scheme: "mbr" },
  { file: "good-gpt.raw.gz", format: "raw", compression: "gzip", reference: "good-gpt.raw", scheme: "gpt" },
  { file: "good.qcow2.gz", format: "qcow2", compression: "gzip", reference: "good.qcow2", scheme: "gpt" },
  { file: "good-multimember.qcow2.gz", format: "qcow2", compression: "gzip", reference: "good.qcow2", scheme: "gpt" },
  { file: "good.qcow2.bz2", format: "qcow2", compression: "bzip2", reference: "good.qcow2", scheme: "gpt" },
  { file: "good-gpt.raw.bz2", format: "raw", compression: "bzip2", reference: "good-gpt.raw", scheme: "gpt" },
  { file: "good-multistream.vhdx.bz2", format: "vhdx", compression: "bzip2", reference: "good-dynamic.vhdx", scheme: "gpt" },
  { file: "good-stream.vmdk.gz", format: "vmdk", compression: "gzip", reference: "good-stream.vmdk", scheme: "gpt" },
];

interface SfdiskPartition {
  start: number;
  size: number;
  type: string;
  name?: string;
}

async function fileSha256(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

describeWithFixtures("container readers agree with qemu-img and sfdisk", (fx) => {
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "do-image-diff-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test.each(built(fx, GOOD, (r) => r.file))("$file", async ({ file, format, compression, reference, scheme }) => {
    const refImage = fx.path(reference ?? file);
    const info = JSON.parse(run("qemu-img", ["info", "--output=json", refImage])) as { "virtual-size": number };
    const raw = join(scratch, `${file}.raw`);
    run("qemu-img", ["convert", "-O", "raw", refImage, raw]);
    const sf = JSON.parse(run("sfdisk", ["--json", raw])) as { partitiontable: { label: string; partitions: SfdiskPartition[] } };

    const report = await inspectImage(fx.path(file));
    expect(report).toMatchObject({ format, compression, virtualSize: info["virtual-size"] });
    expect(report.partitionTable.scheme).toBe(scheme);
    expect(sf.partitiontable.label).toBe(scheme === "mbr" ? "dos" : "gpt");
    const ours = report.partitionTable.partitions.map((p) => ({
      start: p.start / 512,
      size: p.size / 512,
      type: scheme === "mbr" ? parseInt(p.type, 16) : p.type,
    }));
    const theirs = sf.partitiontable.partitions.map((p) => ({
      start: p.start,
      size: p.size,
      type: scheme === "mbr" ? parseInt(p.type, 16) : p.type.toUpperCase(),
    }));
    expect(ours).toEqual(theirs);

    const image = await openImage(fx.path(file));
    try {
      const h = createHash("sha256");
      const chunk = 4 << 20;
      for (let off = 0; off < image.disk.size; off += chunk) h.update(await image.disk.read(off, Math.min(chunk, image.disk.size - off)));
      const expected = await fileSha256(raw);
      expect(h.digest("hex")).toBe(expected);
      // The same through readInto, into one reused buffer that starts dirty, in pieces that straddle blocks: what
      // a hole leaves must be zeros, not the last read's bytes.
      const into = createHash("sha256");
      const piece = (3 << 20) + 4096 + 512;
      const buffer = Buffer.alloc(piece, 0xa5);
      for (let off = 0; off < image.disk.size; off += piece) {
        const n = Math.min(piece, image.disk.size - off);
        await image.disk.readInto(buffer, 0, n, off);
        into.update(buffer.subarray(0, n));
      }
      expect(into.digest("hex")).toBe(expected);
    } finally {
      await image.close();
    }
    rmSync(raw);
  });
});

interface BadFixture {
  file: string;
  code: string;
  /** Text the message must contain, naming what was found. */
  says: RegExp;
}

const BAD: BadFixture[] = [
  { file: "bad-backing.qcow2", code: "qcow2-backing-file", says: /backing file "good.qcow2"/ },
  { file: "bad-datafile.qcow2", code: "qcow2-external-data-file", says: /external data file ".*bad-datafile.data"/ },
  { file: "bad-encrypted.qcow2", code: "qcow2-encrypted", says: /encrypted \(LUKS\)/ },
  { file: "bad-unknown-feature.qcow2", code: "qcow2-unknown-feature", says: /feature bit 40/ },
  { file: "bad-flat.vmdk", code: "vmdk-external-extents", says: /monolithicFlat.*"bad-flat-flat.vmdk"/ },
  { file: "bad-split.vmdk", code: "vmdk-external-extents", says: /twoGbMaxExtentSparse.*"bad-split-s001.vmdk"/ },
  { file: "bad-fixed.vhd", code: "vhd", says: /VHD .* not VHDX/ },
  { file: "bad-dynamic.vhd", code: "vhd", says: /VHD .* not VHDX/ },
  { file: "bad-installer.iso", code: "iso9660", says: /ISO 9660/ },
  { file: "bad-appliance.ova", code: "tar", says: /tar archive \(an OVA is one\)/ },
  { file: "bad-zipped.zip", code: "zip", says: /zip archive/ },
  { file: "bad.qcow2.xz", code: "xz", says: /xz-compressed/ },
  { file: "bad.qcow2.zst", code: "zstd", says: /zstd-compressed/ },
  { file: "bad-truncated.qcow2", code: "truncated", says: /truncated/ },
  { file: "bad-truncated.raw", code: "truncated", says: /backup header at LBA 131071.*only 41943040 bytes/ },
  { file: "bad-truncated-stream.vmdk", code: "truncated", says: /truncated/ },
  { file: "bad-truncated.qcow2.gz", code: "truncated", says: /gzip data ends early/ },
  { file: "bad-truncated.qcow2.bz2", code: "truncated", says: /bzip2 data ends in the middle of a block/ },
  { file: "bad-nested.qcow2.gz.gz", code: "nested-compression", says: /inside another compression layer/ },
];

describeWithFixtures("refused images get a specific error naming the file and the fix", (fx) => {
  test.each(built(fx, BAD, (r) => r.file))("$file → $code", async ({ file, code, says }) => {
    const err = await inspectImage(fx.path(file)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ImageError);
    const e = err as ImageError;
    expect(e.code).toBe(code);
    expect(e.message).toMatch(says);
    expect(e.message).toContain(file);
    expect(e.fix).toMatch(/\w+ \w+/);
  });

  const FINDINGS = [
    { file: "bad-too-big.qcow2", code: "size-over-limit", severity: "error", says: /over DigitalOcean's limit of 100 GiB/ },
    { file: "warn-over-100gb.qcow2", code: "size-over-100gb", severity: "warning", says: /within the 100 GiB limit .* over the 100 GB/ },
    { file: "bad-bare-ext4.raw", code: "no-partition-table", severity: "error", says: /ext2\/3\/4 filesystem with no partition table/ },
    { file: "bad-empty-disk.raw", code: "no-partition-table", severity: "error", says: /no MBR signature/ },
  ];
  test.each(FINDINGS)("$file → finding $code", async ({ file, code, severity, says }) => {
    const report = await inspectImage(fx.path(file));
    const f = report.findings.find((x) => x.code === code);
    expect(f).toMatchObject({ severity });
    expect(f!.message).toMatch(says);
  });
});

describeWithFixtures("bzip2 blocks decode in parallel worker threads", (fx) => {
  test.each(built(fx, ["good-gpt.raw.bz2", "good-multistream.vhdx.bz2"], (f) => f))(
    "%s decodes with 2 workers to the same bytes as bzip2 -dc",
    async (file) => {
      // The compiled module: its worker threads run the compiled worker beside it (make test builds dist/ first).
      const { bunzip2 } = (await import(
        join(__dirname, "..", "..", "dist", "provider", "image", "codecs", "bzip2-parallel.js")
      )) as typeof import("../../provider/image/codecs/bzip2-parallel");
      let info: { parallel: boolean; workers: number } | undefined;
      const h = createHash("sha256");
      for await (const chunk of bunzip2(createReadStream(fx.path(file), { highWaterMark: 1 << 16 }) as AsyncIterable<Buffer>, file, {
        workers: 2,
        onStart: (i) => (info = i),
      }))
        h.update(chunk);
      expect(info).toEqual({ parallel: true, workers: 2 });
      const reference = createHash("sha256")
        .update(runBytes("bzip2", ["-dc", fx.path(file)]))
        .digest("hex");
      expect(h.digest("hex")).toBe(reference);
    },
  );
});
