// Check `cloud-init`: a supported init agent (cloud-init >= 0.7.7 or an alternative) is installed and not disabled.
//
// DigitalOcean's stated requirement is cloud-init 0.7.7 or later, or an equivalent agent. The version is read from
// the package databases (dpkg's status, apk's installed) or cloudinit/version.py. Disabled as cloud-init 20.4–25.x
// disables itself (systemd/cloud-init-generator.tmpl): /etc/cloud/cloud-init.disabled; and as systemd disables
// anything, by a unit masked to /dev/null. (The generator's other switch, `cloud-init=disabled` on the kernel command
// line, is not read here.)
import type { Ext4 } from "../ext4";
import { lines, type Guest } from "./guest";
import { maskedUnits } from "./systemd";
import { result, type CheckResult, type Evidence } from "./types";

const MIN_CLOUD_INIT = [0, 7, 7];
const CLOUD_INIT_UNITS = ["cloud-init-local.service", "cloud-init.service", "cloud-config.service", "cloud-final.service", "cloud-init.target"];

export interface AgentFound {
  agent: "cloud-init" | "cloudbase-init" | "coreos-cloudinit" | "ignition" | "bsd-cloudinit";
  version?: string;
  evidence: Evidence;
}

/** Compares dotted versions numerically ("22.4.2" vs [0,7,7]); epoch and distribution revision are stripped first. */
export function upstreamVersion(packaged: string): number[] {
  const noEpoch = packaged.replace(/^\d+:/, "");
  const noRevision = noEpoch.includes("-") ? noEpoch.slice(0, noEpoch.lastIndexOf("-")) : noEpoch;
  return noRevision.split(/[.~+]/).map((x) => parseInt(x, 10) || 0);
}

