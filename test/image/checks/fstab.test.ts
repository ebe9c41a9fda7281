// The fstab rule per init: systemd stops at any missing device mounted at boot; sysvinit only where fsck -A checks it.
import { checkFstab } from "../../../provider/image/checks/fstab";
import type { Guest } from "../../../provider/image/checks/guest";
import type { PartitionTable } from "../../../provider/image/partitions";

const UUID = "4a0b0e1c-8a3f-4c43-9d0c-3f7f2d1e9a10";
const table = { scheme: "gpt", partitions: [], notes: [] } as unknown as PartitionTable;
const guestWith = (fstab: string): Guest => {
  const root = {
    number: 2,
    fsType: "ext",
    typeName: "Linux filesystem",
    uuid: UUID,
    ext: { readFile: async (p: string) => (p === "/etc/fstab" ? Buffer.from(fstab) : undefined) },
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
