// The guest's boot loader configuration: GRUB's grub.cfg (with BLS entries) or extlinux, and the entry a Droplet boots.
import type { Ext4 } from "../ext4";
import { lines, type Guest, type GuestPartition } from "./guest";
import type { Evidence } from "./types";

export interface BootEntry {
  title: string;
  /** Kernel path as the config names it, and the partition it resolves on (when found). */
  kernel: string;
  initrd: string[];
  cmdline: string;
  evidence: Evidence;
}

export interface BootConfig {
  loader: "grub" | "extlinux";
  partition: GuestPartition & { ext: Ext4 };
  /** The config file's path inside its partition. */
  path: string;
  entry?: BootEntry;
  /** How many menu entries there are. */
  entries: number;
}

/** Where GRUB and extlinux keep their config, on a root filesystem or on a separate /boot partition. */
const GRUB_PATHS = ["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/grub/grub.cfg", "/grub2/grub.cfg"];
const EXTLINUX_PATHS = ["/boot/extlinux/extlinux.conf", "/extlinux/extlinux.conf", "/boot/syslinux/syslinux.cfg", "/syslinux/syslinux.cfg"];

/** Splits a shell-like line into words, keeping quoted strings together (GRUB's and extlinux's syntax are close to it). */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

/** Drops what only makes sense at GRUB run time: variable references and their values. */
const cmdlineOf = (args: string[]) => args.filter((a) => !a.includes("$")).join(" ");

