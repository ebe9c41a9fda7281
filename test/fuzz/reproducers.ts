// The hostile guests of issue #26, rebuilt from their descriptions: each is an image, the check that owns what was
// changed, the status it must give, and validate's exit code. `reproduce` runs one through the built CLI in a fresh
// process, as a user runs it, and measures its peak memory (GNU time's maximum resident set) and its duration.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../provider/package";
import { aliasBomb, type GuestMutation } from "./guest-mutate";
import { applyGuest, type Seed } from "./guest";

export interface Reproducer {
  name: string;
  /** "sample": the sample guest (good-gpt.raw); "bootable": a corpus system with a kernel and an initramfs. */
  seed: "sample" | "bootable";
  /** The image, made from the seed in `dir`. */
  build: (seed: Seed, dir: string) => string;
  /** The check that owns the change, and the status it must give; every other check keeps the seed's verdict. */
  owner: { check: string; status: string; message: RegExp };
  /** Other checks that read the same file and may move with it (cloud-init's config sets datasources and network). */
  alsoMoves?: string[];
  exit: number;
}

const CLOUD = ["cloud-init-datasources", "network"];

/** The checks that moved though they do not own the change. */
export function strays(r: Reproducer, seed: Seed, checks: { id: string; status: string }[]): string[] {
  const owners = [r.owner.check, ...(r.alsoMoves ?? [])];
  return checks.filter((c) => !owners.includes(c.id) && seed.baseline[c.id] !== c.status).map((c) => `${c.id}: ${seed.baseline[c.id]} -> ${c.status}`);
}

const edit =
  (requests: string[], files: Record<string, Buffer | string> = {}, owners: string[] = []) =>
  (seed: Seed, dir: string) =>
    applyGuest(
      seed,
      {
        guest: seed.name,
        target: "",
        what: [],
        requests,
        files: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)])),
        owners: owners as GuestMutation["owners"],
      },
      dir,
    );

/**
 * The sample guest's root tree in a larger filesystem, with `n` more files in cloud.cfg.d written through a loop
 * mount (the kernel indexes the directory; mke2fs -d and debugfs insert entry by entry and take minutes).
 */
function manyConfigFiles(n: number) {
  return (seed: Seed, dir: string) => {
    const tree = join(dir, "tree");
    const mnt = join(dir, "mnt");
    mkdirSync(tree, { recursive: true });
    mkdirSync(mnt);
    execFileSync("debugfs", ["-R", `rdump / ${tree}`, `${seed.raw}?offset=${seed.offset}`], { stdio: "ignore" });
    const img = join(dir, "many.raw");
    const mib = 64 + Math.ceil(n / 200);
    execFileSync("truncate", ["-s", `${mib + 2}M`, img]);
    execFileSync("sgdisk", ["-n", "1:2048:0", "-t", "1:8304", img], { stdio: "ignore" });
    execFileSync("mkfs.ext4", ["-q", "-F", "-N", String(n + 4096), "-L", "root", "-E", `offset=${2048 * 512}`, "-d", tree, img, `${mib}M`]);
    execFileSync("mount", ["-o", `loop,offset=${2048 * 512}`, img, mnt]);
    try {
      const d = join(mnt, "etc", "cloud", "cloud.cfg.d");
      for (let i = 0; i < n; i++) writeFileSync(join(d, `zz-${String(i).padStart(6, "0")}.cfg`), `# file ${i}\nmerge_how: dict(recurse_array)+list(append)\n`);
    } finally {
      execFileSync("umount", [mnt]);
    }
    return img;
  };
}

/** cpio "newc" member: header, name, data, each padded to 4 bytes. */
function cpioMember(name: string, size: number): Buffer {
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  const header = `070701${hex(1)}${hex(0o100644)}${hex(0)}${hex(0)}${hex(1)}${hex(0)}${hex(size)}${hex(0)}${hex(0)}${hex(0)}${hex(0)}${hex(name.length + 1)}${hex(0)}`;
  const head = Buffer.from(header + name + "\0", "latin1");
  return Buffer.concat([head, Buffer.alloc((4 - (head.length % 4)) % 4)]);
}

