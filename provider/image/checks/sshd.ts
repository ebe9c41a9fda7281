// Check `sshd`: the SSH daemon is installed and started at boot by the guest's init system (systemd decides where it is the init).
//
// systemd (v245–v257; systemd.unit(5), systemd.preset(5)): a unit starts at boot when a .wants/ or .requires/ link in
// /etc or /usr/lib pulls it into a target, is not masked, or, at the first boot, when the presets enable it
// (systemd.ts: firstBootPreset). OpenRC: a link in /etc/runlevels/{default,boot,sysinit}. sysvinit (sysv-rc): an S link
// in /etc/rc[2-5].d. sshd must also be there: /usr/sbin/sshd (OpenSSH).
import { detectInit, enablingLinks, firstBootPreset, maskedUnits } from "./systemd";
import type { Guest } from "./guest";
import { CHECK_BY_BOOTING, result, type CheckResult, type Evidence } from "./types";

const SSHD_PATHS = ["/usr/sbin/sshd", "/usr/bin/sshd", "/usr/local/sbin/sshd"];
const SSH_UNITS = ["ssh.service", "sshd.service", "ssh.socket", "sshd.socket"];

/** Whether the kernel command line leaves the root read-write when init starts: its last `ro` or `rw`; read-only by default. */
export function rootWritable(cmdline: string | undefined): boolean | undefined {
  if (cmdline === undefined) return undefined;
  const flags = cmdline.split(/\s+/).filter((w) => w === "ro" || w === "rw");
  return flags[flags.length - 1] === "rw";
}

export async function checkSshd(guest: Guest, cmdline?: string): Promise<CheckResult> {
  const root = guest.root;
  if (!root) return result("sshd", "unknown", "the root filesystem could not be read, so sshd was not checked");
  const fs = root.ext;
  const part = root.number;
  let binary: string | undefined;
  for (const p of SSHD_PATHS) if ((await fs.type(p)) === "file") binary = binary ?? p;
  if (!binary) {
    return result(
      "sshd",
      "fail",
      "no sshd binary in the image; Droplets would not be reachable over SSH",
      [{ partition: part, path: SSHD_PATHS[0], text: "missing" }],
      "install the OpenSSH server in the image (apt-get install openssh-server, dnf install openssh-server, apk add openssh-server)",
    );
  }
  const evidence: Evidence[] = [{ partition: part, path: binary }];
  const init = await detectInit(fs);
  evidence.push({ partition: part, ...init.evidence });
  const enableFix =
    "enable it in the image: systemctl enable ssh (sshd on Fedora, RHEL and Arch), e.g. in the Packer build or with virt-customize --run-command 'systemctl enable ssh'";
  if (init.kind === "systemd") {
    const links = await enablingLinks(fs, SSH_UNITS);
    const masked = await maskedUnits(fs, SSH_UNITS);
    const enabledUnits = links.map((l) => l.path!.split("/").pop()!);
    const maskedEnabled = masked.filter((m) => enabledUnits.includes(m.path!.split("/").pop()!) || enabledUnits.length === 0);
    if (maskedEnabled.length > 0) {
      return result(
        "sshd",
        "fail",
        `sshd is installed but ${maskedEnabled.map((m) => m.path!.split("/").pop()).join(", ")} is masked, so it never starts`,
        [...evidence, ...maskedEnabled.map((m) => ({ partition: part, ...m }))],
        `unmask and enable it in the image: systemctl unmask ${maskedEnabled.map((m) => m.path!.split("/").pop()).join(" ")} && systemctl enable ssh`,
      );
    }
    if (links.length === 0) {
      for (const unit of SSH_UNITS) {
        const preset = masked.length === 0 ? await firstBootPreset(fs, unit) : undefined;
        if (!preset) continue;
        const writable = rootWritable(cmdline);
        const at = [...evidence, { partition: part, ...preset }];
        if (writable)
          return result("sshd", "pass", `sshd is installed and systemd enables ${unit} at the first boot, by its presets (the root is mounted rw)`, at);
        if (writable === undefined)
          return result(
            "sshd",
            "warn",
            `no ssh/sshd unit is enabled; systemd's presets would enable ${unit} at the first boot, but only if the root is writable then, and the kernel command line could not be read`,
            at,
            `${CHECK_BY_BOOTING}; or ${enableFix}`,
          );
        return result(
          "sshd",
          "fail",
          `no ssh/sshd unit is enabled; systemd's presets would enable ${unit} at the first boot, but the kernel mounts the root read-only (no rw on its command line), so systemd cannot write /etc then ("Failed to populate /etc with preset unit settings"), and sshd never starts`,
          [...at, { text: `kernel command line: ${cmdline}` }],
          enableFix,
        );
      }
      return result("sshd", "fail", `sshd is installed (${binary}) but no ssh/sshd service or socket is enabled at boot`, evidence, enableFix);
    }
    return result("sshd", "pass", `sshd is installed and systemd starts ${[...new Set(enabledUnits)].join(", ")} at boot`, [
      ...evidence,
      ...links.map((l) => ({ partition: part, ...l })),
    ]);
  }
  if (init.kind === "openrc") {
    for (const level of ["default", "boot", "sysinit"]) {
      const path = `/etc/runlevels/${level}/sshd`;
      if (await fs.exists(path, false))
        return result("sshd", "pass", `sshd is installed and OpenRC starts it in the ${level} runlevel`, [...evidence, { partition: part, path }]);
    }
    return result("sshd", "fail", "sshd is installed but not in an OpenRC runlevel", evidence, "enable it in the image: rc-update add sshd default");
  }
  if (init.kind === "sysvinit") {
    for (const level of ["2", "3", "4", "5"]) {
      for (const e of (await fs.readdir(`/etc/rc${level}.d`)) ?? []) {
        if (/^S\d+sshd?$/.test(e.name))
          return result("sshd", "pass", `sshd is installed and sysvinit starts it in runlevel ${level}`, [
            ...evidence,
            { partition: part, path: `/etc/rc${level}.d/${e.name}` },
          ]);
      }
    }
    return result(
      "sshd",
      "fail",
      "sshd is installed but no /etc/rc?.d/S??ssh link starts it",
      evidence,
      "enable it in the image: update-rc.d ssh defaults (or chkconfig sshd on)",
    );
  }
  return result("sshd", "warn", "sshd is installed, but no init system was recognised, so whether it starts at boot is unknown", evidence, enableFix);
}
