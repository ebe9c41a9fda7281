// Check `boot-loader`: a BIOS boot path, since DigitalOcean starts Droplets with SeaBIOS: boot code, GRUB's core image, its config.
//
// GRUB for BIOS (grub-core/boot/i386/pc/boot.S, diskboot.S; grub-bios-setup): boot.img's first 440 bytes sit in the
// MBR, with the LBA of core.img's first sector as a u64 at offset 0x5c. core.img starts with diskboot.img, whose
// first blocklist entry (start u64, length u16, segment u16 = 0x820) ends that sector at 0x1f4 and names the rest of
// core.img. core.img lives in a BIOS boot partition on GPT, or in the gap after the MBR on an MBR disk. What core.img
// holds (its modules, prefix and embedded config) is read by grub/core.ts and followed by grub/startup.ts; the
// config by grub/run.ts. The verdict rule: `fail` only on positive evidence that the boot stops; what our reading
// cannot follow is a `warn` that names it and leaves the verdict to a boot.
import type { VirtualDisk } from "../disk";
import type { PartitionTable } from "../partitions";
import type { BootConfig } from "./bootconfig";
import { readGrubCore, type GrubCore } from "./grub";
import { opaquePartition, type Guest } from "./guest";
import { result, type CheckResult, type Evidence } from "./types";

const KERNEL_SECTOR = 0x5c;
const BLOCKLIST = 0x1f4;
const DISKBOOT_SEGMENT = 0x820;
const BIOS_BOOT_GUID = "21686148-6449-6E6F-744E-656564454649";
const ESP_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

const INSTALL_GRUB =
  "install GRUB for BIOS in the image: on GPT add a 1 MiB BIOS boot partition (sgdisk -n 0:0:+1M -t 0:ef02), then grub-install --target=i386-pc on the disk and update-grub (grub2-mkconfig -o /boot/grub2/grub.cfg on Fedora/RHEL)";

/** What a warning says to do: the boot decides what our reading cannot. */
export const BOOT_DECIDES = "boot the image as a Droplet to decide: do-image validate --boot IMAGE (or do-image boot IMAGE)";

function allZero(b: Buffer): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

/** The boot code in sector 0 and, for GRUB, its core image: what the firmware and GRUB's first stages run. */
export interface LoaderOnDisk {
  code: "none" | "grub" | "other";
  evidence: Evidence[];
  /** Positive evidence that the firmware or GRUB's first stage stops, with the fix. */
  failure?: { message: string; fix: string };
  /** GRUB's core image, decoded; or why it could not be. */
  core?: GrubCore | string;
}

