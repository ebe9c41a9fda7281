// The guest's boot loader configuration read as the loader runs it: GRUB's script (grub/run.ts) or extlinux, and what it boots.
//
// Which loader runs is the one the MBR's boot code belongs to: GRUB's boot.img carries the string "GRUB"; other boot
// code (SYSLINUX's mbr.bin, say) is followed to an extlinux config. GRUB's normal mode reads $prefix/grub.cfg; the
// prefix is compiled into core.img (LZMA-compressed, not read here), so the config is looked for where grub-install
// puts it (/boot/grub, /boot/grub2, and /grub, /grub2 on a separate /boot), and the prefix is taken as its directory.
import type { Ext4 } from "../ext4";
import { ImageError } from "../errors";
import type { PartitionTable } from "../partitions";
import type { LoaderOnDisk } from "./boot-loader";
import { runGrub, type GrubFile, type GrubFiles, type GrubMachine, type GrubOutcome } from "./grub";
import { grubStartup } from "./grub";
import { lines, opaquePartition, type Guest, type GuestPartition } from "./guest";
import { evidenceWhere, type Evidence } from "./types";

export interface BootEntry {
  title: string;
  /** Kernel path as the config names it. */
  kernel: string;
  initrd: string[];
  cmdline: string;
  evidence: Evidence;
  /** Where the loader finds the kernel and initramfs, when the reading resolved them (GRUB). */
  resolved?: GrubFile[];
}

/** What the reading of the config concluded: it boots a kernel, it stops before one (positive evidence), or unsure. */
export interface BootReading {
  verdict: "boots" | "stops" | "unsure";
  message: string;
  fix?: string;
  evidence: Evidence[];
}

export interface BootConfig {
  loader: "grub" | "extlinux";
  partition: GuestPartition & { ext: Ext4 };
  /** The config file's path inside its partition. */
  path: string;
  /** The entry a Droplet boots: the one every way through the config agrees on, else the first way that boots. */
  entry?: BootEntry;
  reading: BootReading;
}

/** Where GRUB and extlinux keep their config, on a root filesystem or on a separate /boot partition. */
const GRUB_PATHS = ["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/grub/grub.cfg", "/grub2/grub.cfg"];
const EXTLINUX_PATHS = ["/boot/extlinux/extlinux.conf", "/extlinux/extlinux.conf", "/boot/syslinux/syslinux.cfg", "/syslinux/syslinux.cfg"];
/** How much of a way through the config its evidence keeps: the last lines, where it booted or stopped. */
const MAX_EVIDENCE = 12;

type ExtPartition = GuestPartition & { ext: Ext4 };

/** grub_fshelp_find_file gives up after this many symlinks in one path ("too deep nesting of symlinks"). */
const GRUB_SYMLINK_HOPS = 7;

/**
 * A filesystem as GRUB sees it: a symlink it cannot resolve (a loop; grub_fshelp gives up at the 8th link, "too deep
 * nesting of symlinks") is a file GRUB cannot open, as a missing one is, and not an error that ends the reading of
 * the config: the entry's other files and its command line are still known.
 */
function grubView(ext: Ext4): GrubFiles {
  const grub = ext.withSymlinkHops(GRUB_SYMLINK_HOPS);
  const unopenable = <T>(read: Promise<T>): Promise<T | null> =>
    read.catch((err: unknown) => {
      if (err instanceof ImageError && err.code === "ext-symlink-loop") return null;
      throw err;
    });
  return {
    readFile: (path, limit) => unopenable(grub.readFile(path, limit)),
    type: (path) => unopenable(grub.type(path)),
    readdir: (path) => unopenable(grub.readdir(path)),
  };
}

function grubMachine(guest: Guest, table: PartitionTable): GrubMachine {
  return {
    scheme: table.scheme === "gpt" ? "gpt" : "msdos",
    // GRUB reaches a logical volume only through its lvm module, which our reading does not follow: the volume group's
    // partition stays opaque, so a search that could end there is left to a boot.
    partitions: guest.partitions
      .filter((p) => !p.volume)
      .map((p) => ({
        number: p.number,
        uuid: p.uuid,
        label: p.label,
        files: p.ext ? grubView(p.ext) : undefined,
        fsType: p.fsType,
        opaque: opaquePartition(p),
      })),
  };
}

const sameBoot = (a: GrubOutcome & { kind: "boot" }, b: GrubOutcome & { kind: "boot" }) =>
  a.kernel.partition === b.kernel.partition &&
  a.kernel.path === b.kernel.path &&
  a.initrd.map((f) => `${f.partition}:${f.path}`).join(" ") === b.initrd.map((f) => `${f.partition}:${f.path}`).join(" ");

const describe = (o: GrubOutcome) =>
  o.kind === "boot"
    ? `boots ${o.kernel.as}${o.title ? ` ("${o.title}")` : ""}`
    : o.kind === "stop"
      ? `stops: ${o.message}`
      : `cannot be followed: ${o.message}`;

