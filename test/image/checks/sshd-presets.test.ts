// systemd's presets at the first boot: an image whose ssh.service has no enabling link still starts sshd when its
// machine-id is unset and a preset enables the unit (systemd.preset(5)).
import { checkSshd } from "../../../provider/image/checks/sshd";
import type { Guest } from "../../../provider/image/checks/guest";

function guestWith(files: Record<string, string>, links: Record<string, string> = {}): Guest {
  const dirs = new Map<string, { name: string }[]>();
  for (const p of [...Object.keys(files), ...Object.keys(links)]) {
    const d = p.slice(0, p.lastIndexOf("/"));
    dirs.set(d, [...(dirs.get(d) ?? []), { name: p.slice(p.lastIndexOf("/") + 1) }]);
  }
  const ext = {
    readFile: async (p: string) => (p in files ? Buffer.from(files[p]) : undefined),
    readlink: async (p: string) => links[p],
    readdir: async (p: string) => dirs.get(p),
    type: async (p: string) => (p in files ? "file" : dirs.has(p) ? "dir" : undefined),
    exists: async (p: string) => p in files || p in links || dirs.has(p),
  };
  const root = { number: 1, fsType: "ext", typeName: "Linux filesystem", ext };
  return { partitions: [root], root } as unknown as Guest;
}

const UNIT = "[Unit]\nDescription=OpenBSD Secure Shell server\n[Service]\nExecStart=/usr/sbin/sshd -D\n[Install]\nWantedBy=multi-user.target\n";
const BASE = { "/usr/sbin/sshd": "", "/usr/lib/systemd/systemd": "", "/usr/lib/systemd/system/ssh.service": UNIT };
const FEDORA_LIKE = { "/usr/lib/systemd/system-preset/90-default.preset": "# comment\nenable sshd.service\nenable ssh*.service\n", ...BASE };

const RW = "root=UUID=x ro console=ttyS0 rw";
test.each([
  ["absent machine-id, a preset enables it", { ...FEDORA_LIKE }, "pass", /enables ssh.service at the first boot, by its presets/],
  ["machine-id uninitialized", { ...FEDORA_LIKE, "/etc/machine-id": "uninitialized\n" }, "pass", /first boot/],
  [
    "machine-id set: no first boot",
    { ...FEDORA_LIKE, "/etc/machine-id": "0123456789abcdef0123456789abcdef\n" },
    "fail",
    /no ssh\/sshd service or socket is enabled/,
  ],
  // systemd's own 99-default.preset says disable *; an earlier file's line wins over a later one
  // Debian's presets name no ssh unit: systemd enables what no line names
  [
    "no line names it",
    { ...BASE, "/usr/lib/systemd/system-preset/90-systemd.preset": "enable getty@.service\n" },
    "pass",
    /no preset names ssh.service, so systemd enables it/,
  ],
  ["no preset files at all", { ...BASE }, "pass", /no preset names ssh.service/],
  ["a unit without [Install]", { ...BASE, "/usr/lib/systemd/system/ssh.service": "[Service]\nExecStart=/usr/sbin/sshd\n" }, "fail", /no ssh\/sshd service/],
  [
    "disabled by an earlier file",
    {
      ...FEDORA_LIKE,
      "/usr/lib/systemd/system-preset/10-local.preset": "disable ssh.service\n",
      "/usr/lib/systemd/system-preset/99-default.preset": "disable *\n",
    },
    "fail",
    /no ssh\/sshd service/,
  ],
  [
    "a file in /etc hides the same name in /usr/lib",
    { ...FEDORA_LIKE, "/etc/systemd/system-preset/90-default.preset": "disable *\n" },
    "fail",
    /no ssh\/sshd service/,
  ],
] as const)("%s: %s", async (_name, files, status, message) => {
  const r = await checkSshd(guestWith(files as Record<string, string>), RW);
  expect(r.status).toBe(status);
  expect([r.message, ...r.evidence.map((e) => e.text)].join("\n")).toMatch(message);
});

test.each([
  ["root=UUID=x ro console=ttyS0", "fail", /mounts the root read-only .*Failed to populate \/etc/],
  ["root=UUID=x", "fail", /read-only/],
  ["root=UUID=x rw quiet ro", "fail", /read-only/],
  ["root=UUID=x ro quiet rw", "pass", /by its presets \(the root is mounted rw\)/],
  [undefined, "warn", /only if the root is writable then, and the kernel command line could not be read/],
] as const)("first boot with the command line %j: %s", async (cmdline, status, message) => {
  const r = await checkSshd(guestWith({ ...FEDORA_LIKE }), cmdline);
  expect(r.status).toBe(status);
  expect(r.message).toMatch(message);
});
