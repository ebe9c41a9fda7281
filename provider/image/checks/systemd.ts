// How the guest's init starts things: which init it runs, which systemd units are enabled, and which are masked.
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
