// Partition tables from in-memory disks: GPT at both sector sizes, damaged copies, MBR with logical partitions.
import { BufferSource, ImageError, readPartitionTable } from "../../provider/image";
import { gptDisk, mbrDisk } from "../support/builders";

const MiB = 1024 * 1024;
const LINUX_ROOT = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";
const BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649";
const read = (buf: Buffer) => readPartitionTable(new BufferSource(buf, "disk"), "disk");

describe("GPT", () => {
  const cases = [
    { sectorSize: 512 as const, bios: [34, 2081], root: [2082, 16000] },
    { sectorSize: 4096 as const, bios: [6, 261], root: [262, 2000] },
  ];
  test.each(cases)("reads a GPT in $sectorSize-byte sectors", async ({ sectorSize, bios, root }) => {
    const disk = gptDisk({
      size: 16 * MiB,
      sectorSize,
      partitions: [
        { firstLba: bios[0], lastLba: bios[1], type: BIOS_BOOT, name: "bios" },
        { firstLba: root[0], lastLba: root[1], type: LINUX_ROOT, name: "root" },
      ],
    });
    const t = await read(disk);
    expect(t.scheme).toBe("gpt");
    expect(t.sectorSize).toBe(sectorSize);
    expect(t.diskId).toBe("11111111-2222-4333-8444-555555555555");
    expect(t.notes).toEqual([]);
    expect(t.partitions).toEqual([
      expect.objectContaining({ number: 1, start: bios[0] * sectorSize, size: (bios[1] - bios[0] + 1) * sectorSize, typeName: "BIOS boot", name: "bios" }),
      expect.objectContaining({ number: 2, start: root[0] * sectorSize, type: LINUX_ROOT, typeName: "Linux root (x86-64)", name: "root" }),
    ]);
  });

  test("falls back to the backup when the primary header is damaged, and says so", async () => {
    const t = await read(gptDisk({ size: 8 * MiB, partitions: [{ firstLba: 2048, lastLba: 4095, type: LINUX_ROOT }], damagePrimary: true }));
    expect(t.partitions).toHaveLength(1);
    expect(t.notes.join()).toMatch(/primary GPT .* damaged; read the backup/);
  });

  test("notes a missing backup header", async () => {
    const t = await read(gptDisk({ size: 8 * MiB, partitions: [{ firstLba: 2048, lastLba: 4095, type: LINUX_ROOT }], omitBackup: true }));
    expect(t.notes.join()).toMatch(/no valid backup GPT header/);
  });

  test("a truncated disk is an error naming where the GPT says the disk ends", async () => {
    const disk = gptDisk({ size: 8 * MiB, partitions: [{ firstLba: 2048, lastLba: 4095, type: LINUX_ROOT }] }).subarray(0, 4 * MiB);
    const err = await read(disk).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as ImageError).code).toBe("truncated");
    expect((err as ImageError).message).toMatch(/backup header at LBA 16383.*only 4194304 bytes/);
  });
});

describe("MBR", () => {
  test("primary, extended and logical partitions in Linux numbering", async () => {
    const disk = mbrDisk({
      size: 64 * MiB,
      primary: [{ startSector: 2048, sectors: 40960, type: 0x83, bootable: true }],
      extended: { startSector: 43008, sectors: 86016 },
      logical: [
        { sectors: 16384, type: 0x82 },
        { sectors: 20480, type: 0x83 },
      ],
    });
    const t = await read(disk);
    expect(t.scheme).toBe("mbr");
    expect(t.diskId).toBe("0xcafef00d");
    expect(t.partitions.map((p) => [p.number, p.start / 512, p.size / 512, p.type, p.bootable])).toEqual([
      [1, 2048, 40960, "83", true],
      [2, 43008, 86016, "0f", false],
      [5, 45056, 16384, "82", false],
      [6, 63488, 20480, "83", false],
    ]);
  });

  test("a bare ext4 filesystem is named, not mistaken for a partition table", async () => {
    const disk = Buffer.alloc(4 * MiB);
    disk.writeUInt16LE(0xef53, 1080);
    const t = await read(disk);
    expect(t).toMatchObject({ scheme: "none", bare: "an ext2/3/4 filesystem" });
  });
});
