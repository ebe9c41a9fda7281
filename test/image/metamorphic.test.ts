// Metamorphic tests on real corpus systems: rewrites that the program deciding the boot treats the same (GRUB,
// systemd's fstab handling, cloud-init's YAML) must not change validate's verdict. Each image is copied to a raw
// file, its root filesystem opened on a loop device, and one file at a time rewritten with debugfs and put back.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openImage, readPartitionTable, validateImage, type ValidationReport } from "../../provider/image";
import { bootCorpus } from "../support/corpus";
import { requireTools } from "../support/require";

/** The images: stock Debian 12 by template, and systems whose boot loader grub-install and update-grub made. */
const IMAGES = ["ok-gpt", "bookworm-mkconfig", "trixie-netplan"];

interface Guest {
  read(path: string): string;
  write(path: string, text: string): void;
  uuid: string;
  partUuid: string;
}

interface Rewrite {
  name: string;
  /** Files to write, from what the image holds; null leaves the image as it is (a rewrite that does not apply). */
  files: (g: Guest) => Record<string, string> | null;
}

/** The default entry of a grub-mkconfig config: its linux and initrd lines, with the search that finds the root. */
function defaultEntry(cfg: string): { linux: string; initrd: string } {
  const body = cfg.slice(cfg.indexOf("\nmenuentry "));
  const linux = /^\s*linux\s+(.*)$/m.exec(body)![1];
  const initrd = /^\s*initrd\s+(.*)$/m.exec(body)![1];
  return { linux, initrd };
}

const GRUB = "/boot/grub/grub.cfg";
const REWRITES: Rewrite[] = [
  {
    name: "grub.cfg as top-level commands, no menu",
    files: (g) => {
      const e = defaultEntry(g.read(GRUB));
      return { [GRUB]: `search --no-floppy --fs-uuid --set=root ${g.uuid}\nlinux ${e.linux}\ninitrd ${e.initrd}\nboot\n` };
    },
  },
  {
    name: "grub.cfg behind a configfile stub",
    files: (g) => ({
      "/boot/grub/real.cfg": g.read(GRUB),
      [GRUB]: `search.fs_uuid ${g.uuid} root\nset prefix=($root)/boot/grub\nconfigfile $prefix/real.cfg\n`,
    }),
  },
  {
    name: "grub.cfg with double quotes and tabs",
    files: (g) => ({ [GRUB]: g.read(GRUB).replace(/'/g, '"').replace(/ /g, "\t") }),
  },
  ...(["LABEL=root", "PARTUUID", "/dev/vda2"] as const).map((form): Rewrite => ({
    name: `fstab names the root by ${form.replace(/=.*/, "")}`,
    files: (g) => {
      const fstab = g.read("/etc/fstab");
      const spec = form === "PARTUUID" ? `PARTUUID=${g.partUuid}` : form;
      return /^UUID=\S+\s+\/\s/m.test(fstab) ? { "/etc/fstab": fstab.replace(/^UUID=\S+(\s+\/\s)/m, `${spec}$1`) } : null;
    },
  })),
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

const missing = requireTools(["qemu-img", "losetup", "debugfs"]) ?? (process.getuid?.() !== 0 ? "needs root (loop devices)" : undefined);
const corpus = missing ? undefined : bootCorpus(IMAGES);
const why = missing ?? (corpus && !corpus.dir ? `boot corpus unavailable: ${corpus.reason}` : undefined);

(why ? describe.skip : describe)("rewrites the deciding program treats the same keep validate's verdict", () => {
  if (why) {
    if (process.env.REQUIRE_TOOLS === "1") test("tools the suite needs are present (REQUIRE_TOOLS=1)", () => fail(why));
    else console.warn(`skipped metamorphic tests: ${why}`);
    return;
  }
  describe.each(IMAGES)("%s", (name) => {
    let dir: string;
    let raw: string;
    let loop: string;
    let guest: Guest;
    let baseline: string;
    // The network check fails for every image once cloud-init's network config is disabled (no DHCP elsewhere):
    // the rewrites of one kind are compared with each other, not with the image as it is.
    const networkVerdicts = new Map<string, string>();

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "metamorphic-"));
      raw = join(dir, `${name}.raw`);
      execFileSync("qemu-img", ["convert", "-O", "raw", corpus!.get(name).path, raw]);
      const image = await openImage(raw);
      const table = await readPartitionTable(image.disk, raw);
      await image.close();
      const root = table.partitions[table.partitions.length - 1];
      loop = execFileSync("losetup", ["--show", "-f", "-o", String(root.start), "--sizelimit", String(root.size), raw], { encoding: "utf8" }).trim();
      const debugfs = (req: string, write = false) =>
        execFileSync("debugfs", [...(write ? ["-w"] : []), "-R", req, loop], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 << 20 });
      const uuid = execFileSync("blkid", ["-s", "UUID", "-o", "value", loop], { encoding: "utf8" }).trim();
      guest = {
        read: (path) => debugfs(`cat ${path}`),
        write: (path, text) => {
          const tmp = join(dir, "file");
          writeFileSync(tmp, text);
          debugfs(`rm ${path}`, true);
          debugfs(`write ${tmp} ${path}`, true);
        },
        uuid,
        partUuid: root.uuid ?? "",
      };
      baseline = verdict(await validateImage(raw));
    }, 10 * 60_000);

    afterAll(() => {
      if (loop) execFileSync("losetup", ["-d", loop]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test.each(REWRITES.map((r) => [r.name, r]))("%s", async (_n, rewrite) => {
      const files = rewrite.files(guest);
      if (!files) return;
      const before = Object.fromEntries(Object.keys(files).map((p) => [p, guest.read(p)]));
      try {
        for (const [p, text] of Object.entries(files)) {
          guest.write(p, text);
          expect(guest.read(p)).toBe(text);
        }
        const got = verdict(await validateImage(raw));
        if (rewrite.name.startsWith("cloud-init's network")) {
          expect(got).toMatch(/^refused: network$/);
          networkVerdicts.set(rewrite.name, got);
          expect(new Set(networkVerdicts.values()).size).toBe(1);
        } else expect(got).toBe(baseline);
      } finally {
        for (const [p, text] of Object.entries(before)) {
          if (text === "") execFileSync("debugfs", ["-w", "-R", `rm ${p}`, loop], { stdio: "ignore" });
          else guest.write(p, text);
        }
      }
    });

    test("the image as it is works", () => {
      expect(baseline).toBe("ok: none");
    });
  });
});