export const REPRODUCERS: Reproducer[] = [
  {
    name: "a billion laughs as the last file of cloud.cfg.d",
    seed: "sample",
    build: edit(["write $DIR/bomb /etc/cloud/cloud.cfg.d/99-zz-bomb.cfg"], { bomb: aliasBomb(16) }),
    owner: { check: "cloud-init", status: "warn", message: /99-zz-bomb.cfg was not read to the end/ },
    alsoMoves: CLOUD,
    exit: 1,
  },
  ...[5000, 20_000, 100_000].map((n): Reproducer => ({
    name: `${n} files in cloud.cfg.d`,
    seed: "sample",
    build: manyConfigFiles(n),
    owner: { check: "cloud-init", status: "pass", message: /cloud-init .* is installed/ },
    exit: 1,
  })),
  {
    name: "an initramfs that unpacks past the 1 GiB bound",
    seed: "bootable",
    build: (seed, dir) => {
      // one cpio member claiming 1.1 GiB of zeros, gzip-compressed: a few megabytes on disk
      mkdirSync(dir, { recursive: true });
      const bomb = join(dir, "bomb.gz");
      const size = 1100 * 2 ** 20;
      writeFileSync(join(dir, "head"), cpioMember("zeros", size));
      execFileSync("bash", ["-o", "pipefail", "-c", `{ cat "${join(dir, "head")}"; head -c ${size} /dev/zero; } | gzip -1 > "${bomb}"`]);
      const initrd = seed.entries.find((e) => e.path.startsWith("/boot/initrd"))!.path;
      return edit([`rm ${initrd}`, `write ${bomb} ${initrd}`])(seed, dir);
    },
    owner: { check: "kernel", status: "warn", message: /initramfs/ },
    exit: 0,
  },
  {
    // GRUB cannot open it ("too deep nesting of symlinks") and boots the kernel without it, which cannot mount its
    // root: a boot of this image fails at the kernel, "VFS: Unable to mount root fs"
    name: "the initramfs GRUB loads is a symlink to itself",
    seed: "bootable",
    build: (seed, dir) => {
      const initrd = seed.entries.find((e) => e.path.startsWith("/boot/initrd"))!.path;
      return edit([`rm ${initrd}`, "cd /boot", `symlink ${initrd.slice("/boot/".length)} ${initrd}`])(seed, dir);
    },
    owner: { check: "kernel", status: "fail", message: /needs virtio_pci, virtio_blk as modules but has no initramfs/ },
    alsoMoves: ["boot-loader"],
    exit: 1,
  },
  {
    // grub_fshelp follows 7 symlinks and fails at the 8th (Linux follows 40): booted, GRUB says "too deep nesting of
    // symlinks" and starts the kernel without its initramfs; with 7 links the same image boots
    name: "the initramfs reached through 8 symlinks, one more than GRUB follows",
    seed: "bootable",
    build: (seed, dir) => {
      const initrd = seed.entries.find((e) => e.path.startsWith("/boot/initrd"))!.path;
      // the initramfs renamed (a second name, then the first removed), and its old name the first of 8 links to it
      const links = Array.from({ length: 7 }, (_, i) => `symlink c${i} ${i < 6 ? `c${i + 1}` : "/boot/real-initrd"}`);
      const name = initrd.slice("/boot/".length);
      return edit(["cd /boot", `ln ${name} real-initrd`, `unlink ${name}`, ...links, `symlink ${name} c0`])(seed, dir);
    },
    owner: { check: "kernel", status: "fail", message: /has no initramfs/ },
    alsoMoves: ["boot-loader"],
    exit: 1,
  },
  {
    name: "cloud.cfg's size field claims 2^62 bytes",
    seed: "sample",
    build: edit(["sif /etc/cloud/cloud.cfg size 0x4000000000000000"]),
    owner: { check: "cloud-init", status: "warn", message: /cloud.cfg was not read to the end/ },
    alsoMoves: CLOUD,
    exit: 1,
  },
  {
    name: "fstab's size field claims a terabyte",
    seed: "sample",
    build: edit(["sif /etc/fstab size 0x10000000000"]),
    owner: { check: "fstab", status: "pass", message: /LABEL=root/ },
    exit: 1,
  },
  {
    name: "16 MiB of NUL bytes as cloud.cfg",
    seed: "sample",
    build: edit(["rm /etc/cloud/cloud.cfg", "write $DIR/nul /etc/cloud/cloud.cfg"], { nul: Buffer.alloc(16 << 20) }),
    owner: { check: "cloud-init", status: "warn", message: /cloud.cfg was not read to the end/ },
    alsoMoves: CLOUD,
    exit: 1,
  },
  {
    name: "a symlink loop at /etc/fstab",
    seed: "sample",
    build: edit(["rm /etc/fstab", "symlink /etc/fstab /etc/fstab"]),
    owner: { check: "fstab", status: "warn", message: /symlink loop/ },
    exit: 1,
  },
  {
    name: "a symlink loop under /etc/cloud",
    seed: "sample",
    build: edit(["rm /etc/cloud/cloud.cfg", "symlink /etc/cloud/cloud.cfg /etc/cloud/cloud.cfg"]),
    owner: { check: "cloud-init", status: "pass", message: /installed/ },
    exit: 1,
  },
  {
    name: "/etc/fstab is a FIFO",
    seed: "sample",
    build: edit(["rm /etc/fstab", "cd /etc", "mknod fstab p"]),
    owner: { check: "fstab", status: "warn", message: /is a FIFO/ },
    exit: 1,
  },
  {
    name: "/etc/fstab is a block device",
    seed: "sample",
    build: edit(["rm /etc/fstab", "cd /etc", "mknod fstab b 253 0"]),
    owner: { check: "fstab", status: "warn", message: /is a block device/ },
    exit: 1,
  },
];

