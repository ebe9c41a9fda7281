// How the guest's init starts things: which init it runs, which systemd units are enabled, and which are masked.
//
// The init is what the kernel runs as /sbin/init (its symlink names systemd or OpenRC; sysvinit has /etc/inittab).
// systemd's unit search path for the system manager (systemd.unit(5)): /etc/systemd/system, then /usr/lib (and /lib
// before the /usr merge); a unit linked to /dev/null in /etc is masked. sysvinit's boot order is sysv-rc's
// (/etc/init.d/rc 3.06): every rcS.d S link, then the default runlevel's, by their two-digit numbers.
import picomatch from "picomatch";
import type { Ext4 } from "../ext4";
import type { Evidence } from "./types";

export type Init = { kind: "systemd" | "openrc" | "sysvinit" | "unknown"; evidence: Evidence };

export async function detectInit(fs: Ext4): Promise<Init> {
  const initLink = (await fs.readlink("/sbin/init")) ?? (await fs.readlink("/usr/sbin/init"));
  if (initLink && /systemd/.test(initLink)) return { kind: "systemd", evidence: { path: "/sbin/init", text: `-> ${initLink}` } };
  for (const p of ["/usr/lib/systemd/systemd", "/lib/systemd/systemd"]) if ((await fs.type(p)) === "file") return { kind: "systemd", evidence: { path: p } };
  if (initLink && /openrc/.test(initLink)) return { kind: "openrc", evidence: { path: "/sbin/init", text: `-> ${initLink}` } };
  for (const p of ["/sbin/openrc", "/usr/sbin/openrc", "/etc/runlevels"]) if (await fs.exists(p)) return { kind: "openrc", evidence: { path: p } };
  if ((await fs.type("/etc/inittab")) === "file") return { kind: "sysvinit", evidence: { path: "/etc/inittab" } };
  if ((await fs.type("/etc/systemd/system")) === "dir")
    return { kind: "systemd", evidence: { path: "/etc/systemd/system", text: "systemd configuration present (no init binary in the image)" } };
  return { kind: "unknown", evidence: { text: "no systemd, OpenRC or sysvinit found" } };
}

/** Units in /etc/systemd/system that are symlinks to /dev/null, i.e. masked. */
export async function maskedUnits(fs: Ext4, units: string[]): Promise<Evidence[]> {
  const out: Evidence[] = [];
  for (const u of units) {
    const path = `/etc/systemd/system/${u}`;
    if ((await fs.readlink(path)) === "/dev/null") out.push({ path, text: `${u} -> /dev/null` });
  }
  return out;
}

const UNIT_DIRS = ["/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"];

/** Links that pull one of the units into a boot target: <dir>/<target>.wants/<unit> in /etc, or vendor-enabled under /usr/lib. */
export async function enablingLinks(fs: Ext4, units: string[]): Promise<Evidence[]> {
  const out: Evidence[] = [];
  for (const dir of UNIT_DIRS) {
    for (const e of (await fs.readdir(dir)) ?? []) {
      if (!/\.(wants|requires)$/.test(e.name)) continue;
      for (const unit of (await fs.readdir(`${dir}/${e.name}`)) ?? []) {
        if (!units.includes(unit.name)) continue;
        const path = `${dir}/${e.name}/${unit.name}`;
        const target = await fs.readlink(path);
        out.push({ path, text: target ? `-> ${target}` : "unit file" });
      }
    }
  }
  return out;
}

const PRESET_DIRS = ["/etc/systemd/system-preset", "/usr/local/lib/systemd/system-preset", "/usr/lib/systemd/system-preset", "/lib/systemd/system-preset"];

/** fnmatch(3) without flags, as systemd matches preset patterns against unit names (no braces, extglobs or negation). */
const fnmatch = (pattern: string, name: string): boolean => picomatch.isMatch(name, pattern, { dot: true, nonegate: true, noextglob: true, nobrace: true });

