// GRUB's commands that touch the disk, as GRUB 2.06/2.12 runs them: paths and devices, `[ -f ]`, linux/initrd, search, load_env, blscfg.
import type { Evidence } from "../types";
import { rpmVercmp, parseGrubenv } from "./files";
import type { Entry } from "./menu";
import { parseScript, type Expanded, type Statement } from "./script";
import type { Truth } from "./test-command";
import { GRUB_LIMITS, type GrubFile, type GrubMachine, type GrubPartition } from "./types";

/** Commands that change nothing a boot depends on, and succeed. */
export const HARMLESS = new Set(
  "echo insmod serial terminal_input terminal_output terminal sleep clear save_env set_background_color play gfxmode background_color lsfonts rmmod lsmod loadfont_dummy true".split(
    " ",
  ),
);
/** Commands whose success our reading cannot know, but which change nothing a boot depends on. */
export const UNKNOWN_STATUS = new Set("loadfont background_image keystatus cmp hashsum cat ls videoinfo gfxterm_background cutmem".split(" "));
export const LINUX = new Set(["linux", "linux16", "linuxefi"]);
export const INITRD = new Set(["initrd", "initrd16", "initrdefi"]);
/** Loaders a Droplet's BIOS GRUB may run but our reading does not follow. */
export const OTHER_LOADERS = new Set("chainloader multiboot multiboot2 kfreebsd knetbsd kopenbsd xnu_kernel legacy_configfile ntldr freedos".split(" "));

/** A walk's variables: their values, the ones whose value our reading does not know, and the exported ones. */
export interface Scope {
  vars: Map<string, string>;
  unknown: Set<string>;
  exported: Set<string>;
}

/** What the commands need of the walk running them. */
export interface WalkState {
  readonly machine: GrubMachine;
  readonly reader: (partition: number, path: string) => Promise<Buffer | null | "unknown">;
  scope: Scope;
  file: { partition: number; path: string };
  depth: number;
  normal(file: { partition: number; path: string }, top: boolean): Promise<void>;
  load(file: { partition: number; path: string }): Promise<Statement[]>;
  block(stmts: Statement[]): Promise<Truth>;
  readonly via: Evidence[];
  menu: Entry[];
  loaded?: Loaded;
  set(name: string, value: string, exported?: boolean): void;
  error(at: Evidence, what: string): void;
  finish(kind: "stop" | "unknown", message: string, at?: Evidence, fix?: string): never;
  deviceName(partition: number): string;
}

export interface Loaded {
  kernel: GrubFile;
  initrd: GrubFile[];
  cmdline: string;
  at: Evidence;
}

/** Where a file named in the config lies: a GRUB device and a path. */
function splitDevice(path: string): { device?: string; path: string } {
  const m = /^\(([^)]*)\)(.*)$/.exec(path);
  return m ? { device: m[1], path: m[2] || "/" } : { path };
}

/** A path as GRUB resolves it: `(device)/path`, or `/path` on $root. Unknown when the device is not a partition we can read. */
export function resolve(w: WalkState, name: string): { partition: number; path: string } | "unknown" | "missing-device" {
  const { device, path } = splitDevice(name);
  let dev = device;
  if (dev === undefined) {
    if (w.scope.unknown.has("root")) return "unknown";
    // GRUB takes root with or without parentheses.
    dev = (w.scope.vars.get("root") ?? "").replace(/^\((.*)\)$/, "$1");
  }
  if (dev === "") return "missing-device";
  // A second disk: a Droplet made from the image has one. Other devices (lvm/, md/, cryptouuid/, hd0 whole): not followed.
  if (/^hd[1-9][0-9]*(,|$)/.test(dev)) return "missing-device";
  const m = /^hd0,(?:gpt|msdos)?([0-9]+)$/.exec(dev);
  if (!m) return "unknown";
  const n = Number(m[1]);
  if (!w.machine.partitions.some((p) => p.number === n)) return "missing-device";
  return { partition: n, path };
}

export async function probe(w: WalkState, op: "-e" | "-f" | "-d" | "-s", name: string): Promise<Truth> {
  const r = resolve(w, name);
  if (r === "unknown") return "unknown";
  if (r === "missing-device") return false;
  const part = w.machine.partitions.find((p) => p.number === r.partition);
  if (!part?.files) return "unknown";
  const t = await part.files.type(r.path);
  if (op === "-e") return t !== null;
  if (op === "-d") return t === "dir";
  if (t !== "file") return false;
  if (op === "-f") return true;
  const buf = await w.reader(r.partition, r.path);
  return buf === "unknown" ? "unknown" : (buf?.length ?? 0) > 0;
}

/** The file a boot command names, or why it is not there (GRUB: "file not found", "disk not found"). */
export async function bootFile(w: WalkState, name: string, at: Evidence): Promise<GrubFile | string> {
  const r = resolve(w, name);
  if (r === "unknown")
    w.finish("unknown", `GRUB loads ${name} from a device our reading does not resolve ($root is ${w.scope.vars.get("root") ?? "unset"})`, at);
  if (r === "missing-device") return `${name}: no such device on the disk`;
  const part = w.machine.partitions.find((p) => p.number === r.partition);
  if (!part?.files) w.finish("unknown", `GRUB loads ${name} from partition ${r.partition}, whose filesystem our reading cannot open`, at);
  return (await part.files.type(r.path)) === "file"
    ? { partition: r.partition, path: r.path, as: name }
    : `${name}: file not found on partition ${r.partition}`;
}