export interface Measured {
  exit: number | null;
  checks: { id: string; status: string; message: string }[];
  seconds: number;
  maxRssMiB: number;
  stderr: string;
}

/** Runs `do-image validate --json IMAGE` from the built CLI under GNU time. */
export function reproduce(image: string, timeoutMs = 120_000): Measured {
  const cli = join(packageRoot(), "dist", "provider", "cli", "main.js");
  const times = `${image}.time`;
  const run = spawnSync("/usr/bin/time", ["-f", "%e %M", "-o", times, process.execPath, cli, "validate", "--json", image], {
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  const [seconds, kib] = readFileSync(times, "utf8").trim().split("\n").pop()!.split(" ").map(Number);
  let checks: Measured["checks"] = [];
  try {
    checks = (JSON.parse(run.stdout) as { checks: Measured["checks"] }).checks;
  } catch {
    checks = [];
  }
  return { exit: run.status, checks, seconds, maxRssMiB: Math.round(kib / 1024), stderr: run.stderr };
}

if (require.main === module) {
  // Prints each reproducer's verdict, exit code, duration and peak memory (the table of the closing note).
  void (async () => {
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { runBuilder } = await import("../support/fixtures");
    const { bootCorpus } = await import("../support/corpus");
    const { Worker } = await import("./fuzz");
    const { guestSeeds } = await import("./guest");
    const work = mkdtempSync(join(tmpdir(), "do-image-reproducers-"));
    const w = new Worker(1024);
    const f = runBuilder(join(packageRoot(), "test", "fixtures", "build.sh"));
    const corpus = bootCorpus(["ok-gpt"]);
    const [sample, bootable] = await guestSeeds({ fixtures: f.dir, corpus: corpus.dir ? [corpus.get("ok-gpt")] : [] }, work, w);
    await w.close();
    const only = new RegExp(process.argv.find((a) => a.startsWith("--only="))?.slice(7) ?? "");
    for (const r of REPRODUCERS.filter((x) => only.test(x.name))) {
      const seed = r.seed === "sample" ? sample : bootable;
      if (!seed) continue;
      const dir = join(work, r.name.replace(/\W+/g, "-"));
      const m = reproduce(r.build(seed, dir));
      const owner = m.checks.find((c) => c.id === r.owner.check);
      const stray = strays(r, seed, m.checks);
      process.stdout.write(
        `${r.name}\texit ${m.exit}\t${owner?.id} ${owner?.status}: ${owner?.message.slice(0, 110)}\t${stray.join(",") || "-"}\t${m.seconds} s\t${m.maxRssMiB} MiB\n`,
      );
      rmSync(dir, { recursive: true, force: true });
    }
    rmSync(work, { recursive: true, force: true });
  })();
}