export async function readLoader(disk: VirtualDisk, table: PartitionTable): Promise<LoaderOnDisk> {
  const mbr = await disk.read(0, 512);
  const code = mbr.subarray(0, 440);
  if (allZero(code)) {
    const esp = table.partitions.find((p) => p.type === ESP_GUID || p.type === "ef");
    return {
      code: "none",
      evidence: [{ text: "sector 0, bytes 0–439: all zero" }],
      failure: {
        message: esp
          ? `the MBR holds no boot code, so the image can only boot through EFI (partition ${esp.number} is an EFI System partition); DigitalOcean starts Droplets with a BIOS, which stops with "not a bootable disk"`
          : 'the MBR holds no boot code; a Droplet\'s BIOS stops with "Boot failed: not a bootable disk"',
        fix: INSTALL_GRUB,
      },
    };
  }
  if (!code.includes(Buffer.from("GRUB"))) return { code: "other", evidence: [{ text: "MBR: boot code that is not GRUB's" }] };
  const sector = Number(mbr.readBigUInt64LE(KERNEL_SECTOR));
  const sectors = Math.floor(disk.size / 512);
  const evidence: Evidence[] = [{ text: `MBR: GRUB boot code, core image at sector ${sector}` }];
  const fail = (message: string): LoaderOnDisk => ({ code: "grub", evidence, failure: { message, fix: INSTALL_GRUB } });
  if (sector <= 0 || sector >= sectors) return fail(`GRUB's boot code points at sector ${sector} for its core image, which is outside the disk`);
  const first = await disk.read(sector * 512, 512);
  const start = Number(first.readBigUInt64LE(BLOCKLIST));
  const len = first.readUInt16LE(BLOCKLIST + 8);
  const seg = first.readUInt16LE(BLOCKLIST + 10);
  if (allZero(first) || seg !== DISKBOOT_SEGMENT || len === 0 || start + len > sectors) {
    return fail(
      `GRUB's boot code points at sector ${sector}, but no GRUB core image is there${allZero(first) ? " (the sector is empty)" : ""}; the Droplet would stop with "GRUB  Read Error" or hang`,
    );
  }
  const rest = await disk.read(start * 512, 512);
  if (allZero(rest)) return fail(`GRUB's core image continues at sector ${start}, which is empty`);
  const where = table.partitions.find((p) => p.start <= sector * 512 && sector * 512 < p.start + p.size);
  if (table.scheme === "gpt" && where?.type !== BIOS_BOOT_GUID) {
    evidence.push({
      text: `GRUB's core image at sector ${sector} is ${where ? `inside partition ${where.number} (${where.typeName})` : "outside every partition"}, not in a BIOS boot partition`,
    });
  } else {
    evidence.push({
      text: `GRUB core image: ${len + 1} sectors from sector ${sector}${where ? ` (partition ${where.number}, ${where.typeName})` : " (the gap after the MBR)"}`,
    });
  }
  // diskboot.img's blocklist names the sectors after the first; grub-install writes core.img in one run of them.
  const core = start === sector + 1 ? await readGrubCore(disk, sector * 512, len + 1) : "its sectors are not contiguous, which our reading does not follow";
  if (typeof core === "string") evidence.push({ text: `core.img not read: ${core}; took GRUB's config from where grub-install puts it` });
  return { code: "grub", evidence, core };
}

export function checkBootLoader(loader: LoaderOnDisk, guest: Guest, cfg: BootConfig | undefined): CheckResult {
  const id = "boot-loader";
  const evidence = [...loader.evidence];
  if (loader.failure) return result(id, "fail", loader.failure.message, evidence, loader.failure.fix);
  const isGrub = loader.code === "grub";
  if (!cfg) {
    if (!isGrub) {
      return result(
        id,
        "warn",
        "the MBR holds boot code that is not GRUB's, and no extlinux config was found for it; our reading does not follow other boot loaders",
        evidence,
        BOOT_DECIDES,
      );
    }
    const unreadable = guest.partitions.filter(opaquePartition);
    if (unreadable.length > 0) {
      return result(
        id,
        "warn",
        `GRUB is installed, but no grub.cfg was found on the filesystems our reading opens; partition ${unreadable.map((p) => p.number).join(", ")} (${unreadable.map((p) => p.typeName).join(", ")}) may hold it`,
        evidence,
        BOOT_DECIDES,
      );
    }
    return result(
      id,
      "fail",
      "GRUB is installed but no grub.cfg was found (looked for /boot/grub/grub.cfg, /boot/grub2/grub.cfg, /grub/grub.cfg and /grub2/grub.cfg on every partition); GRUB would stop at its prompt",
      evidence,
      "generate the config in the image: update-grub (grub-mkconfig -o /boot/grub/grub.cfg), or grub2-mkconfig -o /boot/grub2/grub.cfg",
    );
  }
  const r = cfg.reading;
  const where =
    cfg.path === "core.img" ? [] : [{ partition: cfg.partition.number, path: cfg.path, text: `${cfg.loader === "grub" ? "GRUB" : "extlinux"} config` }];
  const all = [...evidence, ...where, ...r.evidence];
  if (r.verdict === "stops") return result(id, "fail", r.message, all, r.fix ?? "regenerate the boot loader config in the image");
  if (r.verdict === "unsure") return result(id, "warn", r.message, all, BOOT_DECIDES);
  const e = cfg.entry!;
  return result(
    id,
    "pass",
    `${isGrub ? "GRUB" : cfg.loader} boots ${e.title.startsWith("(") ? e.title : `"${e.title}"`}: ${e.kernel}${e.initrd.length ? ` with ${e.initrd.join(", ")}, both present` : ", present, with no initramfs (the kernel check says whether it needs one)"}`,
    all,
  );
}
