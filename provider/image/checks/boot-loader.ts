// Check `boot-loader`: a BIOS boot path, since DigitalOcean starts Droplets with SeaBIOS: boot code, GRUB's core image, its config.
//
// GRUB for BIOS (grub-core/boot/i386/pc/boot.S, diskboot.S; grub-bios-setup): boot.img's first 440 bytes sit in the
// MBR, with the LBA of core.img's first sector as a u64 at offset 0x5c. core.img starts with diskboot.img, whose
// first blocklist entry (start u64, length u16, segment u16 = 0x820) ends that sector at 0x1f4 and names the rest of
// core.img. core.img lives in a BIOS boot partition on GPT, or in the gap after the MBR on an MBR disk.
import type { VirtualDisk } from "../disk";
import type { PartitionTable } from "../partitions";
import { bootFile, type BootConfig } from "./bootconfig";
import type { Guest } from "./guest";
import { result, type CheckResult, type Evidence } from "./types";

const KERNEL_SECTOR = 0x5c;
const BLOCKLIST = 0x1f4;
const DISKBOOT_SEGMENT = 0x820;
const BIOS_BOOT_GUID = "21686148-6449-6E6F-744E-656564454649";
const ESP_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

const INSTALL_GRUB =
  "install GRUB for BIOS in the image: on GPT add a 1 MiB BIOS boot partition (sgdisk -n 0:0:+1M -t 0:ef02), then grub-install --target=i386-pc on the disk and update-grub (grub2-mkconfig -o /boot/grub2/grub.cfg on Fedora/RHEL)";

function allZero(b: Buffer): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

export async function checkBootLoader(disk: VirtualDisk, table: PartitionTable, guest: Guest, cfg: BootConfig | undefined): Promise<CheckResult> {
  const id = "boot-loader";
  const mbr = await disk.read(0, 512);
  const code = mbr.subarray(0, 440);
  const esp = table.partitions.find((p) => p.type === ESP_GUID || p.type === "ef");
  if (allZero(code)) {
    const efiOnly = esp !== undefined;
    return result(
      id,
      "fail",
      efiOnly
        ? `the MBR holds no boot code, so the image can only boot through EFI (partition ${esp.number} is an EFI System partition); DigitalOcean starts Droplets with a BIOS, which stops with "not a bootable disk"`
        : 'the MBR holds no boot code; a Droplet\'s BIOS stops with "Boot failed: not a bootable disk"',
      [{ text: "sector 0, bytes 0–439: all zero" }],
      INSTALL_GRUB,
    );
  }
  const evidence: Evidence[] = [];
  const isGrub = code.includes(Buffer.from("GRUB"));
  if (isGrub) {
    const sector = Number(mbr.readBigUInt64LE(KERNEL_SECTOR));
    const sectors = Math.floor(disk.size / 512);
    evidence.push({ text: `MBR: GRUB boot code, core image at sector ${sector}` });
    if (sector <= 0 || sector >= sectors) {
      return result(id, "fail", `GRUB's boot code points at sector ${sector} for its core image, which is outside the disk`, evidence, INSTALL_GRUB);
    }
    const first = await disk.read(sector * 512, 512);
    const start = Number(first.readBigUInt64LE(BLOCKLIST));
    const len = first.readUInt16LE(BLOCKLIST + 8);
    const seg = first.readUInt16LE(BLOCKLIST + 10);
    if (allZero(first) || seg !== DISKBOOT_SEGMENT || len === 0 || start + len > sectors) {
      return result(
        id,
        "fail",
        `GRUB's boot code points at sector ${sector}, but no GRUB core image is there${allZero(first) ? " (the sector is empty)" : ""}; the Droplet would stop with "GRUB  Read Error" or hang`,
        evidence,
        INSTALL_GRUB,
      );
    }
    const rest = await disk.read(start * 512, 512);
    if (allZero(rest)) return result(id, "fail", `GRUB's core image continues at sector ${start}, which is empty`, evidence, INSTALL_GRUB);
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
  } else {
    evidence.push({ text: "MBR: boot code that is not GRUB's (not followed further)" });
  }

  if (!cfg) {
    if (!isGrub) return result(id, "pass", "the MBR holds boot code (not GRUB; its configuration was not found to check)", evidence);
    return result(
      id,
      "fail",
      "GRUB is installed but no grub.cfg was found (looked for /boot/grub/grub.cfg and /boot/grub2/grub.cfg on every ext partition); GRUB would stop at its prompt",
      evidence,
      "generate the config in the image: update-grub (grub-mkconfig -o /boot/grub/grub.cfg), or grub2-mkconfig -o /boot/grub2/grub.cfg",
    );
  }
  const at = { partition: cfg.partition.number, path: cfg.path };
  if (!cfg.entry || !cfg.entry.kernel) {
    return result(
      id,
      "fail",
      `${cfg.path} has no menu entry that loads a Linux kernel`,
      [...evidence, at],
      "regenerate the boot loader config in the image: update-grub (or grub2-mkconfig -o …)",
    );
  }
  const e = cfg.entry;
  evidence.push({ partition: cfg.partition.number, ...e.evidence });
  const kernel = await bootFile(guest, cfg, e.kernel);
  const regen = `install a kernel and regenerate the config in the image (apt-get install linux-image-cloud-amd64 && update-grub, or dnf reinstall kernel-core && grub2-mkconfig -o ${cfg.path})`;
  if (!kernel) {
    return result(
      id,
      "fail",
      `${cfg.path} boots "${e.title}", whose kernel ${e.kernel} is not in the image; GRUB would say "file not found" and stop`,
      evidence,
      regen,
    );
  }
  for (const initrd of e.initrd) {
    if (!(await bootFile(guest, cfg, initrd))) {
      return result(id, "fail", `${cfg.path} boots "${e.title}", whose initramfs ${initrd} is not in the image`, evidence, regen);
    }
  }
  return result(
    id,
    "pass",
    `${isGrub ? "GRUB" : cfg.loader} boots "${e.title}": ${e.kernel}${e.initrd.length ? ` with ${e.initrd.join(", ")}` : ""}, both present`,
    evidence,
  );
}
