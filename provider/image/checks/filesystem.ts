// Check `filesystem`: the root filesystem is ext3 or ext4, with /etc/fstab as evidence.
//
// DigitalOcean's stated requirement (custom images: ext3 or ext4). The root is found as guest.ts finds it: on a
// partition, or on an LVM logical volume read through its volume group's metadata (../lvm.ts). A volume manager or a
// filesystem we cannot open is not evidence that the root is wrong: LVM whose volumes cannot be mapped warns.
import { ImageError } from "../errors";
import { FS_NAMES } from "./fstype";
import { lines, placeOf, type Guest } from "./guest";
import { CHECK_BY_BOOTING, result, type CheckResult, type Evidence } from "./types";

const REBUILD = "rebuild the image with an ext4 root filesystem (DigitalOcean's custom images need ext3 or ext4), e.g. with Packer or virt-install";

export async function checkFilesystem(guest: Guest): Promise<CheckResult> {
  const { root } = guest;
  if (!root) {
    const other = guest.unreadableRoot;
    if (other?.fsType === "lvm") {
      // LVM is a volume manager, not the root's filesystem: what its volumes hold is what counts, and these we could
      // not map (a label or metadata we cannot read, or volumes that are not linear: thin, RAID, cache).
      return result(
        "filesystem",
        "warn",
        `the root is likely on LVM (${placeOf(other)}), whose logical volumes this tool could not map, so its filesystem was not checked; DigitalOcean needs ext3 or ext4 there`,
        [
          { partition: other.number, text: FS_NAMES[other.fsType] },
          ...guest.partitions.filter((p) => p.volume).map((p) => ({ partition: p.number, text: p.typeName })),
        ],
        `${CHECK_BY_BOOTING} (or make the root a linear logical volume, or a partition, holding ext4)`,
      );
    }
    if (other && other.fsType !== "ext") {
      return result(
        "filesystem",
        "fail",
        `the root filesystem is ${FS_NAMES[other.fsType]} (${placeOf(other)}, ${other.typeName}); DigitalOcean needs ext3 or ext4`,
        [{ partition: other.number, text: FS_NAMES[other.fsType] }],
        REBUILD,
      );
    }
    if (other?.error) {
      return result(
        "filesystem",
        "unknown",
        `${placeOf(other)} holds an ext filesystem this tool cannot read: ${other.error.message}`,
        [{ partition: other.number }],
        other.error.fix,
      );
    }
    const seen = guest.partitions.map((p) => ({ partition: p.number, text: `${p.typeName}: ${FS_NAMES[p.fsType]}` }));
    return result("filesystem", "fail", "no partition holds a Linux root filesystem (no /etc/os-release found on any ext filesystem)", seen, REBUILD);
  }
  const { info } = root.ext;
  const evidence: Evidence[] = [{ partition: root.number, text: `${info.kind}, label "${info.label}", UUID ${info.uuid}` }];
  // fstab is evidence here, not the verdict: what is wrong with it is the fstab check's to say
  const fstab = await root.ext.readFile("/etc/fstab").catch((err: unknown) => {
    if (err instanceof ImageError && err.code === "ext-symlink-loop") return null;
    throw err;
  });
  let fstabType: string | undefined;
  if (fstab) {
    for (const l of lines(fstab.toString("utf8"))) {
      const fields = l.text.replace(/#.*/, "").trim().split(/\s+/);
      if (fields[1] === "/") {
        evidence.push({ path: "/etc/fstab", line: l.line, text: l.text.trim() });
        fstabType = fields[2];
      }
    }
  }
  for (const note of info.notes) evidence.push({ partition: root.number, text: note });
  if (info.kind === "ext2") {
    return result(
      "filesystem",
      "fail",
      `the root filesystem (${placeOf(root)}) is ext2; DigitalOcean needs ext3 or ext4`,
      evidence,
      "add a journal to make it ext3 (tune2fs -j on the partition) or convert it to ext4 (tune2fs -O extents,uninit_bg,dir_index, then e2fsck -fD)",
    );
  }
  if (fstabType && !["ext3", "ext4", "auto"].includes(fstabType)) {
    return result(
      "filesystem",
      "warn",
      `the root filesystem is ${info.kind}, but /etc/fstab mounts / as ${fstabType}`,
      evidence,
      `set the type of / in /etc/fstab to ${info.kind}`,
    );
  }
  return result("filesystem", "pass", `root filesystem is ${info.kind} on ${placeOf(root)}`, evidence);
}
