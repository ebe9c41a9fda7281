// Check `kernel`: the kernel the boot loader starts is there with its initramfs, and they can reach a Droplet's disk and NIC.
//
// Followed from Linux 5.10–6.12 and the initramfs builders (initramfs-tools 0.140–0.147: scripts/local, its
// local_device_setup and "Gave up waiting for root file system device"; dracut 059–106's rootfs-block and lvm modules):
// - a Droplet's disk is virtio-blk on virtio-pci, so virtio_pci, virtio_blk and the root's ext4 must be built in
//   (modules.builtin) or inside the initramfs the loader passes; virtio_net must exist somewhere for the NIC;
// - the initramfs waits for the device the last root= on the command line names and gives up when it never appears:
//   a device a Droplet lacks (/dev/sdaN, /dev/loopN, a UUID no filesystem has) is positive evidence;
// - a root on an LVM logical volume appears only when the initramfs activates it, with the lvm tool and dm_mod.
import { GUEST_LIMITS } from "../guest-limits";
import type { Ext4 } from "../ext4";
import { listInitramfs } from "../initramfs";
import type { PartitionTable } from "../partitions";
import { bootFile, type BootConfig } from "./bootconfig";
import { resolveDevice } from "./fstab";
import type { Guest, GuestPartition } from "./guest";
import { lines, placeOf } from "./guest";
import { CHECK_BY_BOOTING, result, type CheckResult, type Evidence } from "./types";

/** Largest initramfs read; Debian's and Fedora's are 30–80 MiB. */
const MAX_INITRAMFS_FILE = GUEST_LIMITS.initramfsFileBytes;

/** Drivers a Droplet needs: its disk and NIC are virtio over PCI; the root filesystem is ext4 (which also mounts ext3). */
const DISK_DRIVERS = ["virtio_pci", "virtio_blk", "ext4"];
const LATE_DRIVERS = ["virtio_net"];

interface KernelFiles {
  version: string;
  kernel: { partition: GuestPartition & { ext: Ext4 }; path: string };
  initrd?: { partition: GuestPartition & { ext: Ext4 }; path: string };
  evidence: Evidence[];
}

async function newestKernel(root: GuestPartition & { ext: Ext4 }): Promise<string | undefined> {
  const names = ((await root.ext.readdir("/boot")) ?? []).map((e) => e.name).filter((n) => /^vmlinuz-/.test(n));
  return names.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).pop();
}

async function locate(guest: Guest, cfg: BootConfig | undefined): Promise<KernelFiles | string> {
  const root = guest.root!;
  if (cfg?.entry?.kernel) {
    const k = await bootFile(guest, cfg, cfg.entry.kernel);
    if (k) {
      const initrd = cfg.entry.initrd[0] ? await bootFile(guest, cfg, cfg.entry.initrd[0]) : undefined;
      const version = /vmlinu[xz]-(.+)$/.exec(k.path)?.[1] ?? "";
      return { version, kernel: k, initrd, evidence: [{ partition: cfg.partition.number, ...cfg.entry.evidence }] };
    }
  }
  const name = await newestKernel(root);
  if (!name) return "no Linux kernel in /boot (no vmlinuz-*)";
  const version = name.slice("vmlinuz-".length);
  let initrd: KernelFiles["initrd"];
  for (const p of [`/boot/initrd.img-${version}`, `/boot/initramfs-${version}.img`])
    if ((await root.ext.type(p)) === "file") initrd = { partition: root, path: p };
  return { version, kernel: { partition: root, path: `/boot/${name}` }, initrd, evidence: [{ partition: root.number, path: `/boot/${name}` }] };
}

