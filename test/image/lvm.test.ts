// LVM2 physical volumes and linear logical volumes: metadata written by LVM's own tools, and by hand where the
// tools cannot be made to write a case (metadata wrapping around its ring buffer, bounds).
import { execFileSync } from "node:child_process";
import { mkdtempSync, openSync, rmSync, writeFileSync, writeSync, closeSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BufferSource } from "../../provider/image/source";
import { logicalVolumes, parseLvmConfig, readPhysicalVolume, LVM_LIMITS } from "../../provider/image/lvm";
import { ImageError } from "../../provider/image/errors";
import { requireTools } from "../support/require";

const MiB = 1024 * 1024;
const PV_UUID = "abcdef0123456789ABCDEF0123456789";
const dashed = "abcdef-0123-4567-89AB-CDEF-0123-456789";

/** A physical volume as pvcreate lays it out: label in sector 1, a metadata area at 4 KiB, extents from 1 MiB. */
function physicalVolume(size: number, text: string, opts: { mdaSize?: number; textOffset?: number } = {}): Buffer {
  const pv = Buffer.alloc(size);
  const mdaSize = opts.mdaSize ?? MiB - 4096;
  pv.write("LABELONE", 512, "latin1");
  pv.writeBigUInt64LE(1n, 520);
  pv.writeUInt32LE(32, 532);
  pv.write("LVM2 001", 536, "latin1");
  let o = 512 + 32;
  pv.write(PV_UUID, o, "latin1");
  pv.writeBigUInt64LE(BigInt(size), o + 32);
  o += 40;
  pv.writeBigUInt64LE(BigInt(MiB), o); // data area from 1 MiB
  o += 32; // its size (0: to the end), then the list's zero pair
  pv.writeBigUInt64LE(4096n, o);
  pv.writeBigUInt64LE(BigInt(mdaSize), o + 8);
  // the metadata area header
  pv.write(" LVM2 x[5A%r0N*>", 4096 + 4, "latin1");
  pv.writeUInt32LE(1, 4096 + 20);
  pv.writeBigUInt64LE(4096n, 4096 + 24);
  pv.writeBigUInt64LE(BigInt(mdaSize), 4096 + 32);
  const body = Buffer.from(text);
  const at = opts.textOffset ?? 512;
  pv.writeBigUInt64LE(BigInt(at), 4096 + 40);
  pv.writeBigUInt64LE(BigInt(body.length), 4096 + 48);
  const first = Math.min(body.length, mdaSize - at);
  body.copy(pv, 4096 + at, 0, first);
  body.copy(pv, 4096 + 512, first); // the rest, wrapped to just after the header
  return pv;
}

const vgText = (segments: string, extra = "") => `vg0 {
id = "VGVGVG-aaaa-bbbb-cccc-dddd-eeee-ffffff"
seqno = 3
extent_size = 8192   # 4 MiB, in sectors
physical_volumes {
pv0 {
id = "${dashed}"
device = "/dev/vda3"  # Hint only
pe_start = 2048
pe_count = 4
}
}
logical_volumes {
root-fs {
id = "LVLVLV-aaaa-bbbb-cccc-dddd-eeee-ffffff"
status = ["READ", "WRITE", "VISIBLE"]
${segments}
}
${extra}
}
}
contents = "Text Format Volume Group"
version = 1
`;