export async function linux(w: WalkState, rest: Expanded[], at: Evidence): Promise<Truth> {
  w.loaded = undefined;
  const kernel = rest[0];
  if (!kernel) return false;
  if (kernel.unknown) w.finish("unknown", "GRUB loads a kernel whose path our reading does not know", at);
  const f = await bootFile(w, kernel.text, at);
  if (typeof f === "string") {
    w.error(at, f);
    return false;
  }
  // Arguments our reading does not know are left out of the command line the other checks read.
  const cmdline = rest
    .slice(1)
    .filter((word) => !word.unknown)
    .map((word) => word.text)
    .join(" ");
  w.loaded = { kernel: f, initrd: [], cmdline, at };
  return true;
}

export async function initrd(w: WalkState, rest: Expanded[], at: Evidence): Promise<Truth> {
  if (!w.loaded) {
    w.error(at, "you need to load the kernel first");
    return false;
  }
  const files: GrubFile[] = [];
  for (const word of rest) {
    if (word.text.startsWith("--")) continue;
    if (word.unknown) w.finish("unknown", "GRUB loads an initramfs whose path our reading does not know", at);
    const f = await bootFile(w, word.text, at);
    if (typeof f === "string") {
      w.error(at, f);
      return false;
    }
    files.push(f);
  }
  w.loaded.initrd = files;
  return true;
}

export async function search(w: WalkState, cmd: string, rest: Expanded[], at: Evidence): Promise<Truth> {
  let by = cmd === "search.fs_label" ? "label" : cmd === "search.file" ? "file" : cmd === "search.fs_uuid" ? "uuid" : "file";
  let variable: string | undefined = cmd === "search" ? undefined : "root";
  const names: Expanded[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i].text;
    if (a === "--fs-uuid" || a === "-u") by = "uuid";
    else if (a === "--label" || a === "-l") by = "label";
    else if (a === "--file" || a === "-f") by = "file";
    else if (a === "--set" || a === "-s") variable = "root";
    else if (a.startsWith("--set=")) variable = a.slice(6);
    else if (/^--hint(-[a-z0-9]+)?$/.test(a)) i++;
    else if (a.startsWith("-")) continue;
    else names.push(rest[i]);
  }
  // search NAME VAR (the short forms) take the variable as their second word.
  if (cmd !== "search" && names.length > 1) variable = names.pop()!.text;
  const want = names[0];
  if (!want) return false;
  if (want.unknown) {
    if (variable) w.scope.unknown.add(variable);
    return "unknown";
  }
  let unsure = false;
  let found: GrubPartition | undefined;
  for (const p of w.machine.partitions) {
    if (by === "uuid") {
      if (p.uuid === undefined) unsure ||= !!p.opaque;
      else if (p.uuid.toLowerCase() === want.text.toLowerCase()) found ??= p;
    } else if (by === "label") {
      if (p.label === undefined) unsure ||= !!p.opaque;
      else if (p.label === want.text) found ??= p;
    } else if (!p.files) unsure ||= !!p.opaque;
    else if ((await p.files.type(want.text)) !== null) found ??= p;
    if (found) break;
  }
  if (found) {
    if (variable) w.set(variable, w.deviceName(found.number));
    w.via.push({ ...at, text: `${at.text ?? ""} (found on partition ${found.number})` });
    return true;
  }
  if (unsure) {
    if (variable) w.scope.unknown.add(variable);
    return "unknown";
  }
  w.error(at, `no such device: ${want.text}`);
  return false;
}

/**
 * blscfg (Fedora's and RHEL's GRUB, grub-core/commands/blscfg.c): a menu entry per Boot Loader Specification file in
 * $blsdir (default /loader/entries) on $root, else /boot/loader/entries, newest first by an rpm-style version order
 * of the file names; paths get /boot in front when the entries live under /boot; `options` falls back to
 * $default_kernelopts and is expanded when the entry runs.
 */