function parseGrub(text: string, path: string): { entries: BootEntry[]; defaultIndex: number; bls: boolean } {
  const entries: BootEntry[] = [];
  let current: BootEntry | null = null;
  let depth = 0;
  let defaultIndex = 0;
  let bls = false;
  for (const l of lines(text)) {
    const t = l.text.replace(/^\s+/, "");
    if (t.startsWith("#")) continue;
    const w = words(t);
    if (w[0] === "set" && /^default=/.test(w[1] ?? "")) {
      const v = w[1].slice(8).replace(/^["']|["']$/g, "");
      if (/^\d+$/.test(v)) defaultIndex = Number(v);
    }
    if (w[0] === "blscfg") bls = true;
    if (w[0] === "menuentry") {
      current = { title: w[1] ?? "", kernel: "", initrd: [], cmdline: "", evidence: { path, line: l.line, text: t.trim() } };
      depth = 1;
      continue;
    }
    if (current) {
      if (/^(linux|linux16|linuxefi)$/.test(w[0] ?? "") && w[1]) {
        current.kernel = w[1];
        current.cmdline = cmdlineOf(w.slice(2));
        current.evidence = { path, line: l.line, text: t.trim() };
      } else if (/^(initrd|initrd16|initrdefi)$/.test(w[0] ?? "")) current.initrd = w.slice(1).filter((a) => !a.includes("$"));
      depth += (t.match(/\{/g) ?? []).length - (t.match(/\}/g) ?? []).length;
      if (depth <= 0) {
        entries.push(current);
        current = null;
      }
    }
  }
  return { entries, defaultIndex, bls };
}

/** BLS entries (/boot/loader/entries/*.conf), as GRUB's blscfg reads them: newest version first. */
async function blsEntries(fs: Ext4, prefix: string): Promise<BootEntry[]> {
  const dir = `${prefix}/loader/entries`;
  const out: (BootEntry & { version: string })[] = [];
  for (const e of (await fs.readdir(dir)) ?? []) {
    if (!e.name.endsWith(".conf")) continue;
    const text = (await fs.readFile(`${dir}/${e.name}`))?.toString("utf8") ?? "";
    const entry = { title: e.name, kernel: "", initrd: [] as string[], cmdline: "", version: "", evidence: { path: `${dir}/${e.name}` } as Evidence };
    for (const l of lines(text)) {
      const [key, ...rest] = l.text.trim().split(/\s+/);
      if (key === "title") entry.title = rest.join(" ");
      else if (key === "version") entry.version = rest.join(" ");
      else if (key === "linux") entry.kernel = rest[0] ?? "";
      else if (key === "initrd") entry.initrd.push(...rest);
      else if (key === "options") entry.cmdline = cmdlineOf(rest);
    }
    out.push(entry);
  }
  return out.sort((a, b) => b.version.localeCompare(a.version, undefined, { numeric: true }));
}

function parseExtlinux(text: string, path: string): { entries: BootEntry[]; defaultLabel?: string } {
  const entries: BootEntry[] = [];
  let defaultLabel: string | undefined;
  let current: BootEntry | null = null;
  for (const l of lines(text)) {
    const [key, ...rest] = l.text.trim().split(/\s+/);
    const k = (key ?? "").toLowerCase();
    if (k === "default") defaultLabel = rest.join(" ");
    else if (k === "label") {
      current = { title: rest.join(" "), kernel: "", initrd: [], cmdline: "", evidence: { path, line: l.line, text: l.text.trim() } };
      entries.push(current);
    } else if (current && (k === "kernel" || k === "linux")) {
      current.kernel = rest[0] ?? "";
      current.evidence = { path, line: l.line, text: l.text.trim() };
    } else if (current && (k === "append" || k === "options")) {
      const initrd = rest.find((a) => a.startsWith("initrd="));
      if (initrd) current.initrd.push(...initrd.slice(7).split(","));
      current.cmdline = rest.filter((a) => !a.startsWith("initrd=")).join(" ");
    } else if (current && (k === "initrd" || k === "fdt")) {
      if (k === "initrd") current.initrd.push(...rest.join(" ").split(","));
    }
  }
  return { entries, defaultLabel };
}

/** Finds the boot loader config on any readable partition (root first) and the entry it boots by default. */
export async function readBootConfig(guest: Guest): Promise<BootConfig | undefined> {
  const readable = guest.partitions.filter((p): p is GuestPartition & { ext: Ext4 } => p.ext !== undefined);
  const parts = guest.root ? [guest.root, ...readable.filter((p) => p !== guest.root)] : readable;
  for (const p of parts) {
    for (const path of GRUB_PATHS) {
      const buf = await p.ext.readFile(path);
      if (!buf) continue;
      const g = parseGrub(buf.toString("utf8"), path);
      let entries = g.entries;
      if (g.bls) entries = [...(await blsEntries(p.ext, path.startsWith("/boot/") ? "/boot" : "")), ...entries];
      const entry = entries[g.bls ? 0 : Math.min(g.defaultIndex, Math.max(0, entries.length - 1))];
      return { loader: "grub", partition: p, path, entry: entry?.kernel ? entry : entries.find((e) => e.kernel), entries: entries.length };
    }
    for (const path of EXTLINUX_PATHS) {
      const buf = await p.ext.readFile(path);
      if (!buf) continue;
      const x = parseExtlinux(buf.toString("utf8"), path);
      const entry = x.entries.find((e) => e.title === x.defaultLabel) ?? x.entries[0];
      return { loader: "extlinux", partition: p, path, entry, entries: x.entries.length };
    }
  }
  return undefined;
}

/**
 * Resolves a path the boot loader names to a file: on the config's own partition as written, and, when /boot is a
 * separate partition, without its leading /boot.
 */
export async function bootFile(guest: Guest, cfg: BootConfig, path: string): Promise<{ partition: GuestPartition & { ext: Ext4 }; path: string } | undefined> {
  const clean = path.replace(/^\([^)]*\)/, "");
  const candidates = [cfg.partition, ...guest.partitions.filter((p): p is GuestPartition & { ext: Ext4 } => p.ext !== undefined && p !== cfg.partition)];
  for (const p of candidates) {
    for (const cand of [clean, clean.replace(/^\/boot(?=\/)/, ""), `/boot${clean}`]) {
      if ((await p.ext.type(cand)) === "file") return { partition: p, path: cand };
    }
  }
  return undefined;
}