/** Module names (virtio_blk) built into the kernel, from modules.builtin, or from /boot/config-VERSION. */
async function builtins(fs: Ext4, version: string): Promise<{ builtin: Set<string>; modules: Set<string>; source?: string }> {
  const builtin = new Set<string>();
  const modules = new Set<string>();
  const name = (path: string) =>
    path
      .split("/")
      .pop()!
      .replace(/\.ko(\.\w+)?$/, "")
      .replace(/-/g, "_");
  for (const base of ["/usr/lib/modules", "/lib/modules"]) {
    const b = await fs.readFile(`${base}/${version}/modules.builtin`);
    const dep = await fs.readFile(`${base}/${version}/modules.dep`, 64 * 1024 * 1024);
    if (!b && !dep) continue;
    for (const l of (b?.toString("utf8") ?? "").split("\n")) if (l.trim()) builtin.add(name(l.trim()));
    for (const l of (dep?.toString("utf8") ?? "").split("\n")) if (l.includes(":")) modules.add(name(l.slice(0, l.indexOf(":"))));
    return { builtin, modules, source: `${base}/${version}/modules.builtin` };
  }
  const config = await fs.readFile(`/boot/config-${version}`);
  if (config) {
    const opts: Record<string, string> = {
      CONFIG_VIRTIO_PCI: "virtio_pci",
      CONFIG_VIRTIO_BLK: "virtio_blk",
      CONFIG_EXT4_FS: "ext4",
      CONFIG_VIRTIO_NET: "virtio_net",
    };
    for (const l of lines(config.toString("utf8"))) {
      const m = /^(CONFIG_\w+)=([ym])/.exec(l.text);
      if (m && opts[m[1]]) (m[2] === "y" ? builtin : modules).add(opts[m[1]]);
    }
    return { builtin, modules, source: `/boot/config-${version}` };
  }
  return { builtin, modules };
}

/**
 * Where the kernel's root= leads on a Droplet (the last root= counts, as the kernel parses it): initramfs-tools and
 * dracut wait for that device and give up ("Gave up waiting for root file system device", a dracut timeout), so a
 * device the Droplet lacks is positive evidence. Forms our reading does not follow (LVM, RAID, none at all, where
 * dracut may find the root by its GPT type) leave the verdict to a boot.
 */
export function rootDevice(
  cmdline: string,
  guest: Guest,
  table: PartitionTable,
): { status: "ok" | "absent" | "unsure"; text: string; volume?: GuestPartition } {
  const roots = [...cmdline.matchAll(/(?:^|\s)root=(\S+)/g)].map((m) => m[1]);
  const root = roots[roots.length - 1];
  if (root === undefined)
    return { status: "unsure", text: "the kernel command line has no root=; our reading does not follow how the initramfs would find the root" };
  if (/^\/dev\/(loop|nvme|mmcblk|sr|ram)\d/.test(root))
    return { status: "absent", text: `root=${root}: a Droplet has no such device (its disk is the virtio disk /dev/vda)` };
  const p = resolveDevice(root, guest, table);
  if (typeof p === "object" && "caseOnly" in p)
    // initramfs-tools waits for udev's link, spelled as blkid spells it; dracut lowercases what it is given
    return {
      status: "unsure",
      text: `root=${root}: matches ${placeOf(p.caseOnly)} only ignoring case (blkid spells it ${p.spelled}); whether the initramfs finds it depends on its builder`,
    };
  if (p === "unsupported" || p === "virtual")
    return { status: "unsure", text: `root=${root}: a device our reading does not follow (LVM, RAID or another kind)` };
  if (!p) {
    const unknownIds =
      /^(UUID|LABEL|PARTUUID|PARTLABEL)=|^\/dev\/disk\//.test(root) && guest.partitions.some((x) => x.fsType !== "empty" && !x.ext && x.uuid === undefined);
    return unknownIds
      ? { status: "unsure", text: `root=${root}: not on a filesystem our reading identifies, but a partition it cannot read may hold it` }
      : {
          status: "absent",
          text: `root=${root}: no partition or filesystem of the image has it${root.startsWith("/dev/") ? " (a Droplet's disk is /dev/vda)" : ""}`,
        };
  }
  return { status: "ok", text: `root=${root}: ${placeOf(p)}`, ...(p.volume ? { volume: p } : {}) };
}

