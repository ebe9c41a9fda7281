// Metamorphic tests on real corpus systems: rewrites that the program deciding the boot treats the same (GRUB's
// script, extlinux's keywords, systemd's fstab, cloud-init's YAML) must not change validate's verdict. Each image is
// copied to a raw file, its filesystems (partitions, and LVM volumes through their metadata) opened on loop devices,
// and one rewrite at a time made with debugfs and undone.
//
// CI runs a sample of the bootable images (those its boots build anyway); METAMORPHIC=all runs every bootable image
// of both corpora, and METAMORPHIC_BOOT=1 also boots a sample of rewrites to confirm that the boot agrees they are
// equivalent (`make metamorphic` does both).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openImage, readPartitionTable, validateImage, type ValidationReport } from "../../provider/image";
import { logicalVolumes, readPhysicalVolume } from "../../provider/image/lvm";
import { SliceSource } from "../../provider/image/source";
import { bootCorpus, bootWithCli, CORPUS_BUILDERS, listWorking } from "../support/corpus";
import { requireTools } from "../support/require";

const ALL = process.env.METAMORPHIC === "all";
const BOOT = process.env.METAMORPHIC_BOOT === "1";
/** The sample CI runs: stock Debian 12 by template, and systems whose boot loader grub-install and update-grub made. */
const SAMPLE = ["ok-gpt", "bookworm-mkconfig", "trixie-netplan", "bookworm-lvm"];
const IMAGES = ALL ? CORPUS_BUILDERS.flatMap(listWorking) : SAMPLE;
/** Rewrites booted under METAMORPHIC_BOOT=1, per image: each must boot as the image does. */
const BOOTED: Record<string, string[]> = {
  "ok-gpt": [
    "grub.cfg as top-level commands, no menu",
    "grub.cfg behind a configfile stub",
    "fstab names the root by PARTUUID",
    "fstab names the root by PARTUUID in uppercase (not the same)",
  ],
  "bookworm-lvm": ["grub.cfg as top-level commands, no menu", "fstab names the root by VG/LV"],
  "bookworm-toplevel": ["grub.cfg as a menu"],
};

/** One ext filesystem of the image, on a loop device. */
interface Fs {
  loop: string;
  uuid: string;
  label: string;
  /** The GPT partition's GUID and number, for a partition; the volume group and volume, for an LVM volume. */
  partUuid?: string;
  number?: number;
  volume?: { vg: string; lv: string; dmName: string };
}

interface Guest {
  root: Fs;
  /** The filesystem mounted at /boot, when it is not the root's. */
  boot?: Fs;
  /** A file's text, "" when it does not exist. */
  read(path: string): string;
  write(path: string, text: string): void;
  remove(path: string): void;
}

interface Rewrite {
  name: string;
  /** Files to write, from what the image holds; null when the rewrite does not apply to this image. */
  files: (g: Guest) => Record<string, string> | null;
  /**
   * For a rewrite the deciding program does NOT treat the same (a control): the check that must fail, and the boot's
   * verdict and stage when it is booted.
   */
  differs?: { check: string; stage: string };
}

const GRUB = "/boot/grub/grub.cfg";
const EXTLINUX = "/boot/extlinux/extlinux.conf";

/** What GRUB boots by default in a config grub-mkconfig or a person wrote: the root search, linux and initrd lines. */
function bootLines(cfg: string): { search: string; linux: string; initrd: string; terminal: string[] } | null {
  const entry = cfg.includes("\nmenuentry ") ? cfg.slice(cfg.indexOf("\nmenuentry ")) : cfg;
  const linux = /^\s*linux\s+(.*)$/m.exec(entry)?.[1];
  const initrd = /^\s*initrd\s+(.*)$/m.exec(entry)?.[1];
  // grub-mkconfig's entry searches with a hint where the platform supports it, and without in its else branch
  const search = [...entry.matchAll(/^\s*(search\s.*--set=root\s.*)$/gm)].map((m) => m[1]).pop();
  // a kernel or initrd named through a variable (a loop over a wildcard) is not a line that can be moved
  if (!linux || !initrd || !search || /\$/.test(linux + initrd)) return null;
  const terminal = cfg.split("\n").filter((l) => /^\s*(serial|terminal_input|terminal_output)\s/.test(l));
  return { search: search.trim(), linux, initrd, terminal: terminal.map((l) => l.trim()) };
}

