// Differential tests of the ext2/3/4 reader: every file and symlink read through it equals what debugfs dumps.
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ext4, FileSource, ImageError, openImage, readPartitionTable, SliceSource } from "../../provider/image";
import { describeWithFixtures, run } from "../support/fixtures";

const FILESYSTEMS = [
  { file: "fs-ext4.img", kind: "ext4", blockSize: 4096, features: ["extents", "64bit", "flex_bg", "metadata_csum", "dir_index"] },
  { file: "fs-ext4-1k.img", kind: "ext4", blockSize: 1024, features: ["extents"] },
  { file: "fs-ext4-inline.img", kind: "ext4", blockSize: 4096, features: ["inline_data"] },
  { file: "fs-ext4-metabg.img", kind: "ext4", blockSize: 1024, features: ["meta_bg"] },
  { file: "fs-ext3-1k.img", kind: "ext3", blockSize: 1024, features: ["has_journal", "dir_index"] },
  { file: "fs-ext2.img", kind: "ext2", blockSize: 4096, features: [] },
];

/** Every path below `dir` in the dumped tree, with what debugfs wrote there. */
function walkDump(dir: string, prefix = ""): Map<string, { type: "file" | "dir" | "symlink"; host: string }> {
  const out = new Map<string, { type: "file" | "dir" | "symlink"; host: string }>();
  for (const name of readdirSync(dir)) {
    const host = join(dir, name);
    const path = `${prefix}/${name}`;
    const st = lstatSync(host);
    if (st.isSymbolicLink()) out.set(path, { type: "symlink", host });
    else if (st.isDirectory()) {
      out.set(path, { type: "dir", host });
      for (const [k, v] of walkDump(host, path)) out.set(k, v);
    } else out.set(path, { type: "file", host });
  }
  return out;
}

async function walkOurs(fs: Ext4, dir = "/", out = new Map<string, string>()): Promise<Map<string, string>> {
  for (const e of (await fs.readdir(dir)) ?? []) {
    if (e.name === "lost+found") continue;
    const path = dir === "/" ? `/${e.name}` : `${dir}/${e.name}`;
    const type = await fs.type(path, false);
    out.set(path, type!);
    if (type === "dir") await walkOurs(fs, path, out);
  }
  return out;
}

async function compareWithDebugfs(fs: Ext4, device: string, scratch: string): Promise<number> {
  const dump = join(scratch, "dump");
  rmSync(dump, { recursive: true, force: true });
  run("mkdir", ["-p", dump]);
  run("debugfs", ["-R", `rdump / ${dump}`, device]);
  const theirs = walkDump(dump);
  theirs.delete("/lost+found");
  const ours = await walkOurs(fs);
  expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
  let compared = 0;
  // Files whose dump differs from our read: debugfs 1.47 dumps all 60 bytes of i_block for an empty inline-data file,
  // and its own stat gives the real size. Asked in one debugfs run for them all, not one process per file.
  const differing: { path: string; mine: Buffer | null; want: Buffer }[] = [];
  for (const [path, t] of theirs) {
    expect(`${path}: ${ours.get(path)}`).toBe(`${path}: ${t.type}`);
    if (t.type === "file") {
      const mine = await fs.readFile(path, Number.MAX_SAFE_INTEGER);
      const want = readFileSync(t.host);
      if (!mine || !mine.equals(want)) differing.push({ path, mine, want });
      compared++;
    } else if (t.type === "symlink") {
      expect(`${path} -> ${await fs.readlink(path)}`).toBe(`${path} -> ${readlinkSync(t.host)}`);
      compared++;
    }
  }
  if (differing.length > 0) {
    const requests = join(scratch, "stat-requests");
    writeFileSync(requests, differing.map((d) => `stat ${d.path}`).join("\n") + "\n");
    const sizes = new Map<string, number>();
    for (const chunk of run("debugfs", ["-f", requests, device])
      .split(/^debugfs: stat /m)
      .slice(1)) {
      const nl = chunk.indexOf("\n");
      sizes.set(chunk.slice(0, nl), Number(/Size: (\d+)/.exec(chunk)?.[1]));
    }
    for (const { path, mine, want } of differing) {
      const size = sizes.get(path);
      if (!mine || size === undefined || mine.length !== size || !want.subarray(0, size).equals(mine))
        throw new Error(`${path}: content differs (${mine?.length} vs ${want.length} bytes)`);
    }
  }
  return compared;
}

describeWithFixtures("ext2/3/4 reader agrees with debugfs", (fx) => {
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), "do-image-ext-"));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test.each(FILESYSTEMS)(
    "$file",
    async ({ file, kind, blockSize, features }) => {
      const src = await FileSource.open(fx.path(file));
      try {
        const fs = await Ext4.open(src, file);
        expect(fs.info).toMatchObject({ kind, blockSize });
        expect(fs.info.features).toEqual(expect.arrayContaining(features));
        const compared = await compareWithDebugfs(fs, fx.path(file), scratch);
        expect(compared).toBeGreaterThan(3000);
        // The hashed directory, the deep extent tree and the symlink cases, checked by name as well.
        expect((await fs.readdir("/many"))!.length).toBe(3000);
        const sparse = (await fs.readFile("/sparse.bin", Number.MAX_SAFE_INTEGER))!;
        expect(sparse.length).toBeGreaterThanOrEqual(199 * 196608 + 9); // mke2fs -d -O inline_data rounds this size down
        expect(sparse.toString("latin1", 199 * 196608, 199 * 196608 + 9)).toBe("block 199");
        expect((await fs.readFile("/links/fast-relative"))!.toString()).toBe("tiny\n");
        expect((await fs.readFile("/links/absolute"))!.length).toBe(1500000);
        expect((await fs.readdir("/links/to-dir/sub"))!.map((e) => e.name)).toContain("large.bin");
        expect(await fs.readFile("/links/slow-dangling")).toBeNull();
        await expect(fs.readFile("/links/loop-a")).rejects.toThrow(ImageError);
      } finally {
        await src.close();
      }
    },
    300_000,
  );

  test("the Debian root of a GPT disk image, read through the qcow2 reader", async () => {
    const image = await openImage(fx.path("good.qcow2"));
    try {
      const table = await readPartitionTable(image.disk, "good.qcow2");
      const root = table.partitions.find((p) => p.name === "root")!;
      const fs = await Ext4.open(new SliceSource(image.disk, root.start, root.size, "good.qcow2 partition 3"), "good.qcow2 partition 3");
      // Merged /usr: /lib is a symlink to usr/lib.
      expect(await fs.readlink("/lib")).toBe("usr/lib");
      expect(await fs.type("/lib/systemd/system/ssh.service")).toBe("file");
      expect((await fs.readFile("/etc/os-release"))!.toString()).toMatch(/ID=debian/);
      const raw = join(scratch, "root.img");
      run("qemu-img", ["convert", "-O", "raw", fx.path("good.qcow2"), join(scratch, "disk.raw")]);
      run("dd", [`if=${join(scratch, "disk.raw")}`, `of=${raw}`, "bs=512", `skip=${root.start / 512}`, `count=${root.size / 512}`, "status=none"]);
      expect(await compareWithDebugfs(fs, raw, scratch)).toBeGreaterThan(300);
    } finally {
      await image.close();
    }
  });
});
