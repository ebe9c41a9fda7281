// Reads a booting guest's serial console line by line and turns what it prints into boot stages with evidence.

export const STAGES = ["firmware", "boot-loader", "kernel", "init", "cloud-init", "network", "sshd", "login"] as const;
export type Stage = (typeof STAGES)[number];
export type StageStatus = "pass" | "fail" | "unknown";

export interface StageReport {
  stage: Stage;
  status: StageStatus;
  /** Seconds after QEMU started when the stage was settled. */
  at?: number;
  message: string;
  /** Console lines (or remote command output) the verdict rests on. */
  evidence: string[];
}

/** What one console line tells. `fatal` ends the boot: nothing after it can make the Droplet work. */
export interface Sighting {
  stage: Stage;
  status: "pass" | "fail" | "seen";
  fatal?: boolean;
  message: string;
}

interface Rule {
  re: RegExp;
  see: (m: RegExpExecArray) => Sighting;
}

const rule = (re: RegExp, see: (m: RegExpExecArray) => Sighting): Rule => ({ re, see });

/** Ordered: the first rule that matches a line decides what it means. */
const RULES: Rule[] = [
  // SeaBIOS, through its serial console (etc/sercon-port).
  rule(/SeaBIOS \(version ([^)]+)\)/, (m) => ({ stage: "firmware", status: "pass", message: `SeaBIOS ${m[1]} started` })),
  rule(/Boot failed: not a bootable disk/, () => ({
    stage: "boot-loader",
    status: "fail",
    message: "the firmware found no boot code in the disk's MBR",
  })),
  rule(/No bootable device/, () => ({ stage: "boot-loader", status: "fail", fatal: true, message: "the firmware found no bootable device" })),
  rule(/Booting from Hard Disk/, () => ({ stage: "firmware", status: "pass", message: "SeaBIOS jumped to the disk's boot code" })),
  // GRUB.
  rule(/you need to load the kernel first/, () => ({
    stage: "boot-loader",
    status: "fail",
    fatal: true,
    message: "GRUB could not load the kernel its menu entry names",
  })),
  rule(/^\s*error: (.*)$/, (m) => ({ stage: "boot-loader", status: "seen", message: `GRUB reported: ${m[1]}` })),
  rule(/grub rescue>/, () => ({
    stage: "boot-loader",
    status: "fail",
    fatal: true,
    message: "GRUB stopped at its rescue prompt: it could not load its modules or config",
  })),
  // GRUB draws its prompt with cursor movements, so after the escapes are stripped it may end a line of other text.
  rule(/(?:^|\s)grub>\s*$/, () => ({ stage: "boot-loader", status: "fail", fatal: true, message: "GRUB stopped at its command prompt: no usable menu entry" })),
  rule(/Welcome to GRUB!/, () => ({ stage: "boot-loader", status: "pass", message: "GRUB started" })),
  rule(/GNU GRUB\s+version|Booting `(.*)'|Loading Linux/, (m) => ({
    stage: "boot-loader",
    status: "pass",
    message: m[1] ? `GRUB booted "${m[1]}"` : "GRUB is loading Linux",
  })),
  rule(/SYSLINUX|ISOLINUX|EXTLINUX/, () => ({ stage: "boot-loader", status: "pass", message: "SYSLINUX started" })),
  // The kernel and its initramfs.
  rule(/Linux version (\S+)/, (m) => ({ stage: "kernel", status: "pass", message: `Linux ${m[1]} started` })),
  rule(/Kernel panic - not syncing: (.*)/, (m) => ({ stage: "kernel", status: "fail", fatal: true, message: `kernel panic: ${m[1]}` })),
  rule(/Gave up waiting for root (?:file system )?device|ALERT!\s+(\S+) does not exist/, (m) => ({
    stage: "kernel",
    status: "fail",
    fatal: true,
    message: `the initramfs could not find the root device${m[1] ? ` ${m[1]}` : ""}`,
  })),
  rule(/VFS: Unable to mount root fs/, () => ({ stage: "kernel", status: "fail", fatal: true, message: "the kernel could not mount the root filesystem" })),
  // init.
  rule(/You are in emergency mode|Entering emergency mode|Cannot open access to console, the root account is locked/, () => ({
    stage: "init",
    status: "fail",
    fatal: true,
    message: "systemd stopped in emergency mode (a unit the boot needs failed, typically an /etc/fstab entry)",
  })),
  rule(/Dependency failed for (.*)\.$/, (m) => ({ stage: "init", status: "seen", message: `systemd: dependency failed for ${m[1]}` })),
  rule(/Timed out waiting for device (.*)\.$/, (m) => ({ stage: "init", status: "seen", message: `systemd timed out waiting for device ${m[1]}` })),
  rule(/Welcome to (.*)!/, (m) => ({ stage: "init", status: "seen", message: `systemd started: ${m[1]}` })),
  rule(/Run \/sbin\/init as init process|INIT: version/, () => ({ stage: "init", status: "seen", message: "the kernel started init" })),
  rule(/Reached target .*(?:multi-user\.target|Multi-User System)/, () => ({ stage: "init", status: "pass", message: "systemd reached multi-user.target" })),
  // cloud-init.
  rule(/Cloud-init v\. (\S+) finished at .*Datasource (\S+)(?: \[([^\]]*)\])?/, (m) => ({
    stage: "cloud-init",
    status: "seen",
    message: `cloud-init ${m[1]} finished with ${m[2]}${m[3] ? ` [${m[3]}]` : ""}`,
  })),
  rule(/Cloud-init v\. (\S+) running '([^']+)'/, (m) => ({ stage: "cloud-init", status: "seen", message: `cloud-init ${m[1]} running ${m[2]}` })),
  rule(/Failed to start (cloud-\S+)/, (m) => ({ stage: "cloud-init", status: "seen", message: `systemd: failed to start ${m[1]}` })),
  // The network as cloud-init's ci-info table shows it: | eth0 | True | 169.254.0.15 | 255.255.0.0 | global | ...
  rule(/ci-info: \|\s*(\w+)\s*\|\s*True\s*\|\s*(\d+\.\d+\.\d+\.\d+)\s*\|/, (m) => ({
    stage: "network",
    status: "seen",
    message: `${m[1]} is up with ${m[2]}`,
  })),
  rule(/DHCPACK of (\S+)|bound to (\d+\.\d+\.\d+\.\d+)/, (m) => ({ stage: "network", status: "seen", message: `DHCP lease ${m[1] ?? m[2]}` })),
  // sshd as systemd reports it.
  rule(/Started (?:ssh\.service|sshd\.service|.*OpenBSD Secure Shell server)/, () => ({ stage: "sshd", status: "seen", message: "systemd started sshd" })),
  // sshd as sysvinit's /etc/init.d/ssh reports it (start-stop-daemon, then the daemon's name).
  rule(/^Starting OpenBSD Secure Shell server: sshd\.?$/, () => ({ stage: "sshd", status: "seen", message: "sysvinit started sshd" })),
  rule(/Failed to start (?:ssh\.service|sshd\.service|.*OpenBSD Secure Shell server)/, () => ({
    stage: "sshd",
    status: "seen",
    message: "systemd failed to start sshd",
  })),
  // A getty on the console: the boot is over as far as init is concerned.
  rule(/^\S+ login: ?$/, () => ({ stage: "init", status: "pass", message: "a login prompt appeared on the console" })),
];

/** Strips ANSI escapes and carriage returns that firmware, GRUB and systemd put on a serial console. */
export function cleanLine(raw: string): string {
  /* eslint-disable no-control-regex */
  return raw
    .replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>c]/g, "")
    .replace(/[\r\x00]/g, "")
    .trimEnd();
  /* eslint-enable no-control-regex */
}

export function classify(line: string): Sighting | null {
  for (const r of RULES) {
    const m = r.re.exec(line);
    if (m) return r.see(m);
  }
  return null;
}

/** The datasource cloud-init's final message names, e.g. "DataSourceConfigDrive". */
export function datasourceFrom(message: string): string | undefined {
  return /finished with (DataSource\w+)/.exec(message)?.[1];
}
