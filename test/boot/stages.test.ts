// Console lines real boots printed (SeaBIOS, GRUB, Linux, systemd, cloud-init), and what each says about a stage.
import { classify, cleanLine, datasourceFrom } from "../../provider/boot/stages";

const ROWS: [string, string | null, string?, boolean?][] = [
  ["SeaBIOS (version 1.16.2-debian-1.16.2-1)", "firmware:pass"],
  ["Boot failed: not a bootable disk", "boot-loader:fail"],
  ["No bootable device.", "boot-loader:fail", undefined, true],
  ["Welcome to GRUB!", "boot-loader:pass"],
  ["error: file `/boot/vmlinuz-6.1.0-57-cloud-amd64-missing' not found.", "boot-loader:seen"],
  ["error: you need to load the kernel first.", "boot-loader:fail", undefined, true],
  ["grub rescue> ", "boot-loader:fail", undefined, true],
  // GRUB's command line after its banner, as the serial console showed it (cursor movements in between).
  ["   device or file completions.    \x1b[06;34H\x1b[06;35H                                       grub> \r", "boot-loader:fail", undefined, true],
  ["[    0.000000] Linux version 6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14)", "kernel:pass"],
  ["[    2.1] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)", "kernel:fail", undefined, true],
  ["ALERT!  UUID=1234 does not exist.  Dropping to a shell!", "kernel:fail", undefined, true],
  ["Welcome to Debian GNU/Linux 12 (bookworm)!", "init:seen"],
  ['You are in emergency mode. After logging in, type "journalctl -xb" to view', "init:fail", undefined, true],
  ["[  OK  ] Reached target multi-user.target - Multi-User System.", "init:pass"],
  [
    "[  106.8] cloud-init[472]: Cloud-init v. 22.4.2 finished at Wed, 02 Dec 2026 01:25:03 +0000. Datasource DataSourceNoCloud [seed=/var/lib/cloud/seed/nocloud][dsmode=net].  Up 106.81 seconds",
    "cloud-init:seen",
    "DataSourceNoCloud",
  ],
  ["ci-info: |  ens4  | True |  169.254.0.15  | 255.255.0.0 | global | 52:54:00:12:34:56 |", "network:seen"],
  ["[  OK  ] Started ssh.service - OpenBSD Secure Shell server.", "sshd:seen"],
  ["Starting OpenBSD Secure Shell server: sshd.", "sshd:seen"],
  ["do-image-boot-1234 login: ", "init:pass"],
  ["[   12.3] random: crng init done", null],
];

test.each(ROWS.map(([line, want, datasource, fatal]) => ({ line, want, datasource, fatal })))("$line", ({ line, want, datasource, fatal }) => {
  const s = classify(cleanLine(line));
  expect(s ? `${s.stage}:${s.status}` : null).toBe(want);
  if (datasource) expect(datasourceFrom(s!.message)).toBe(datasource);
  expect(Boolean(s?.fatal)).toBe(Boolean(fatal));
});

test("escape sequences and carriage returns from firmware and GRUB are stripped", () => {
  expect(cleanLine("\x1b[2J\x1b[0mSeaBIOS (version 1.16)\r")).toBe("SeaBIOS (version 1.16)");
});