export function versionAtLeast(v: number[], min: number[]): boolean {
  for (let i = 0; i < Math.max(v.length, min.length); i++) {
    const a = v[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** A package's version from dpkg's status file or apk's installed database, with the line it is on. */
async function packageVersion(fs: Ext4, pkg: string): Promise<{ version: string; evidence: Evidence } | null> {
  const dpkg = await fs.readFile("/var/lib/dpkg/status");
  if (dpkg) {
    let name = "";
    let installed = false;
    let version: { line: number; text: string } | null = null;
    const flush = () =>
      name === pkg && installed && version
        ? { version: version.text.slice(9).trim(), evidence: { path: "/var/lib/dpkg/status", line: version.line, text: version.text } }
        : null;
    for (const l of lines(dpkg.toString("utf8"))) {
      if (l.text.trim() === "") {
        const found = flush();
        if (found) return found;
        name = "";
        installed = false;
        version = null;
      } else if (l.text.startsWith("Package: ")) name = l.text.slice(9).trim();
      else if (l.text.startsWith("Status: ")) installed = / installed$/.test(l.text.trim());
      else if (l.text.startsWith("Version: ")) version = l;
    }
    const found = flush();
    if (found) return found;
  }
  const apk = await fs.readFile("/lib/apk/db/installed");
  if (apk) {
    let name = "";
    for (const l of lines(apk.toString("utf8"))) {
      if (l.text.startsWith("P:")) name = l.text.slice(2);
      else if (l.text.startsWith("V:") && name === pkg)
        return { version: l.text.slice(2), evidence: { path: "/lib/apk/db/installed", line: l.line, text: l.text } };
      else if (l.text === "") name = "";
    }
  }
  return null;
}

/** cloud-init's own version from cloudinit/version.py, wherever Python keeps it (rpm-based guests, pip installs). */
async function versionPy(fs: Ext4): Promise<{ version: string; evidence: Evidence } | null> {
  const roots = ["/usr/lib", "/usr/local/lib", "/usr/lib64"];
  for (const base of roots) {
    for (const e of (await fs.readdir(base)) ?? []) {
      if (!/^python3/.test(e.name)) continue;
      for (const sub of ["site-packages", "dist-packages"]) {
        const path = `${base}/${e.name}/${sub}/cloudinit/version.py`;
        const text = await fs.readFile(path);
        if (!text) continue;
        for (const l of lines(text.toString("utf8"))) {
          const m = /^__VERSION__\s*=\s*["']([^"']+)["']/.exec(l.text);
          if (m) return { version: m[1], evidence: { path, line: l.line, text: l.text } };
        }
      }
    }
  }
  return null;
}

async function findAlternative(fs: Ext4): Promise<AgentFound | null> {
  const files: [AgentFound["agent"], string][] = [
    ["cloudbase-init", "/usr/bin/cloudbase-init"],
    ["cloudbase-init", "/usr/local/bin/cloudbase-init"],
    ["coreos-cloudinit", "/usr/bin/coreos-cloudinit"],
    ["ignition", "/usr/lib/dracut/modules.d/30ignition/ignition"],
    ["ignition", "/usr/bin/ignition"],
    ["bsd-cloudinit", "/usr/local/bin/bsd-cloudinit"],
  ];
  for (const [agent, path] of files) if (await fs.exists(path)) return { agent, evidence: { path } };
  for (const e of (await fs.readdir("/usr/lib/dracut/modules.d")) ?? []) {
    if (/ignition/.test(e.name)) return { agent: "ignition", evidence: { path: `/usr/lib/dracut/modules.d/${e.name}` } };
  }
  return null;
}

export async function checkCloudInit(
  guest: Guest,
): Promise<{ check: CheckResult; agent: AgentFound | null; /** Whether it will run at boot (installed, not disabled or masked). */ runs: boolean }> {
  const root = guest.root;
  if (!root)
    return { check: result("cloud-init", "unknown", "the root filesystem could not be read, so the init agent was not checked"), agent: null, runs: false };
  const fs = root.ext;
  const pkg = (await packageVersion(fs, "cloud-init")) ?? (await versionPy(fs));
  if (!pkg) {
    const alt = await findAlternative(fs);
    if (alt) return { check: result("cloud-init", "pass", `${alt.agent} is installed`, [{ partition: root.number, ...alt.evidence }]), agent: alt, runs: true };
    return {
      check: result(
        "cloud-init",
        "fail",
        "no cloud-init (nor cloudbase-init, coreos-cloudinit, ignition or bsd-cloudinit) is installed; Droplets would get no network configuration, SSH keys or user data",
        [{ partition: root.number, path: "/var/lib/dpkg/status", text: "no installed cloud-init package" }],
        "install cloud-init in the image (apt-get install cloud-init, dnf install cloud-init, apk add cloud-init) before exporting it",
      ),
      agent: null,
      runs: false,
    };
  }
  const agent: AgentFound = { agent: "cloud-init", version: pkg.version, evidence: pkg.evidence };
  const evidence: Evidence[] = [{ partition: root.number, ...pkg.evidence }];
  if (!versionAtLeast(upstreamVersion(pkg.version), MIN_CLOUD_INIT)) {
    return {
      check: result(
        "cloud-init",
        "fail",
        `cloud-init ${pkg.version} is older than 0.7.7, the oldest DigitalOcean supports`,
        evidence,
        "upgrade cloud-init in the image to a current release",
      ),
      agent,
      runs: true,
    };
  }
  if (await fs.exists("/etc/cloud/cloud-init.disabled", false)) {
    return {
      check: result(
        "cloud-init",
        "fail",
        `cloud-init ${pkg.version} is installed but disabled by /etc/cloud/cloud-init.disabled`,
        [...evidence, { partition: root.number, path: "/etc/cloud/cloud-init.disabled" }],
        "delete /etc/cloud/cloud-init.disabled from the image",
      ),
      agent,
      runs: false,
    };
  }
  const masked = await maskedUnits(fs, CLOUD_INIT_UNITS);
  if (masked.length > 0) {
    const names = masked.map((m) => m.path!.split("/").pop()).join(", ");
    return {
      check: result(
        "cloud-init",
        "fail",
        `cloud-init ${pkg.version} is installed but ${names} ${masked.length > 1 ? "are" : "is"} masked`,
        [...evidence, ...masked.map((m) => ({ partition: root.number, ...m }))],
        `unmask in the image: systemctl unmask ${names.replace(/,/g, "")}`,
      ),
      agent,
      runs: false,
    };
  }
  return { check: result("cloud-init", "pass", `cloud-init ${pkg.version} is installed`, evidence), agent, runs: true };
}