export async function blscfg(w: WalkState, rest: Expanded[], at: Evidence): Promise<Truth> {
  if (rest.length > 0) w.finish("unknown", "blscfg with arguments, which our reading does not follow", at);
  const blsdir = w.scope.vars.get("blsdir");
  for (const dir of [blsdir ?? "/loader/entries", "/boot/loader/entries"]) {
    const r = resolve(w, dir);
    if (r === "unknown") w.finish("unknown", `blscfg reads ${dir} on a device our reading does not resolve`, at);
    if (r === "missing-device") return false;
    const files = w.machine.partitions.find((p) => p.number === r.partition)?.files;
    if (!files) w.finish("unknown", `blscfg reads ${dir} on a filesystem our reading cannot open`, at);
    const list = await files.readdir(r.path);
    if (!list) continue;
    const prefix = r.path.startsWith("/boot/") ? "/boot" : "";
    const confs = list.map((e) => e.name).filter((n) => n.endsWith(".conf"));
    // A guest's directory is untrusted: a count past any real install is not sorted and read, but named.
    if (confs.length > GRUB_LIMITS.blsEntries)
      w.finish("unknown", `blscfg reads ${confs.length} entries in ${dir}, more than the ${GRUB_LIMITS.blsEntries} our reading follows`, at);
    const names = confs.sort((a, b) => rpmVercmp(b.slice(0, -5), a.slice(0, -5)));
    for (const name of names) {
      const path = `${r.path.replace(/\/$/, "")}/${name}`;
      const buf = await w.reader(r.partition, path);
      if (buf === "unknown" || !buf) continue;
      const keys = new Map<string, string[]>();
      for (const line of buf.toString("latin1").split("\n")) {
        const m = /^\s*([A-Za-z_]+)\s+(.*?)\s*$/.exec(line);
        if (m && !line.trimStart().startsWith("#")) keys.set(m[1], [...(keys.get(m[1]) ?? []), m[2]]);
      }
      const linux = keys.get("linux")?.[0];
      if (!linux) continue;
      const options = keys.get("options")?.join(" ") ?? "$default_kernelopts";
      const initrds = (keys.get("initrd") ?? []).flatMap((l) => l.split(/\s+/)).map((f) => `${prefix}${f}`);
      const src = `linux ${prefix}${linux} ${options}\n${initrds.length ? `initrd ${initrds.join(" ")}\n` : ""}`;
      const title = keys.get("title")?.[0] ?? linux;
      w.menu.push({
        title,
        id: name.slice(0, -5),
        submenu: false,
        args: [title],
        body: parseScript(src).map((st) => ({ ...st, line: 1 })),
        at: { partition: r.partition, path, line: 1, text: `BLS entry "${title}"` },
      });
    }
    return true;
  }
  return false;
}

export async function loadEnv(w: WalkState, rest: Expanded[], at: Evidence): Promise<Truth> {
  let file = `${w.scope.vars.get("prefix") ?? ""}/grubenv`;
  const only: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i].text;
    if (a === "-f" || a === "--file") file = rest[++i]?.text ?? file;
    else if (a.startsWith("--file=")) file = a.slice(7);
    else if (a === "-s" || a === "--skip-sig") continue;
    else only.push(a);
  }
  if (w.scope.unknown.has("prefix") || rest.some((word) => word.unknown)) w.finish("unknown", "load_env reads a file our reading does not know", at);
  const r = resolve(w, file);
  if (r === "unknown") w.finish("unknown", `load_env reads ${file}, on a device our reading does not resolve`, at);
  if (r === "missing-device") return false;
  const buf = await w.reader(r.partition, r.path);
  if (buf === "unknown") w.finish("unknown", `load_env reads ${file}, on a filesystem our reading cannot open`, at);
  if (!buf) return false;
  for (const [k, v] of parseGrubenv(buf)) {
    if (only.length === 0 || only.includes(k)) w.set(k, v);
  }
  w.via.push({ partition: r.partition, path: r.path, text: "read by load_env" });
  return true;
}

/** configfile and normal run a file with a fresh menu and only the exported variables; source runs it in place. */
export async function include(w: WalkState, cmd: string, rest: Expanded[], at: Evidence): Promise<Truth> {
  const target = rest.find((word) => !word.text.startsWith("-"));
  if (!target) return cmd === "normal" ? w.finish("unknown", "normal without a file", at) : false;
  if (target.unknown) w.finish("unknown", `${cmd} runs a file whose path our reading does not know`, at);
  const r = resolve(w, target.text);
  if (r === "unknown") w.finish("unknown", `${cmd} runs ${target.text}, on a device our reading does not resolve`, at);
  if (r === "missing-device") return false;
  if (++w.depth > GRUB_LIMITS.depth) w.finish("unknown", `configfile and source nested more than ${GRUB_LIMITS.depth} deep`, at);
  try {
    const exists = await w.reader(r.partition, r.path);
    if (exists === "unknown") w.finish("unknown", `${cmd} runs ${target.text}, on a filesystem our reading cannot open`, at);
    if (exists === null) {
      w.error(at, `${target.text}: file not found`);
      return false;
    }
    w.via.push({ ...at, text: `${at.text ?? ""} (runs partition ${r.partition} ${r.path})` });
    if (cmd === "source") {
      const saved = w.file;
      w.file = r;
      try {
        return await w.block(await w.load(r));
      } finally {
        w.file = saved;
      }
    }
    // configfile and normal: a new context with the exported variables, and a menu of its own.
    const savedScope = w.scope;
    const savedMenu = w.menu;
    w.scope = {
      vars: new Map([...savedScope.vars].filter(([k]) => savedScope.exported.has(k))),
      unknown: new Set([...savedScope.unknown].filter((k) => savedScope.exported.has(k))),
      exported: new Set(savedScope.exported),
    };
    w.menu = [];
    try {
      await w.normal(r, false);
    } finally {
      w.scope = savedScope;
      w.menu = savedMenu;
    }
    return true;
  } finally {
    w.depth--;
  }
}
