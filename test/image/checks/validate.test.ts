// Every guest fixture through validateImage: the expected verdict per check, with the evidence and fix it cites.
import { CHECK_IDS, DECISIVE, validateImage, type CheckStatus, type ValidationReport } from "../../../provider/image";
import { built, describeWithFixtures } from "../../support/fixtures";

type Expect = Partial<Record<(typeof CHECK_IDS)[number], CheckStatus>>;
/** The fixtures are skeleton guests (cloud-init and sshd, no kernel, no boot code): the boot checks fail on every one. */
/** A root our reader cannot open: the guest checks that need it are unknown, and the skeleton has no boot loader. */
const UNREADABLE_ROOT: Row["expect"] = {
  format: "pass",
  size: "pass",
  "partition-table": "pass",
  "cloud-init": "unknown",
  "cloud-init-datasources": "unknown",
  sshd: "unknown",
  "boot-loader": "fail",
  kernel: "unknown",
  fstab: "unknown",
  network: "unknown",
};

const ALL_PASS: Expect = { ...Object.fromEntries(CHECK_IDS.map((id) => [id, "pass"])), "boot-loader": "fail", kernel: "fail" };

interface Row {
  file: string;
  expect: Expect;
  /** A check whose message, evidence and fix must mention these. */
  cites?: { id: (typeof CHECK_IDS)[number]; message: RegExp; evidence?: RegExp; fix?: RegExp };
}