/** The rewrites of the root's fstab entry: every other name of the same filesystem. */
function fstabForms(g: Guest): [string, string][] {
  const r = g.root;
  return [
    ["UUID", `UUID=${r.uuid}`],
    ...(r.label ? [["LABEL", `LABEL=${r.label}`] as [string, string]] : []),
    // as blkid and udev's by-partuuid links spell it: lowercase
    ...(r.partUuid ? [["PARTUUID", `PARTUUID=${r.partUuid.toLowerCase()}`] as [string, string]] : []),
    ...(r.number !== undefined ? [["device", `/dev/vda${r.number}`] as [string, string]] : []),
    ...(r.volume
      ? [["device-mapper name", `/dev/mapper/${r.volume.dmName}`] as [string, string], ["VG/LV", `/dev/${r.volume.vg}/${r.volume.lv}`] as [string, string]]
      : []),
  ];
}

const FSTAB_FORMS = ["UUID", "LABEL", "PARTUUID", "device", "device-mapper name", "VG/LV"];

const REWRITES: Rewrite[] = [
  {
    name: "grub.cfg as top-level commands, no menu",
    files: (g) => {
      const b = bootLines(g.read(GRUB));
      return (
        b && {
          [GRUB]: [...b.terminal, "insmod part_gpt", "insmod part_msdos", "insmod ext2", b.search, `linux ${b.linux}`, `initrd ${b.initrd}`, "boot", ""].join(
            "\n",
          ),
        }
      );
    },
  },
  {
    name: "grub.cfg as a menu",
    files: (g) => {
      const b = bootLines(g.read(GRUB));
      return (
        b && {
          [GRUB]: [
            ...b.terminal,
            "set default=0",
            "set timeout=1",
            "menuentry 'metamorphic' {",
            `  ${b.search}`,
            `  linux ${b.linux}`,
            `  initrd ${b.initrd}`,
            "}",
            "",
          ].join("\n"),
        }
      );
    },
  },
  {
    name: "grub.cfg behind a configfile stub",
    files: (g) => {
      const cfg = g.read(GRUB);
      if (!cfg) return null;
      // the stub finds the filesystem grub.cfg is on, as Ubuntu's and Fedora's ESP stubs do
      const fs = g.boot ?? g.root;
      const dir = g.boot ? "/grub" : "/boot/grub";
      return { "/boot/grub/real.cfg": cfg, [GRUB]: `search.fs_uuid ${fs.uuid} root\nset prefix=($root)${dir}\nconfigfile $prefix/real.cfg\n` };
    },
  },
  {
    name: "grub.cfg with double quotes and tabs",
    files: (g) => {
      const cfg = g.read(GRUB);
      return cfg ? { [GRUB]: cfg.replace(/'/g, '"').replace(/ /g, "\t") } : null;
    },
  },
  {
    name: "extlinux.conf with lowercase keywords and tabs",
    files: (g) => {
      const cfg = g.read(EXTLINUX);
      return cfg ? { [EXTLINUX]: cfg.replace(/^(\s*)([A-Z]+)\s+/gm, (_m, ws: string, kw: string) => `${ws}${kw.toLowerCase()}\t`) } : null;
    },
  },
  ...FSTAB_FORMS.map((form): Rewrite => ({
    name: `fstab names the root by ${form}`,
    files: (g) => {
      const fstab = g.read("/etc/fstab");
      const to = fstabForms(g).find(([f]) => f === form)?.[1];
      const line = /^(\S+)(\s+\/\s)/m.exec(fstab);
      return to && line && line[1] !== to ? { "/etc/fstab": fstab.replace(/^\S+(\s+\/\s)/m, `${to}$1`) } : null;
    },
  })),
  {
    // A control, found by booting the PARTUUID rewrite when it was spelled in uppercase: mount(8) cannot find the
    // root, systemd-remount-fs fails, the root stays read-only and sshd does not start.
    name: "fstab names the root by PARTUUID in uppercase (not the same)",
    files: (g) => {
      const fstab = g.read("/etc/fstab");
      return g.root.partUuid && /^\S+\s+\/\s/m.test(fstab)
        ? { "/etc/fstab": fstab.replace(/^\S+(\s+\/\s)/m, `PARTUUID=${g.root.partUuid.toUpperCase()}$1`) }
        : null;
    },
    differs: { check: "fstab", stage: "sshd" },
  },
  ...[
    ["flow", "network: {config: disabled}\n"],
    ["block", "network:\n  config: disabled\n"],
    ["split over two files", null],
  ].map(([how, text]): Rewrite => ({
    name: `cloud-init's network config disabled, ${how}`,
    files: (): Record<string, string> =>
      text
        ? { "/etc/cloud/cloud.cfg.d/99-metamorphic.cfg": text }
        : {
            "/etc/cloud/cloud.cfg.d/98-metamorphic.cfg": "network:\n  renderers: [eni]\n",
            "/etc/cloud/cloud.cfg.d/99-metamorphic.cfg": "network: {config: disabled}\n",
          },
  })),
];

/** The verdict in a line: ok or not, and the checks that fail. */
const verdict = (r: ValidationReport) =>
  `${r.ok ? "ok" : "refused"}: ${
    r.checks
      .filter((c) => c.status === "fail")
      .map((c) => c.id)
      .join(" ") || "none"
  }`;

const missing =
  requireTools(["qemu-img", "losetup", "debugfs", "blkid", ...(BOOT ? ["qemu-system-x86_64"] : [])]) ??
  (process.getuid?.() !== 0 ? "needs root (loop devices)" : undefined);
const corpus = missing ? undefined : bootCorpus(IMAGES);
const why = missing ?? (corpus && !corpus.dir ? `boot corpus unavailable: ${corpus.reason}` : undefined);

/** Opens every ext filesystem of a raw image on a loop device: partitions, and linear LVM volumes. */
async function openFilesystems(raw: string, loops: string[]): Promise<Fs[]> {
  const image = await openImage(raw);
  const table = await readPartitionTable(image.disk, raw);
  const places: { offset: number; size: number; partUuid?: string; number?: number; volume?: Fs["volume"] }[] = [];
  for (const p of table.partitions) {
    places.push({ offset: p.start, size: p.size, partUuid: p.uuid, number: p.number });
    const src = new SliceSource(image.disk, p.start, p.size, `partition ${p.number}`);
    const pv = await readPhysicalVolume(src);
    if (!pv) continue;
    for (const lv of logicalVolumes([{ pv, source: src }])) {
      if (lv.segments.length !== 1) continue; // one loop device per volume: only volumes in one piece
      places.push({ offset: p.start + lv.segments[0].at, size: lv.segments[0].length, volume: { vg: lv.vg, lv: lv.name, dmName: lv.dmName } });
    }
  }
  await image.close();
  const out: Fs[] = [];
  for (const pl of places) {
    const loop = execFileSync("losetup", ["--show", "-f", "-o", String(pl.offset), "--sizelimit", String(pl.size), raw], { encoding: "utf8" }).trim();
    loops.push(loop);
    const probe = (tag: string) => {
      try {
        return execFileSync("blkid", ["-s", tag, "-o", "value", loop], { encoding: "utf8" }).trim();
      } catch {
        return "";
      }
    };
    if (probe("TYPE").startsWith("ext"))
      out.push({ loop, uuid: probe("UUID"), label: probe("LABEL"), partUuid: pl.partUuid, number: pl.number, volume: pl.volume });
  }
  return out;
}

(why ? describe.skip : describe)("rewrites the deciding program treats the same keep validate's verdict", () => {
  if (why) {
    if (process.env.REQUIRE_TOOLS === "1") test("tools the suite needs are present (REQUIRE_TOOLS=1)", () => fail(why));
    else console.warn(`skipped metamorphic tests: ${why}`);
    return;
  }
  describe.each(IMAGES)("%s", (name) => {
    let dir: string;
    let raw: string;
    const loops: string[] = [];
    let guest: Guest;
    let baseline: string;
    const applied: string[] = [];
    // The network check fails for most images once cloud-init's network config is disabled (no DHCP elsewhere), not
    // for all (NetworkManager does DHCP itself): the rewrites of one kind are compared with each other.
    const networkVerdicts = new Map<string, string>();

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "metamorphic-"));
      raw = join(dir, `${name}.raw`);
      execFileSync("qemu-img", ["convert", "-O", "raw", corpus!.get(name).path, raw]);
      const filesystems = await openFilesystems(raw, loops);
      const debugfs = (fs: Fs, req: string, write = false) =>
        execFileSync("debugfs", [...(write ? ["-w"] : []), "-R", req, fs.loop], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 << 20 });
      const root = filesystems.find((f) => debugfs(f, "stat /etc/os-release").includes("Inode:"));
      if (!root) throw new Error(`${name}: no filesystem holds /etc/os-release`);
      const bootSpec = /^(\S+)\s+\/boot\s/m.exec(debugfs(root, "cat /etc/fstab"))?.[1];
      const boot = bootSpec ? filesystems.find((f) => bootSpec === `UUID=${f.uuid}` || bootSpec === `LABEL=${f.label}`) : undefined;
      const where = (path: string): [Fs, string] => (boot && path.startsWith("/boot/") ? [boot, path.slice("/boot".length)] : [root, path]);
      guest = {
        root,
        boot,
        read: (path) => {
          const [fs, p] = where(path);
          return debugfs(fs, `stat ${p}`).includes("Inode:") ? debugfs(fs, `cat ${p}`) : "";
        },
        write: (path, text) => {
          const [fs, p] = where(path);
          const tmp = join(dir, "file");
          writeFileSync(tmp, text);
          debugfs(fs, `rm ${p}`, true);
          debugfs(fs, `write ${tmp} ${p}`, true);
        },
        remove: (path) => {
          const [fs, p] = where(path);
          debugfs(fs, `rm ${p}`, true);
        },
      };
      baseline = verdict(await validateImage(raw));
    }, 10 * 60_000);

    afterAll(() => {
      for (const l of loops) execFileSync("losetup", ["-d", l]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test("the image as it is works", () => {
      expect(baseline).toBe("ok: none");
    });

    test.each(REWRITES.map((r) => [r.name, r]))(
      "%s",
      async (_n, rewrite) => {
        const files = rewrite.files(guest);
        if (!files) return;
        applied.push(rewrite.name);
        const before = Object.fromEntries(Object.keys(files).map((p) => [p, guest.read(p)]));
        try {
          for (const [p, text] of Object.entries(files)) {
            guest.write(p, text);
            expect(guest.read(p)).toBe(text);
          }
          const got = verdict(await validateImage(raw));
          if (rewrite.differs) expect(got).toBe(`refused: ${rewrite.differs.check}`);
          else if (rewrite.name.startsWith("cloud-init's network")) {
            networkVerdicts.set(rewrite.name, got);
            expect(new Set(networkVerdicts.values()).size).toBe(1);
          } else expect(got).toBe(baseline);
          if (BOOT && BOOTED[name]?.includes(rewrite.name)) {
            const { report } = await bootWithCli(raw);
            expect({ rewrite: rewrite.name, boot: report.verdict, stage: report.failedStage }).toEqual({
              rewrite: rewrite.name,
              boot: rewrite.differs ? "fails" : "works",
              stage: rewrite.differs?.stage,
            });
          }
        } finally {
          for (const [p, text] of Object.entries(before)) {
            if (text === "") guest.remove(p);
            else guest.write(p, text);
          }
        }
      },
      15 * 60_000,
    );

    test("the rewrites reached the image: one of its boot loader's config, one of its fstab, and all of cloud-init's", () => {
      expect(applied.some((n) => /^(grub\.cfg|extlinux\.conf)/.test(n))).toBe(true);
      expect(applied.filter((n) => n.startsWith("fstab")).length).toBeGreaterThanOrEqual(2);
      expect(applied.filter((n) => n.startsWith("cloud-init")).length).toBe(3);
      for (const r of BOOT ? (BOOTED[name] ?? []) : []) expect(applied).toContain(r);
    });
  });
});
