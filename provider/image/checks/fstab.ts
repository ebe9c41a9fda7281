// Check `fstab`: every filesystem /etc/fstab mounts at boot names a device the Droplet has; else the boot stops before sshd.
//
// What stops the boot depends on the init, and each is followed from its source:
// - systemd (systemd-fstab-generator, v247–v257): each entry becomes a .mount (or .swap) unit; without noauto or
//   nofail a mount is required by local-fs.target, whose failure after the device timeout (x-systemd.device-timeout,
//   90 s) starts emergency.target. Swap units are required by swap.target, which sysinit.target only wants, so a
//   missing swap device does not stop the boot.
// - sysvinit (Debian's initscripts 3.06, /etc/init.d/checkfs.sh and mountall.sh): checkfs.sh runs `fsck -A` over the
//   entries whose pass number is not 0, and any exit code above 1 (8 for a device that does not exist; util-linux's
//   fsck skips a missing device marked nofail) starts `sulogin --force` on the console; mountall.sh's `mount -a`
//   only logs a failure. So a missing device stops the boot only with a pass number.
// - other inits (OpenRC, unknown): not followed; a missing device is a warn and a boot decides.
import type { Init } from "./systemd";
import { ImageError } from "../errors";
import type { PartitionTable } from "../partitions";
import { lines, placeOf, type Guest, type GuestPartition } from "./guest";
import { CHECK_BY_BOOTING, result, type CheckResult, type Evidence } from "./types";

/** Filesystem types with no device behind them. */
const VIRTUAL = new Set([
  "proc",
  "sysfs",
  "tmpfs",
  "devpts",
  "devtmpfs",
  "cgroup",
  "cgroup2",
  "securityfs",
  "debugfs",
  "hugetlbfs",
  "mqueue",
  "pstore",
  "efivarfs",
  "bpf",
  "tracefs",
  "configfs",
  "fusectl",
  "binfmt_misc",
  "nfs",
  "nfs4",
  "cifs",
  "smb3",
  "9p",
  "virtiofs",
  "fuse",
  "none",
  "overlay",
  "autofs",
  "ramfs",
]);

interface Entry {
  line: number;
  text: string;
  spec: string;
  file: string;
  type: string;
  options: string[];
  /** The sixth field, fsck's pass number (0 when absent). */
  passno: number;
}

