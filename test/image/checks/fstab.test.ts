// The fstab rule per init: systemd stops at any missing device mounted at boot; sysvinit only where fsck -A checks it.
import { checkFstab } from "../../../provider/image/checks/fstab";
import type { Guest } from "../../../provider/image/checks/guest";
import type { PartitionTable } from "../../../provider/image/partitions";

const UUID = "4a0b0e1c-8a3f-4c43-9d0c-3f7f2d1e9a10";
const table = { scheme: "gpt", partitions: [], notes: [] } as unknown as PartitionTable;
const PARTUUID = "6A1B2C3D-0000-4000-8000-000000000002";
const guestWith = (fstab: string): Guest => {
  const root = {
    number: 2,
    fsType: "ext",
    typeName: "Linux filesystem",
    uuid: UUID,
    partUuid: PARTUUID,
    ext: {
      readFile: async (p: string) => (p === "/etc/fstab" ? Buffer.from(fstab) : undefined),
      kind: async (p: string) => (p === "/etc/fstab" ? "a regular file" : null),
    },
  };
  return { partitions: [root], root } as unknown as Guest;
};
const ROOT = `UUID=${UUID} / ext4 errors=remount-ro 0 1\n`;

test.each([
  // the data disk a VM had: fsck's pass number 2, no nofail
  ["systemd", `${ROOT}/dev/sdb1 /data ext4 defaults 0 2\n`, "fail", /systemd would wait for it .* emergency mode/],
  ["systemd", `${ROOT}/dev/sdb1 /data ext4 defaults 0 0\n`, "fail", /emergency mode/],
  ["sysvinit", `${ROOT}/dev/sdb1 /data ext4 defaults 0 2\n`, "fail", /checkfs.sh's fsck -A would fail on it \(pass number 2\)/],
  ["sysvinit", `${ROOT}/dev/sdb1 /data ext4 defaults 0 0\n`, "pass", /1 optional or unchecked/],
  ["sysvinit", `${ROOT}/dev/sdb1 /data ext4 defaults\n`, "pass", /1 optional or unchecked/],
  ["openrc", `${ROOT}/dev/sdb1 /data ext4 defaults 0 2\n`, "warn", /not followed here; do-image validate --boot decides/],
  ["sysvinit", `${ROOT}/dev/sdb1 /data ext4 defaults,nofail 0 2\n`, "pass", /optional/],
] as const)("%s, %j: %s", async (init, fstab, status, message) => {
  const r = await checkFstab(guestWith(fstab), table, init);
  expect(r.status).toBe(status);
  expect(r.message).toMatch(message);
});

// A booted image with its root named PARTUUID=<uppercase> failed: systemd-remount-fs could not find it, the root stayed
// read-only, cloud-init could not write and sshd did not start. blkid and udev's links spell GUIDs in lowercase.
test.each([
  [`PARTUUID=${PARTUUID} / ext4 defaults 0 1\n`, "fail", /only ignoring case.*spell it PARTUUID=6a1b2c3d-.*systemd-remount-fs .* read-only/],
  [`PARTUUID=${PARTUUID.toLowerCase()} / ext4 defaults 0 1\n`, "pass", /mounted from PARTUUID=6a1b/],
  [`UUID=${UUID.toUpperCase()} / ext4 defaults 0 1\n`, "fail", /spell it UUID=4a0b0e1c/],
  [`${ROOT}UUID=${UUID.toUpperCase()} /srv ext4 defaults 0 2\n`, "fail", /only ignoring case.*so that device never appears; systemd would wait/],
  [`${ROOT}UUID=${UUID.toUpperCase()} /srv ext4 defaults,nofail 0 2\n`, "pass", /optional/],
] as const)("letter case in %j: %s", async (fstab, status, message) => {
  const r = await checkFstab(guestWith(fstab), table, "systemd");
  expect(r.status).toBe(status);
  expect(r.message).toMatch(message);
});