/** One reading from every way GRUB can go: a verdict only when they all agree. */
export function summarize(outcomes: GrubOutcome[]): { reading: BootReading; entry?: BootEntry } {
  const boots = outcomes.filter((o): o is GrubOutcome & { kind: "boot" } => o.kind === "boot");
  const first = boots[0];
  const entry: BootEntry | undefined = first && {
    title: first.title ?? "(top-level commands)",
    kernel: first.kernel.as,
    initrd: first.initrd.map((f) => f.as),
    cmdline: first.cmdline,
    evidence: first.via[first.via.length - 1] ?? {},
    resolved: [first.kernel, ...first.initrd],
  };
  const trail = (o: GrubOutcome) => o.via.slice(-MAX_EVIDENCE);
  if (boots.length === outcomes.length && boots.every((b) => sameBoot(b, first))) {
    return { reading: { verdict: "boots", message: describe(first), evidence: trail(first) }, entry };
  }
  const stops = outcomes.filter((o): o is GrubOutcome & { kind: "stop" } => o.kind === "stop");
  if (stops.length === outcomes.length) {
    return { reading: { verdict: "stops", message: stops[0].message, fix: stops[0].fix, evidence: trail(stops[0]) }, entry };
  }
  const unknown = outcomes.find((o) => o.kind === "unknown");
  const message = unknown
    ? `our reading of GRUB's config cannot follow it to the end: ${unknown.message}${unknown.via.length ? ` (${evidenceWhere(unknown.via[unknown.via.length - 1])})` : ""}`
    : `GRUB's config goes different ways depending on conditions our reading cannot decide: it ${[...new Set(outcomes.map(describe))].join("; or it ")}`;
  return { reading: { verdict: "unsure", message, evidence: trail(unknown ?? outcomes[0]) }, entry };
}

/** BLS entries are read by GRUB's blscfg command (grub/run.ts); extlinux by this: DEFAULT, LABEL, KERNEL/LINUX, APPEND, INITRD, INCLUDE. */
async function parseExtlinux(fs: Ext4, path: string, depth = 0): Promise<{ entries: BootEntry[]; defaultLabel?: string; includes: string[] }> {
  const entries: BootEntry[] = [];
  let defaultLabel: string | undefined;
  let current: BootEntry | null = null;
  const includes: string[] = [];
  const text = (await fs.readFile(path, 1024 * 1024))?.toString("latin1") ?? "";
  for (const l of lines(text)) {
    const [key, ...rest] = l.text.trim().split(/\s+/);
    const k = (key ?? "").toLowerCase();
    if (k === "default") defaultLabel = rest.join(" ");
    else if (k === "menu" && rest[0]?.toLowerCase() === "default" && current) defaultLabel = current.title;
    else if (k === "include" && rest[0] && depth < 8) {
      const inc = rest[0].startsWith("/") ? rest[0] : `${path.replace(/\/[^/]*$/, "")}/${rest[0]}`;
      includes.push(inc);
      const sub = await parseExtlinux(fs, inc, depth + 1);
      entries.push(...sub.entries);
      defaultLabel ??= sub.defaultLabel;
    } else if (k === "label") {
      current = { title: rest.join(" "), kernel: "", initrd: [], cmdline: "", evidence: { path, line: l.line, text: l.text.trim() } };
      entries.push(current);
    } else if (current && (k === "kernel" || k === "linux")) {
      current.kernel = rest[0] ?? "";
      current.evidence = { path, line: l.line, text: l.text.trim() };
    } else if (current && (k === "append" || k === "options")) {
      const initrd = rest.find((a) => a.startsWith("initrd="));
      if (initrd) current.initrd.push(...initrd.slice(7).split(","));
      current.cmdline = rest.filter((a) => !a.startsWith("initrd=")).join(" ");
    } else if (current && k === "initrd") current.initrd.push(...rest.join(" ").split(","));
  }
  return { entries, defaultLabel, includes };
}

async function readExtlinux(guest: Guest, p: ExtPartition, path: string): Promise<BootConfig> {
  const x = await parseExtlinux(p.ext, path);
  const entry = x.entries.find((e) => e.title === x.defaultLabel) ?? x.entries[0];
  const cfg: BootConfig = { loader: "extlinux", partition: p, path, entry, reading: { verdict: "unsure", message: "", evidence: [] } };
  if (!entry?.kernel) {
    cfg.reading = {
      verdict: "unsure",
      message: `${path} names no LABEL with a KERNEL that our reading of extlinux follows${x.defaultLabel ? ` (DEFAULT ${x.defaultLabel})` : ""}`,
      evidence: [{ partition: p.number, path }],
    };
    return cfg;
  }
  const evidence = [{ partition: p.number, ...entry.evidence }];
  const missing: string[] = [];
  for (const f of [entry.kernel, ...entry.initrd]) if (!(await bootFile(guest, cfg, f))) missing.push(f);
  cfg.reading = missing.length
    ? {
        verdict: "stops",
        message: `${path} boots "${entry.title}", whose ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not in the image`,
        fix: "install the kernel and initramfs the entry names, or correct the entry",
        evidence,
      }
    : { verdict: "boots", message: `boots ${entry.kernel} ("${entry.title}")`, evidence };
  return cfg;
}