function parseFstab(text: string): Entry[] {
  const out: Entry[] = [];
  for (const l of lines(text)) {
    const t = l.text.replace(/#.*/, "").trim();
    if (!t) continue;
    const [spec, file, type = "auto", opts = "defaults", , passno = "0"] = t.split(/\s+/);
    if (!file) continue;
    out.push({ line: l.line, text: l.text.trim(), spec, file, type, options: opts.split(","), passno: Number(passno) || 0 });
  }
  return out;
}

const unescape = (s: string) => s.replace(/\\040/g, " ").replace(/^"(.*)"$/, "$1");

/** A spec that names a partition only when letter case is ignored, which udev's links and libblkid do not ignore. */
export interface CaseOnly {
  caseOnly: GuestPartition;
  /** The spec as blkid and udev's /dev/disk/by-* links spell it. */
  spelled: string;
}

/**
 * The partition a device spec (fstab's, or the kernel's root=) names on a Droplet, whose disk is the first virtio
 * disk, /dev/vda. UUID= and PARTUUID= match as udev's /dev/disk/by-uuid and by-partuuid links and libblkid's tag
 * lookup match them: exactly, against blkid's spelling (lowercase, but a FAT serial's uppercase). A spec that matches
 * only when case is ignored is returned as such: a booted corpus image with its root by PARTUUID in uppercase showed
 * systemd-remount-fs failing ("can't find PARTUUID=…"), the root left read-only, and sshd never starting.
 */
export function resolveDevice(spec: string, guest: Guest, table: PartitionTable): GuestPartition | CaseOnly | "virtual" | "unsupported" | undefined {
  const eq = /^(UUID|LABEL|PARTUUID|PARTLABEL)=(.*)$/.exec(spec);
  const byLink = /^\/dev\/disk\/by-(uuid|label|partuuid|partlabel)\/(.*)$/.exec(spec);
  const key = (eq?.[1] ?? byLink?.[1])?.toUpperCase();
  const value = unescape(eq?.[2] ?? byLink?.[2] ?? "");
  const ps = guest.partitions;
  const blkidUuid = (p: GuestPartition) => (p.uuid === undefined ? undefined : p.fsType === "vfat" ? p.uuid : p.uuid.toLowerCase());
  const blkidPartUuid = (p: GuestPartition) => p.partUuid?.toLowerCase();
  const exact = (spelled: (p: GuestPartition) => string | undefined): GuestPartition | CaseOnly | undefined => {
    const hit = ps.find((p) => spelled(p) === value && (key === "UUID" || !p.volume));
    if (hit) return hit;
    const near = ps.find((p) => spelled(p)?.toLowerCase() === value.toLowerCase() && (key === "UUID" || !p.volume));
    return near ? { caseOnly: near, spelled: spec.replace(value, spelled(near)!) } : undefined;
  };
  switch (key) {
    case "UUID":
      return exact(blkidUuid);
    case "LABEL":
      return ps.find((p) => p.label === value);
    case "PARTUUID": {
      if (table.scheme === "mbr" && table.diskId) {
        // MBR PARTUUIDs are the disk signature and the partition number: 1234abcd-01.
        const sig = table.diskId.replace(/^0x/, "").toLowerCase();
        const m = new RegExp(`^${sig}-(\\d{2})$`, "i").exec(value);
        const p = m ? ps.find((x) => x.number === Number(m[1]) && !x.volume) : undefined;
        if (!p) return undefined;
        return value === value.toLowerCase() ? p : { caseOnly: p, spelled: spec.replace(value, value.toLowerCase()) };
      }
      return exact(blkidPartUuid);
    }
    case "PARTLABEL":
      return ps.find((p) => p.partLabel === value && !p.volume);
  }
  // LVM's names for a logical volume: /dev/mapper/DM-NAME, /dev/VG/LV and udev's by-id links (lvm2's 10-dm.rules,
  // 13-dm-disk.rules); a volume this image's volume groups have is followed to its filesystem.
  const volumes = ps.filter((p) => p.volume);
  if (volumes.length > 0) {
    const m = /^\/dev\/(?:mapper\/(.+)|disk\/by-id\/dm-name-(.+)|disk\/by-id\/dm-uuid-LVM-([A-Za-z0-9]+)|([^/]+)\/([^/]+))$/.exec(spec);
    const lv = m
      ? volumes.find(({ volume: v }) =>
          m[1] !== undefined || m[2] !== undefined
            ? v!.dmName === (m[1] ?? m[2])
            : m[3] !== undefined
              ? `${v!.vgId}${v!.lvId}` === m[3]
              : v!.vg === m[4] && v!.lv === m[5],
        )
      : undefined;
    if (lv) return lv;
  }
  const dev = /^\/dev\/(?:vd[a-z]|xvd[a-z]|sd[a-z]|hd[a-z])(\d+)?$/.exec(spec);
  if (dev) {
    if (!spec.startsWith("/dev/vda")) return undefined; // a Droplet's boot disk is /dev/vda; sdX, xvdX and vdb+ do not exist
    return dev[1] ? ps.find((p) => p.number === Number(dev[1]) && !p.volume) : undefined;
  }
  if (/^\/dev\/(mapper|md|nvme|dm-|loop)|^\/dev\/[^/]+\/[^/]+$/.test(spec)) return "unsupported";
  if (!spec.startsWith("/") && !key) return "virtual";
  return undefined;
}

export async function checkFstab(guest: Guest, table: PartitionTable, init: Init["kind"] = "systemd"): Promise<CheckResult> {
  const id = "fstab";
  if (!guest.root) return result(id, "unknown", "the root filesystem could not be read, so /etc/fstab was not checked");
  const part = guest.root.number;
  // What stands at /etc/fstab when it is not a file: systemd's fstab generator would fail to read it, or, for a FIFO,
  // wait on it; what the boot then does is not followed here.
  let kind: string | null;
  try {
    kind = await guest.root.ext.kind("/etc/fstab");
  } catch (err) {
    if (!(err instanceof ImageError) || err.code !== "ext-symlink-loop") throw err;
    kind = "a symlink loop";
  }
  if (kind !== null && kind !== "a regular file")
    return result(
      id,
      "warn",
      `/etc/fstab is ${kind}, not a file: how the init reads it is not followed here`,
      [{ partition: part, path: "/etc/fstab", text: kind }],
      `make /etc/fstab a regular file (or remove it), or ${CHECK_BY_BOOTING}`,
    );
  const text = await guest.root.ext.readFile("/etc/fstab");
  if (!text)
    return result(id, "pass", "no /etc/fstab: the root is mounted from the kernel command line and nothing else at boot", [
      { partition: part, path: "/etc/fstab", text: "absent" },
    ]);
  const entries = parseFstab(text.toString("utf8"));
  const evidence: Evidence[] = [];
  const problems: { e: Entry; why: string; spelled?: string }[] = [];
  const notes: Evidence[] = [];
  let mismatch: Evidence | undefined;
  for (const e of entries) {
    const at: Evidence = { partition: part, path: "/etc/fstab", line: e.line, text: e.text };
    if (VIRTUAL.has(e.type) || e.spec === "none") continue;
    const optional = e.options.includes("noauto") || e.options.includes("nofail");
    const target = resolveDevice(e.spec, guest, table);
    if (target === "virtual") continue;
    const caseOnly = typeof target === "object" && "caseOnly" in target ? target : undefined;
    if (caseOnly && e.file === "/" && !optional) {
      // udev's links and libblkid's tag lookup are exact: mount(8) cannot find the root under this name
      problems.push({
        e,
        why: `it matches ${placeOf(caseOnly.caseOnly)} only ignoring case, and udev's /dev/disk links and libblkid spell it ${caseOnly.spelled}: mount cannot find it, so systemd-remount-fs fails to remount the root read-write, and on a read-only root cloud-init cannot write and sshd does not start (seen booting such an image)`,
        spelled: caseOnly.spelled,
      });
      continue;
    }
    if (target === "unsupported") {
      notes.push({ ...at, text: `${e.text} (${e.spec} is not a partition this tool can follow; not checked)` });
      continue;
    }
    if (!target || "caseOnly" in target) {
      const why = caseOnly
        ? `${e.spec} matches ${placeOf(caseOnly.caseOnly)} only ignoring case, and udev's /dev/disk links spell it ${caseOnly.spelled}, so that device never appears`
        : `${e.spec} is not a device a Droplet from this image has`;
      if (optional)
        notes.push({ ...at, text: `${e.text} (no such device on a Droplet, but ${e.options.includes("nofail") ? "nofail" : "noauto"} lets the boot go on)` });
      else if (e.type === "swap") notes.push({ ...at, text: `${e.text} (no such swap device on a Droplet; swap failing does not stop the boot)` });
      else if (init === "sysvinit" && e.passno === 0)
        notes.push({ ...at, text: `${e.text} (no such device on a Droplet; under sysvinit, mount -a logs the failure and the boot goes on)` });
      else problems.push({ e, why, spelled: caseOnly?.spelled });
      continue;
    }
    if (e.file === "/" && target !== guest.root) {
      mismatch = { ...at, text: `${e.text} (${placeOf(target)}, but the root filesystem holding /etc/os-release is ${placeOf(guest.root)})` };
      continue;
    }
    evidence.push({ ...at, text: `${e.text} (${placeOf(target)})` });
  }
  if (problems.length > 0) {
    const p = problems[0];
    if (p.spelled && p.e.file === "/")
      // seen under systemd; how another init's remount of the root takes it is not followed
      return result(
        id,
        init === "systemd" ? "fail" : "warn",
        `/etc/fstab line ${p.e.line} names the root ${p.e.spec}: ${p.why}`,
        [...problems.map((x) => ({ partition: part, path: "/etc/fstab", line: x.e.line, text: x.e.text })), ...evidence, ...notes],
        `spell it as blkid prints it: ${p.spelled}`,
      );
    const followed = init === "systemd" || init === "sysvinit";
    return result(
      id,
      followed ? "fail" : "warn",
      `/etc/fstab line ${p.e.line} mounts ${p.e.file} from ${p.e.spec}: ${p.why}; ${
        init === "systemd"
          ? "systemd would wait for it and stop the Droplet in emergency mode, before sshd starts"
          : init === "sysvinit"
            ? `checkfs.sh's fsck -A would fail on it (pass number ${p.e.passno}) and start a maintenance shell on the console, before sshd starts`
            : `how this image's init (${init}) handles a missing device is not followed here; do-image validate --boot decides`
      }`,
      [...problems.map((x) => ({ partition: part, path: "/etc/fstab", line: x.e.line, text: x.e.text })), ...evidence, ...notes],
      `remove that line from /etc/fstab in the image, or add nofail to its options (${p.e.spec} ${p.e.file} ${p.e.type} ${[...p.e.options, "nofail"].join(",")} …), or name the device by its UUID`,
    );
  }
  if (mismatch) {
    return result(
      id,
      "warn",
      `/etc/fstab line ${mismatch.line} mounts / from another partition than the root filesystem; the kernel mounts the root from its command line, but remounts and tools that read fstab will disagree`,
      [mismatch, ...evidence, ...notes],
      "make the / entry in /etc/fstab name the root filesystem, by UUID (blkid prints it)",
    );
  }
  const root = entries.find((e) => e.file === "/");
  return result(
    id,
    "pass",
    `${root ? `/ is mounted from ${root.spec}` : "no entry for /"}${entries.length > 1 ? `; ${evidence.length - (root ? 1 : 0)} other device mount${evidence.length - (root ? 1 : 0) === 1 ? "" : "s"} found` : ""}${notes.length ? `; ${notes.length} optional or unchecked` : ""}`,
    [...evidence, ...notes],
  );
}