describe("LVM2 physical volumes", () => {
  test("a volume made of two linear segments reads its extents in the volume's order, not the disk's", async () => {
    const text = vgText(`segment_count = 2
segment1 { start_extent = 0
extent_count = 1
type = "striped"
stripe_count = 1
stripes = ["pv0", 2] }
segment2 { start_extent = 1
extent_count = 1
type = "striped"
stripe_count = 1
stripes = [
"pv0", 0
] }`);
    const pv = physicalVolume(MiB + 4 * 4 * MiB, text);
    pv.write("second", MiB); // PV extent 0: the volume's extent 1
    pv.write("first", MiB + 2 * 4 * MiB); // PV extent 2: the volume's extent 0
    const src = new BufferSource(pv, "pv.img");
    const found = await readPhysicalVolume(src);
    expect(found?.uuid).toBe(dashed);
    const [lv] = logicalVolumes([{ pv: found!, source: src }]);
    expect(lv).toMatchObject({ vg: "vg0", name: "root-fs", dmName: "vg0-root--fs", size: 8 * MiB, vgId: "VGVGVGaaaabbbbccccddddeeeeffffff" });
    expect((await lv.source!.read(0, 5)).toString()).toBe("first");
    expect((await lv.source!.read(4 * MiB, 6)).toString()).toBe("second");
    // a read across the two segments joins them
    const across = await lv.source!.read(4 * MiB - 2, 4);
    expect(across.subarray(2).toString()).toBe("se");
    await expect(lv.source!.read(8 * MiB - 1, 2)).rejects.toThrow(/runs past the end/);
  });

  test("metadata text that runs past its area's end continues after the area's header", async () => {
    const text = vgText(`segment_count = 1
segment1 { start_extent = 0
extent_count = 4
type = "striped"
stripe_count = 1
stripes = ["pv0", 0] }`);
    const mdaSize = 8192;
    const pv = physicalVolume(MiB + 16 * MiB, text, { mdaSize, textOffset: mdaSize - 100 });
    const found = await readPhysicalVolume(new BufferSource(pv, "pv.img"));
    expect(found?.metadata).toBe(text);
  });

  test("volumes that are not linear, or lie on another disk, are named and not mapped", async () => {
    const text = vgText(
      `segment_count = 1
segment1 { start_extent = 0
extent_count = 2
type = "striped"
stripe_count = 2
stripe_size = 128
stripes = ["pv0", 0, "pv1", 0] }`,
      `thin { id = "x" status = ["READ", "VISIBLE"] segment_count = 1 segment1 { start_extent = 0 extent_count = 1 type = "thin" thin_pool = "pool" } }
       elsewhere { id = "y" status = ["VISIBLE"] segment_count = 1 segment1 { start_extent = 0 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv9", 0] } }
       hidden_rimage { id = "z" status = ["READ"] segment_count = 1 segment1 { start_extent = 0 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv0", 0] } }`,
    );
    const src = new BufferSource(physicalVolume(MiB + 16 * MiB, text), "pv.img");
    const lvs = logicalVolumes([{ pv: (await readPhysicalVolume(src))!, source: src }]);
    expect(lvs.map((l) => [l.name, l.source ? "mapped" : l.unmapped])).toEqual([
      ["root-fs", "segment1 is of type striped with 2 stripes, which this tool does not map"],
      ["thin", "segment1 is of type thin, which this tool does not map"],
      ["elsewhere", "segment1 lies on physical volume pv9, which is not on this disk"],
    ]);
  });

  test("a source without a label is no physical volume; a broken one is an error naming it", async () => {
    expect(await readPhysicalVolume(new BufferSource(Buffer.alloc(8192), "blank"))).toBeUndefined();
    const pv = physicalVolume(2 * MiB, "x");
    pv.writeUInt32LE(4096, 532); // contents offset outside the sector
    await expect(readPhysicalVolume(new BufferSource(pv, "bad.img"))).rejects.toThrow(/bad.img: LVM physical volume: its label's contents offset 4096/);
    const big = physicalVolume(2 * MiB, "x");
    big.writeBigUInt64LE(BigInt(LVM_LIMITS.metadataBytes + 1), 4096 + 48);
    big.writeBigUInt64LE(BigInt(64 * MiB), 4096 + 32);
    await expect(readPhysicalVolume(new BufferSource(big, "big.img"))).rejects.toThrow(ImageError);
  });

  test("the metadata parser bounds nesting and names the line of a syntax error", () => {
    expect(() => parseLvmConfig("a {\n b = \n}", "m")).toThrow(/m: LVM metadata line 3: expected a value/);
    expect(() => parseLvmConfig("a { ".repeat(LVM_LIMITS.depth + 2), "m")).toThrow(/nested more than/);
    expect(() => parseLvmConfig(`x = ${"[".repeat(LVM_LIMITS.depth + 2)}`, "m")).toThrow(/nested more than/);
    expect(parseLvmConfig('a = "q\\"uote" # c\nb = [1, "two"]\nb = 3\n__proto__ { c = 1 }', "m")).toMatchObject({ a: 'q"uote', b: 3 });
  });
});

// LVM's own tools write the label and metadata; lvcreate needs device-mapper to activate what it makes, so the volume
// is added to the metadata with vgcfgrestore, as the corpus builder does.
const missing = requireTools(["pvcreate", "vgcfgrestore", "losetup"]) ?? (process.getuid?.() !== 0 ? "needs root (loop devices)" : undefined);
(missing ? describe.skip : describe)("metadata written by LVM's tools", () => {
  if (missing) {
    if (process.env.REQUIRE_TOOLS === "1") test("tools the suite needs are present (REQUIRE_TOOLS=1)", () => fail(missing));
    else console.warn(`skipped LVM tool tests: ${missing}`);
    return;
  }
  test("pvcreate, vgcreate and vgcfgrestore's volume maps to the extents LVM reports", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lvm-"));
    const file = join(dir, "pv.img");
    writeFileSync(file, Buffer.alloc(0));
    execFileSync("truncate", ["-s", "64M", file]);
    const loop = execFileSync("losetup", ["--show", "-f", file], { encoding: "utf8" }).trim();
    const env = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: "1" };
    const lvm = (...args: string[]) => execFileSync(args[0], [...args.slice(1)], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const vg = `t${process.pid}`;
    try {
      lvm("pvcreate", "-q", "-ff", "-y", "--devices", loop, loop);
      lvm("vgcreate", "-q", "--devices", loop, vg, loop);
      lvm("vgcfgbackup", "-q", "--devices", loop, "-f", join(dir, "vg.txt"), vg);
      const backup = readFileSync(join(dir, "vg.txt"), "utf8");
      const volume = `\tlogical_volumes {\n\t\tdata {\n\t\t\tid = "${"L".repeat(6)}-aaaa-bbbb-cccc-dddd-eeee-${"f".repeat(6)}"\n\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]\n\t\t\tsegment_count = 2\n\t\t\tsegment1 {\n\t\t\t\tstart_extent = 0\n\t\t\t\textent_count = 2\n\t\t\t\ttype = "striped"\n\t\t\t\tstripe_count = 1\n\t\t\t\tstripes = ["pv0", 5]\n\t\t\t}\n\t\t\tsegment2 {\n\t\t\t\tstart_extent = 2\n\t\t\t\textent_count = 1\n\t\t\t\ttype = "striped"\n\t\t\t\tstripe_count = 1\n\t\t\t\tstripes = ["pv0", 1]\n\t\t\t}\n\t\t}\n\t}\n`;
      const last = backup.lastIndexOf("\n}");
      writeFileSync(join(dir, "vg2.txt"), backup.slice(0, last + 1) + volume + backup.slice(last + 1));
      try {
        lvm("vgcfgrestore", "-q", "--devices", loop, "-f", join(dir, "vg2.txt"), vg);
      } catch {
        // it warns that it cannot check for active volumes without device-mapper, and restores all the same
      }
      const ranges = lvm("lvs", "--devices", loop, "--noheadings", "-o", "seg_pe_ranges", `${vg}/data`).replace(/\s+/g, " ").trim();
      expect(ranges).toBe(`${loop}:5-6 ${loop}:1-1`);
      const peStart = Number(lvm("pvs", "--devices", loop, "--noheadings", "--units", "b", "--nosuffix", "-o", "pe_start", loop).trim());
      const extent = Number(lvm("vgs", "--devices", loop, "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_extent_size", vg).trim());
      const fd = openSync(file, "r+");
      writeSync(fd, Buffer.from("extent five"), 0, 11, peStart + 5 * extent);
      writeSync(fd, Buffer.from("extent one"), 0, 10, peStart + 1 * extent);
      closeSync(fd);
      execFileSync("losetup", ["-d", loop]);
      const src = new BufferSource(readFileSync(file), "pv.img");
      const pv = await readPhysicalVolume(src);
      const [lv] = logicalVolumes([{ pv: pv!, source: src }]);
      expect(lv).toMatchObject({ vg, name: "data", size: 3 * extent });
      expect((await lv.source!.read(0, 11)).toString()).toBe("extent five");
      expect((await lv.source!.read(2 * extent, 10)).toString()).toBe("extent one");
    } finally {
      try {
        execFileSync("losetup", ["-d", loop], { stdio: "ignore" });
      } catch {
        // detached above
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
