// Identifies a file by content (never by name) and refuses what DigitalOcean cannot import, each with the fix.
import type { ErrorCode } from "../errors";
import { ImageError } from "./errors";
import { QCOW2_MAGIC } from "./containers/qcow2";
import { VDI_SIGNATURE, VDI_SIGNATURE_OFFSET } from "./containers/vdi";
import { VHDX_SIGNATURE } from "./containers/vhdx";
import { VMDK_DESCRIPTOR_TEXT, VMDK_MAGIC } from "./containers/vmdk";
import { readUpTo, type ByteSource } from "./source";
import type { Compression, ContainerFormat } from "./disk";

/** How many leading bytes detection needs: the ISO 9660 volume descriptor at 32 KiB plus the btrfs superblock at 64 KiB. */
const SNIFF_BYTES = 0x10040 + 8;

export type Sniffed =
  | { kind: "compressed"; compression: Exclude<Compression, "none"> }
  | { kind: "container"; format: ContainerFormat }
  | { kind: "vmdk-descriptor"; text: string };

const startsWith = (head: Buffer, bytes: number[], at = 0) => bytes.every((b, i) => head[at + i] === b);

/** Looks at the head and tail of a source and says what it is, or throws an ImageError saying what it is not. */
export async function sniff(src: ByteSource, label: string): Promise<Sniffed> {
  const head = await readUpTo(src, 0, SNIFF_BYTES);
  const tail = src.size >= 512 ? await src.read(src.size - 512, 512) : Buffer.alloc(0);
  const refuse = (what: string, fix: string, code: ErrorCode): never => {
    throw new ImageError(`${label} is ${what}, which DigitalOcean cannot import`, { file: label, offset: 0, fix, code });
  };
  if (head.length === 0) refuse("an empty file", "pass a disk image file", "empty-file");
  if (startsWith(head, [0x1f, 0x8b])) return { kind: "compressed", compression: "gzip" };
  if (head.toString("latin1", 0, 3) === "BZh" && head[3] >= 0x31 && head[3] <= 0x39) return { kind: "compressed", compression: "bzip2" };
  if (startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) {
    refuse("xz-compressed", `DigitalOcean accepts gzip or bzip2: xz -dc ${label} | gzip > image.gz (or upload it uncompressed)`, "xz");
  }
  if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd])) {
    refuse("zstd-compressed", `DigitalOcean accepts gzip or bzip2: zstd -dc ${label} | gzip > image.gz (or upload it uncompressed)`, "zstd");
  }
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06])) {
    refuse("a zip archive", `unzip it (unzip ${label}) and pass the disk image inside; compress with gzip or bzip2 if you like`, "zip");
  }
  if (head.length >= 512 && head.toString("latin1", 257, 262) === "ustar") {
    refuse(
      "a tar archive (an OVA is one)",
      `extract the disk inside (tar -tf ${label} lists it; tar -xf ${label} NAME.vmdk) and pass that .vmdk, or convert it to qcow2`,
      "tar",
    );
  }
  if (head.length >= 4 && head.readUInt32BE(0) === QCOW2_MAGIC) return { kind: "container", format: "qcow2" };
  if (head.length >= 4 && head.readUInt32LE(0) === VMDK_MAGIC) return { kind: "container", format: "vmdk" };
  if (head.toString("latin1", 0, VMDK_DESCRIPTOR_TEXT.length) === VMDK_DESCRIPTOR_TEXT) {
    return { kind: "vmdk-descriptor", text: head.toString("latin1").replace(/\0.*$/s, "") };
  }
  if (head.length >= VDI_SIGNATURE_OFFSET + 4 && head.readUInt32LE(VDI_SIGNATURE_OFFSET) === VDI_SIGNATURE) return { kind: "container", format: "vdi" };
  if (head.toString("latin1", 0, 8) === VHDX_SIGNATURE) return { kind: "container", format: "vhdx" };
  if (head.toString("latin1", 0, 8) === "conectix" || tail.toString("latin1", 0, 8) === "conectix") {
    refuse(
      "a VHD (Virtual PC / Hyper-V generation 1) image, not VHDX,",
      `convert it: qemu-img convert -f vpc -O qcow2 ${label} image.qcow2 (or -O vhdx)`,
      "vhd",
    );
  }
  // Before MBR/GPT: hybrid installer ISOs carry a partition table as well.
  if (head.length >= 0x8006 && head.toString("latin1", 0x8001, 0x8006) === "CD001") {
    refuse(
      "an ISO 9660 installer or live image",
      "install the OS into a VM disk (for example with virt-install or Packer), then import that disk as qcow2",
      "iso9660",
    );
  }
  return { kind: "container", format: "raw" };
}