/**
 * Reads the config of the loader the MBR's boot code belongs to, as that loader runs it. For GRUB with a readable
 * core image, the config is the one its prefix names, reached as GRUB's kernel reaches it (grub/startup.ts); else it is
 * looked for where grub-install puts it, root partition first. With no boot code at all, GRUB's config (else
 * extlinux's) is still read, for the kernel command line the other checks use.
 */
export async function readBootConfig(guest: Guest, table: PartitionTable, loader: Pick<LoaderOnDisk, "code" | "core">): Promise<BootConfig | undefined> {
  const readable = guest.partitions.filter((p): p is ExtPartition => p.ext !== undefined && !p.volume);
  const parts = guest.root ? [guest.root, ...readable.filter((p) => p !== guest.root)] : readable;
  const machine = grubMachine(guest, table);
  const grubAt = async (p: ExtPartition, path: string, vars?: { root: string; prefix: string }, before: Evidence[] = []): Promise<BootConfig> => {
    const { reading, entry } = summarize(await runGrub(machine, { partition: p.number, path, ...vars }));
    return { loader: "grub", partition: p, path, entry, reading: { ...reading, evidence: [...before, ...reading.evidence] } };
  };
  const grub = async (): Promise<BootConfig | undefined> => {
    for (const p of parts) for (const path of GRUB_PATHS) if ((await p.ext.type(path)) === "file") return grubAt(p, path);
    return undefined;
  };
  const extlinux = async (): Promise<BootConfig | undefined> => {
    for (const p of parts) for (const path of EXTLINUX_PATHS) if ((await p.ext.type(path)) === "file") return readExtlinux(guest, p, path);
    return undefined;
  };
  if (loader.code === "grub" && loader.core && typeof loader.core !== "string") {
    const start = grubStartup(loader.core, machine);
    const fallback = parts[0];
    if (!fallback) return undefined;
    if (start.kind !== "normal") {
      return {
        loader: "grub",
        partition: fallback,
        path: "core.img",
        reading: {
          verdict: start.kind === "stop" ? "stops" : "unsure",
          message: start.message,
          fix: start.kind === "stop" ? start.fix : undefined,
          evidence: start.evidence,
        },
      };
    }
    const p = readable.find((x) => x.number === start.config.partition);
    const dir = start.config.path.replace(/\/grub\.cfg$/, "");
    if (!p) {
      return {
        loader: "grub",
        partition: fallback,
        path: start.config.path,
        reading: {
          verdict: "unsure",
          message: `GRUB's prefix ${start.prefix} is on partition ${start.config.partition}, a filesystem our reading cannot open`,
          evidence: start.evidence,
        },
      };
    }
    const stop = (message: string, fix: string): BootConfig => ({
      loader: "grub",
      partition: p,
      path: start.config.path,
      reading: { verdict: "stops", message, fix, evidence: [...start.evidence, { partition: p.number, path: dir }] },
    });
    const reinstall = "reinstall GRUB in the image so its prefix holds its modules and config: grub-install --target=i386-pc DISK, then update-grub";
    if ((await p.ext.type(`${dir}/i386-pc/normal.mod`)) !== "file")
      return stop(`GRUB cannot load ${dir}/i386-pc/normal.mod from its prefix ${start.prefix} (file not found), so it stops at "grub rescue>"`, reinstall);
    if ((await p.ext.type(start.config.path)) !== "file")
      return stop(
        `GRUB's normal mode finds no config at ${start.prefix}/grub.cfg and stops at its grub> prompt`,
        "generate the config in the image: update-grub (grub-mkconfig -o /boot/grub/grub.cfg)",
      );
    return grubAt(p, start.config.path, { root: start.root, prefix: start.prefix }, start.evidence);
  }
  if (loader.code === "grub") return grub();
  if (loader.code === "other") return extlinux();
  return (await grub()) ?? (await extlinux());
}

/**
 * Resolves a path the boot loader names to a file: where the GRUB reading found it, else on the config's own
 * partition as written, and, when /boot is a separate partition, without its leading /boot.
 */
export async function bootFile(guest: Guest, cfg: BootConfig, path: string): Promise<{ partition: ExtPartition; path: string } | undefined> {
  const known = cfg.entry?.resolved?.find((f) => f.as === path);
  if (known) {
    const p = guest.partitions.find((x): x is ExtPartition => x.number === known.partition && x.ext !== undefined && !x.volume);
    if (p) return { partition: p, path: known.path };
  }
  const clean = path.replace(/^\([^)]*\)/, "");
  const relative = clean.startsWith("/") ? clean : `${cfg.path.replace(/\/[^/]*$/, "")}/${clean}`;
  const candidates = [cfg.partition, ...guest.partitions.filter((p): p is ExtPartition => p.ext !== undefined && !p.volume && p !== cfg.partition)];
  for (const p of candidates) {
    for (const cand of [relative, relative.replace(/^\/boot(?=\/)/, ""), `/boot${relative}`]) {
      if ((await p.ext.type(cand)) === "file") return { partition: p, path: cand };
    }
  }
  return undefined;
}