/** What the initramfs was seen to carry, by file name, for the rules that need a tool or driver in it. */
interface Early {
  names: Set<string>;
  builtin: Set<string>;
}

export async function checkKernel(guest: Guest, cfg: BootConfig | undefined, table: PartitionTable): Promise<CheckResult> {
  const { check: r, early } = await checkKernelFiles(guest, cfg);
  if (r.status === "fail" || r.status === "unknown" || !cfg?.entry) return r;
  const root = rootDevice(cfg.entry.cmdline, guest, table);
  r.evidence.push({
    ...(cfg.entry.evidence.partition !== undefined ? { partition: cfg.entry.evidence.partition } : {}),
    path: cfg.entry.evidence.path,
    line: cfg.entry.evidence.line,
    text: root.text,
  });
  if (root.status === "absent") {
    return result(
      "kernel",
      "fail",
      `the kernel's ${root.text}: the initramfs waits for it and gives up ("Gave up waiting for root file system device")`,
      r.evidence,
      `boot with the root by UUID, root=UUID=${guest.root?.uuid ?? "<the root filesystem's UUID>"}: Debian's update-grub writes it only when /dev/disk/by-uuid/ has the UUID where it runs (udev running, or the link made by hand), else add it to GRUB_CMDLINE_LINUX in /etc/default/grub; then update-grub in the image`,
    );
  }
  if (root.volume && early) {
    // The root on a logical volume: the initramfs activates it (initramfs-tools' lvm2 local-top script, dracut's lvm
    // module), which takes the lvm tool and the device-mapper driver; without them nothing makes the device and the
    // initramfs gives up waiting for it, as for a device the Droplet lacks.
    const lacks = [...(early.names.has("lvm") ? [] : ["lvm tool"]), ...(early.names.has("dm_mod") || early.builtin.has("dm_mod") ? [] : ["dm_mod driver"])];
    if (lacks.length > 0)
      return result(
        "kernel",
        "fail",
        `the kernel's root is ${placeOf(root.volume)}, but the initramfs has no ${lacks.join(" and no ")} to activate it: it would give up waiting for the root device ("Gave up waiting for root file system device")`,
        r.evidence,
        "install lvm2 in the image and rebuild its initramfs there (apt-get install lvm2 && update-initramfs -u -k all; on Fedora and RHEL: dracut -f --add lvm)",
      );
  }
  if (root.status === "unsure" && r.status === "pass") return result("kernel", "warn", `${r.message}; but ${root.text}`, r.evidence, CHECK_BY_BOOTING);
  return r;
}

async function checkKernelFiles(guest: Guest, cfg: BootConfig | undefined): Promise<{ check: CheckResult; early?: Early }> {
  const seen: { early?: Early } = {};
  const check = await kernelFiles(guest, cfg, seen);
  return { check, early: seen.early };
}