/**
 * Whether systemd enables `unit` itself at the first boot. When /etc/machine-id is absent or says "uninitialized"
 * (an empty one is not a first boot; "uninitialized" since v247), PID 1 applies the presets to every unit file
 * (manager_preset_all in src/core/manager.c, v215 on: `systemctl preset-all`, in enable-only mode unless built with
 * first-boot-full-preset). A unit is enabled unless the first `enable`/`disable` line matching its name, over the
 * *.preset files in name order (a name in /etc hiding the same name in /usr/lib), says disable: with no matching
 * line, "Preset files don't specify rule for …. Enabling." (query_presets in src/shared/install.c; systemd.preset(5)).
 * Enabling needs an [Install] section naming a target, and /etc writable when PID 1 starts: the root is mounted as
 * the kernel command line's last `ro` or `rw` says, read-only without either (the kernel's and initramfs-tools' and
 * dracut's default), and on a read-only root systemd logs "Failed to populate /etc with preset unit settings,
 * ignoring: Read-only file system" (seen booting the corpus image bookworm-ssh-preset); the caller judges that from
 * the command line. Returns the evidence when the presets would enable the unit.
 */
export async function firstBootPreset(fs: Ext4, unit: string): Promise<Evidence | undefined> {
  const id = await fs.readFile("/etc/machine-id", 4096);
  if (id && id.toString("utf8").trim() !== "uninitialized") return undefined;
  // preset-all applies to the unit files there are, through their [Install] section
  let file: string | undefined;
  for (const dir of UNIT_DIRS) {
    const text = (await fs.readFile(`${dir}/${unit}`, 1024 * 1024))?.toString("utf8");
    if (text !== undefined && /^\s*(WantedBy|RequiredBy)\s*=\s*\S/m.test(text)) file ??= `${dir}/${unit}`;
  }
  if (!file) return undefined;
  const state = id ? "uninitialized" : "absent";
  const files = new Map<string, string>();
  for (const dir of PRESET_DIRS) {
    for (const e of (await fs.readdir(dir)) ?? []) if (e.name.endsWith(".preset") && !files.has(e.name)) files.set(e.name, `${dir}/${e.name}`);
  }
  for (const name of [...files.keys()].sort()) {
    const path = files.get(name)!;
    const text = (await fs.readFile(path, 1024 * 1024))?.toString("utf8") ?? "";
    for (const [i, line] of text.split("\n").entries()) {
      const w = line.trim().split(/\s+/);
      if ((w[0] !== "enable" && w[0] !== "disable") || !w[1] || !fnmatch(w[1], unit)) continue;
      return w[0] === "enable" ? { path, line: i + 1, text: `${line.trim()} (applied at the first boot: /etc/machine-id is ${state})` } : undefined;
    }
  }
  return { path: file, text: `no preset names ${unit}, so systemd enables it at the first boot (/etc/machine-id is ${state})` };
}

/** Where sysvinit starts a script at boot: its S link in /etc/rcS.d (first) or in the default runlevel's directory. */
export interface SysvStart {
  /** Order of the start: rcS before the runlevel, then the link's two-digit number. */
  order: number;
  path: string;
}

/**
 * The S links that start each of `scripts` at boot under sysvinit (sysv-rc's /etc/init.d/rc: every rcS.d script, then
 * the default runlevel's from /etc/inittab's initdefault, 2 when it names none), in the order they run.
 */
export async function sysvStarts(fs: Ext4, scripts: string[]): Promise<Map<string, SysvStart>> {
  const inittab = (await fs.readFile("/etc/inittab", 64 * 1024))?.toString("utf8") ?? "";
  const level = /^[^#:]*:(\d):initdefault:/m.exec(inittab)?.[1] ?? "2";
  const out = new Map<string, SysvStart>();
  for (const [i, dir] of [`/etc/rcS.d`, `/etc/rc${level}.d`].entries()) {
    for (const e of (await fs.readdir(dir)) ?? []) {
      const m = /^S(\d\d)(.+)$/.exec(e.name);
      if (m && scripts.includes(m[2]) && !out.has(m[2])) out.set(m[2], { order: i * 100 + Number(m[1]), path: `${dir}/${e.name}` });
    }
  }
  return out;
}
