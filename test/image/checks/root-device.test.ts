// The kernel's root= read as a Droplet's initramfs resolves it: a device the Droplet lacks is a failure, forms our reading does not follow are not.
import { rootDevice } from "../../../provider/image/checks/kernel";
import type { Guest } from "../../../provider/image/checks/guest";
import type { PartitionTable } from "../../../provider/image/partitions";

const UUID = "4a0b0e1c-8a3f-4c43-9d0c-3f7f2d1e9a10";
const guest = {
  partitions: [
    { number: 1, fsType: "empty", typeName: "BIOS boot" },
    {
      number: 2,
      fsType: "ext",
      typeName: "Linux root (x86-64)",
      uuid: UUID,
      label: "root",
      partUuid: "6A1B2C3D-0000-4000-8000-000000000002",
      partLabel: "root",
    },
  ],
} as unknown as Guest;
const table = { scheme: "gpt", partitions: [], notes: [] } as unknown as PartitionTable;

test.each([
  [`BOOT_IMAGE=/boot/vmlinuz root=UUID=${UUID} ro`, "ok", /partition 2/],
  // udev's by-uuid links are lowercase, and initramfs-tools waits for the link as spelled: a boot decides
  [`root=UUID=${UUID.toUpperCase()}`, "unsure", /only ignoring case \(blkid spells it UUID=4a0b0e1c/],
  ["root=PARTUUID=6A1B2C3D-0000-4000-8000-000000000002", "unsure", /only ignoring case/],
  ["root=LABEL=root", "ok", /partition 2/],
  ["root=PARTUUID=6a1b2c3d-0000-4000-8000-000000000002", "ok", /partition 2/],
  ["root=/dev/vda2 console=ttyS0", "ok", /partition 2/],
  ["root=/dev/disk/by-uuid/" + UUID, "ok", /partition 2/],
  ["root=/dev/sda2 root=/dev/vda2", "ok", /partition 2/],
  ["root=/dev/loop10 ro", "absent", /a Droplet has no such device/],
  ["root=/dev/vda2 root=/dev/sda2", "absent", /no partition or filesystem/],
  ["root=UUID=0badc0de-0000-4000-8000-000000000001", "absent", /no partition or filesystem of the image has it/],
  ["root=/dev/vda9", "absent", /no partition/],
  ["root=/dev/mapper/vg-root", "unsure", /LVM, RAID/],
  ["ro quiet", "unsure", /no root=/],
])("%s: %s", (cmdline, status, text) => {
  const r = rootDevice(cmdline, guest, table);
  expect(r.status).toBe(status);
  expect(r.text).toMatch(text);
});

// A root on LVM: the volume group's logical volumes are followed by every name LVM and udev give them.
const LV_UUID = "0e5b3d1a-1111-4222-8333-444455556666";
const lvmGuest = {
  partitions: [
    { number: 2, fsType: "ext", typeName: "Linux filesystem", uuid: UUID, label: "boot" },
    { number: 3, fsType: "lvm", typeName: "Linux LVM" },
    {
      number: 3,
      fsType: "ext",
      typeName: "LVM logical volume debian-vg/root",
      uuid: LV_UUID,
      volume: { vg: "debian-vg", lv: "root", dmName: "debian--vg-root", vgId: "V".repeat(32), lvId: "L".repeat(32) },
    },
  ],
} as unknown as Guest;

test.each([
  ["root=/dev/mapper/debian--vg-root", "ok"],
  ["root=/dev/debian-vg/root", "ok"],
  ["root=/dev/disk/by-id/dm-name-debian--vg-root", "ok"],
  [`root=/dev/disk/by-id/dm-uuid-LVM-${"V".repeat(32)}${"L".repeat(32)}`, "ok"],
  [`root=UUID=${LV_UUID}`, "ok"],
  ["root=/dev/mapper/debian-vg-root", "unsure"],
  ["root=/dev/debian-vg/swap", "unsure"],
  // a partition number names the partition, never a volume on it
  ["root=/dev/vda3", "ok"],
])("on LVM, %s: %s", (cmdline, status) => {
  const r = rootDevice(cmdline, lvmGuest, table);
  expect(r.status).toBe(status);
  if (status === "ok" && cmdline !== "root=/dev/vda3") {
    expect(r.text).toMatch(/logical volume debian-vg\/root \(LVM on partition 3\)/);
    expect(r.volume).toBe(lvmGuest.partitions[2]);
  }
  if (cmdline === "root=/dev/vda3") expect(r.volume).toBeUndefined();
});