async function kernelFiles(guest: Guest, cfg: BootConfig | undefined, seen: { early?: Early }): Promise<CheckResult> {
  const id = "kernel";
  if (!guest.root) return result(id, "unknown", "the root filesystem could not be read, so the kernel was not checked");
  const found = await locate(guest, cfg);
  const install =
    "install a kernel with its initramfs in the image (apt-get install linux-image-cloud-amd64, dnf install kernel) and regenerate the boot loader config";
  if (typeof found === "string") return result(id, "fail", found, [{ partition: guest.root.number, path: "/boot" }], install);
  const evidence: Evidence[] = [
    ...found.evidence,
    { partition: found.kernel.partition.number, path: found.kernel.path, text: `Linux ${found.version || "(version unknown)"}` },
  ];
  const mods = await builtins(guest.root.ext, found.version);
  if (mods.source) evidence.push({ partition: guest.root.number, path: mods.source });
  const needEarly = DISK_DRIVERS.filter((d) => !mods.builtin.has(d));
  if (needEarly.length === 0) {
    return result(id, "pass", `Linux ${found.version} has ${DISK_DRIVERS.join(", ")} built in`, evidence);
  }
  if (!found.initrd) {
    return result(
      id,
      "fail",
      `Linux ${found.version} needs ${needEarly.join(", ")} as modules but has no initramfs, so it cannot mount its root on a Droplet's virtio disk`,
      evidence,
      "build an initramfs in the image: update-initramfs -c -k all (Debian, Ubuntu) or dracut -f --kver VERSION (Fedora, RHEL)",
    );
  }
  const buf = await found.initrd.partition.ext.readFile(found.initrd.path, MAX_INITRAMFS_FILE + 1);
  if (!buf || buf.length > MAX_INITRAMFS_FILE)
    return result(
      id,
      "warn",
      `the initramfs ${found.initrd.path} is larger than ${MAX_INITRAMFS_FILE} bytes and was not read`,
      evidence,
      "check by booting: do-image boot FILE",
    );
  const listing = await listInitramfs(buf);
  evidence.push({
    partition: found.initrd.partition.number,
    path: found.initrd.path,
    text: `initramfs: ${listing.files.length} files (${listing.layers.join(" + ") || "no cpio archive found"})`,
  });
  if (listing.unreadable && listing.files.length < 50) {
    return result(
      id,
      "warn",
      `the initramfs ${found.initrd.path} is ${listing.unreadable}-compressed, which this tool does not read, so its drivers were not checked`,
      evidence,
      "check by booting: do-image boot FILE",
    );
  }
  const inInitramfs = new Set(
    listing.files.map((f) =>
      f
        .split("/")
        .pop()!
        .replace(/\.ko(\.\w+)?$/, "")
        .replace(/-/g, "_"),
    ),
  );
  const missing = needEarly.filter((d) => !inInitramfs.has(d));
  if (listing.partial) {
    evidence.push({ partition: found.initrd.partition.number, path: found.initrd.path, text: `not read to the end: ${listing.partial}` });
    if (missing.length > 0)
      return result(
        id,
        "warn",
        `the initramfs ${found.initrd.path} was not read to the end (${listing.partial}), and ${missing.join(", ")} ${missing.length > 1 ? "were" : "was"} not among what was read`,
        evidence,
        "check by booting: do-image boot FILE",
      );
  } else seen.early = { names: inInitramfs, builtin: mods.builtin };
  const regen =
    "add the drivers to the initramfs in the image: echo virtio_pci virtio_blk ext4 | tr ' ' '\\n' >> /etc/initramfs-tools/modules && update-initramfs -u (Debian, Ubuntu), or dracut -f --no-hostonly --add-drivers 'virtio_pci virtio_blk ext4' (Fedora, RHEL)";
  if (missing.length > 0) {
    return result(
      id,
      "fail",
      `Linux ${found.version} has ${missing.join(", ")} as ${missing.length > 1 ? "modules" : "a module"} that the initramfs ${found.initrd.path} does not carry, so it cannot find its root on a Droplet's virtio disk`,
      evidence,
      regen,
    );
  }
  const noNet = LATE_DRIVERS.filter((d) => !mods.builtin.has(d) && !mods.modules.has(d) && !inInitramfs.has(d));
  if (noNet.length > 0 && mods.source) {
    return result(id, "fail", `Linux ${found.version} has no ${noNet.join(", ")} driver, so a Droplet's network card would not work`, evidence, install);
  }
  return result(
    id,
    "pass",
    `Linux ${found.version}: ${needEarly.join(", ")} in the initramfs${DISK_DRIVERS.length > needEarly.length ? `, ${DISK_DRIVERS.filter((d) => !needEarly.includes(d)).join(", ")} built in` : ""}`,
    evidence,
  );
}