const ROWS: Row[] = [
  ...[
    "good-gpt.raw",
    "good-mbr.raw",
    "good.qcow2",
    "good-v2.qcow2",
    "good-zlib.qcow2",
    "good-zstd.qcow2",
    "good-extl2.qcow2",
    "good-sparse.vmdk",
    "good-stream.vmdk",
    "good-dynamic.vdi",
    "good-static.vdi",
    "good-dynamic.vhdx",
    "good-fixed.vhdx",
    "good.qcow2.gz",
    "good-gpt.raw.bz2",
    "good-multistream.vhdx.bz2",
  ].map((file): Row => ({
    file,
    expect: ALL_PASS,
    cites: {
      id: "cloud-init-datasources",
      message: /would try \[ ConfigDrive, DigitalOcean, None \] and use ConfigDrive/,
      evidence: /95_digitalocean.cfg:1: datasource_list: \(block-style list: ds-identify reads it as empty/,
    },
  })),
  {
    file: "guest-nocloud-first.qcow2",
    // NoCloud listed first but no seed in the image: ds-identify does not find it, ConfigDrive is used, the Droplet works.
    expect: { ...ALL_PASS, "cloud-init-datasources": "warn" },
    cites: {
      id: "cloud-init-datasources",
      message: /90_dpkg.cfg line 2\) puts NoCloud first.*no NoCloud seed is in the image, so cloud-init \(ds-identify\) would use ConfigDrive/,
      evidence: /90_dpkg.cfg:2: datasource_list: \[ NoCloud/,
      fix: /cloud.cfg.d\/99_digitalocean.cfg .* ConfigDrive, DigitalOcean/,
    },
  },
  {
    file: "guest-builtin-datasources.qcow2",
    // No list configured: ds-identify searches its own order (MAAS, ConfigDrive, NoCloud, …) and finds ConfigDrive.
    expect: ALL_PASS,
    cites: {
      id: "cloud-init-datasources",
      message: /would try \[ ConfigDrive, DigitalOcean, None \] and use ConfigDrive/,
      evidence: /ds-identify's default order: \[ MAAS, ConfigDrive, NoCloud/,
    },
  },
  {
    file: "guest-no-configdrive.qcow2",
    // [ Ec2, None ] is a list of one: ds-identify keeps it, Ec2 finds nothing on a Droplet, cloud-init falls back to None.
    expect: { ...ALL_PASS, "cloud-init-datasources": "fail" },
    cites: {
      id: "cloud-init-datasources",
      message: /\[ Ec2, None \] and find none of them on a Droplet, so it falls back to None/,
      fix: /99_digitalocean.cfg/,
    },
  },
  {
    file: "guest-no-cloud-init.qcow2",
    expect: { ...ALL_PASS, "cloud-init": "fail", "cloud-init-datasources": "unknown", network: "fail" },
    cites: { id: "cloud-init", message: /no cloud-init \(nor cloudbase-init/, fix: /apt-get install cloud-init/ },
  },
  {
    file: "guest-old-cloud-init.qcow2",
    expect: { ...ALL_PASS, "cloud-init": "fail" },
    cites: { id: "cloud-init", message: /0.7.5-0ubuntu1.22 is older than 0.7.7/, evidence: /\/var\/lib\/dpkg\/status:\d+: Version: 0.7.5/ },
  },
  {
    file: "guest-cloud-init-disabled.qcow2",
    expect: { ...ALL_PASS, "cloud-init": "fail", network: "fail" },
    cites: { id: "cloud-init", message: /disabled by \/etc\/cloud\/cloud-init.disabled/, fix: /delete/ },
  },
  {
    file: "guest-cloud-init-masked.qcow2",
    expect: { ...ALL_PASS, "cloud-init": "fail", network: "fail" },
    cites: { id: "cloud-init", message: /cloud-init.service is masked/, evidence: /-> \/dev\/null/, fix: /systemctl unmask cloud-init.service/ },
  },
  { file: "guest-no-sshd.qcow2", expect: { ...ALL_PASS, sshd: "fail" }, cites: { id: "sshd", message: /no sshd binary/, fix: /openssh-server/ } },
  {
    // No link enables ssh.service, and the skeleton has no /etc/machine-id: systemd's first boot would enable it by
    // its presets if the root were writable then, which the kernel command line says, and this image has no kernel.
    file: "guest-sshd-not-enabled.qcow2",
    expect: { ...ALL_PASS, sshd: "warn" },
    cites: {
      id: "sshd",
      message: /no ssh\/sshd unit is enabled; systemd's presets would enable ssh.service at the first boot, but only if the root is writable/,
      fix: /systemctl enable ssh/,
    },
  },
  {
    file: "guest-sshd-masked.qcow2",
    expect: { ...ALL_PASS, sshd: "fail" },
    cites: { id: "sshd", message: /ssh.service is masked/, evidence: /\/etc\/systemd\/system\/ssh.service: ssh.service -> \/dev\/null/ },
  },
  {
    file: "guest-sshd-socket.qcow2",
    expect: ALL_PASS,
    cites: { id: "sshd", message: /starts ssh.socket at boot/, evidence: /sockets.target.wants\/ssh.socket/ },
  },
  {
    file: "guest-sysvinit-late-network.qcow2",
    // Debian's cloud-init-local starts in runlevel 2, after rcS's networking: its DHCP config is written, never brought up.
    expect: { ...ALL_PASS, network: "fail" },
    cites: {
      id: "network",
      message: /under sysvinit, ifupdown's networking script starts before cloud-init-local/,
      evidence: /rcS.d\/S10networking: networking starts here\n.*rc2.d\/S01cloud-init-local: cloud-init-local starts here, later/,
      fix: /X-Start-Before: networking/,
    },
  },
  {
    file: "guest-sysvinit-early-network.qcow2",
    expect: ALL_PASS,
    cites: { id: "sshd", message: /sysvinit starts it in runlevel 2/ },
  },
  ...[
    ["guest-xfs-root.qcow2", /XFS/],
    ["guest-btrfs-root.qcow2", /btrfs/],
  ].map(([file, fs]): Row => ({
    file: file as string,
    expect: { ...UNREADABLE_ROOT, filesystem: "fail" },
    cites: { id: "filesystem", message: new RegExp(`root filesystem is ${(fs as RegExp).source}.*needs ext3 or ext4`), fix: /ext4 root/ },
  })),
  {
    // A PV label and nothing more: LVM is not the root's filesystem, and no volume could be mapped to see what is.
    file: "guest-lvm-root.qcow2",
    expect: { ...UNREADABLE_ROOT, filesystem: "warn" },
    cites: {
      id: "filesystem",
      message: /the root is likely on LVM \(partition 2\), whose logical volumes this tool could not map/,
      fix: /do-image validate --boot/,
    },
  },
  { file: "bad-truncated.qcow2", expect: { format: "fail", compression: "pass" }, cites: { id: "format", message: /truncated/ } },
  { file: "bad.qcow2.xz", expect: { compression: "fail", format: "unknown" }, cites: { id: "compression", message: /xz-compressed/, fix: /gzip/ } },
  { file: "bad-too-big.qcow2", expect: { size: "fail", "partition-table": "fail" }, cites: { id: "size", message: /over DigitalOcean's limit of 100 GiB/ } },
  {
    file: "bad-bare-ext4.raw",
    expect: { "partition-table": "fail" },
    cites: { id: "partition-table", message: /ext2\/3\/4 filesystem with no partition table/ },
  },
];

function check(r: ValidationReport, id: string) {
  return r.checks.find((c) => c.id === id)!;
}

describeWithFixtures("validate judges every fixture", (fx) => {
  test.each(built(fx, ROWS, (r) => r.file))("$file", async ({ file, expect: want, cites }) => {
    const r = await validateImage(fx.path(file));
    expect(r.checks.map((c) => c.id)).toEqual([...CHECK_IDS]);
    const got = Object.fromEntries(Object.keys(want).map((id) => [id, check(r, id).status]));
    expect(got).toEqual(want);
    // A failure stops the image, and so does a check that decides whether a Droplet works but could not be judged.
    expect(r.ok).toBe(!r.checks.some((c) => c.status === "fail" || (c.status === "unknown" && DECISIVE.includes(c.id))));
    for (const c of r.checks) {
      if (c.status === "fail" || c.status === "warn") expect(c.fix).toMatch(/\w+ \w+/);
      if (c.status === "pass") expect(c.fix).toBeNull();
    }
    if (cites) {
      const c = check(r, cites.id);
      expect(c.message).toMatch(cites.message);
      if (cites.evidence) expect(c.evidence.map((e) => `${e.path ?? ""}${e.line ? `:${e.line}` : ""}: ${e.text ?? ""}`).join("\n")).toMatch(cites.evidence);
      if (cites.fix) expect(c.fix).toMatch(cites.fix);
    }
  });

  test("skip downgrades a failing check to a warning and says so", async () => {
    const r = await validateImage(fx.path("guest-no-configdrive.qcow2"), { skip: ["cloud-init-datasources", "boot-loader", "kernel"] });
    expect(r.ok).toBe(true);
    expect(check(r, "cloud-init-datasources")).toMatchObject({ status: "warn", message: expect.stringMatching(/accepted: validation.skip/) });
  });
});
