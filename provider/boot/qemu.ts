// Finds qemu-system-x86_64, tells by trying whether KVM starts guests here, and builds the Droplet-like command line.
import { spawn } from "node:child_process";
import { access, constants, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { EXIT } from "../errors";
import { ImageError } from "../image/errors";

export type Accelerator = "kvm" | "tcg";

const INSTALL = "install QEMU: apt-get install qemu-system-x86 (Debian, Ubuntu), dnf install qemu-system-x86 (Fedora), brew install qemu (macOS)";

/** The qemu-system-x86_64 binary on PATH (or $DO_IMAGE_QEMU), or an error that says how to install it. */
export async function findQemu(): Promise<string> {
  const explicit = process.env.DO_IMAGE_QEMU;
  const candidates = explicit ? [explicit] : (process.env.PATH ?? "").split(delimiter).map((d) => join(d, "qemu-system-x86_64"));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch {
      // try the next one
    }
  }
  // A setting that names no program is a usage error (64); QEMU absent is a tool the command needs, unavailable (69).
  throw new ImageError(explicit ? `DO_IMAGE_QEMU=${explicit} is not an executable file` : "qemu-system-x86_64 is not on PATH, so the image cannot be booted", {
    fix: explicit ? "set DO_IMAGE_QEMU to the path of qemu-system-x86_64, or unset it to use the one on PATH" : INSTALL,
    code: "qemu-missing",
    exit: explicit ? EXIT.usage : EXIT.unavailable,
  });
}

/**
 * A 512-byte boot sector that writes 0x21 to QEMU's isa-debug-exit port, so QEMU exits with status (0x21 << 1) | 1 = 67
 * as soon as the guest's first instruction runs: `mov al,0x21; out 0xf4,al; hlt; jmp $-1`, then the 0x55AA signature.
 */
function probeSector(): Buffer {
  const code = Buffer.from([0xb0, 0x21, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]);
  const sector = Buffer.alloc(512);
  code.copy(sector);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

const PROBE_EXIT = 67;

/** No default devices, no user config files, no window: every device a guest has is named on the command line. */
const HEADLESS = ["-nodefaults", "-no-user-config", "-display", "none"];

/** The CPU model a guest gets: the host's own under KVM, QEMU's fullest emulated one under TCG. */
const cpuModel = (accel: Accelerator) => (accel === "kvm" ? "host" : "max");

/**
 * Runs the probe guest under `accel`, with the CPU model the real guest gets (a host whose KVM runs QEMU's default
 * model but refuses `-cpu host` aborts QEMU only then); true only when the guest really ran (the probe's exit code).
 */
async function probe(qemu: string, accel: Accelerator, dir: string, timeoutMs: number): Promise<{ ok: boolean; why: string }> {
  const img = join(dir, "accel-probe.img");
  await writeFile(img, probeSector());
  return new Promise((resolve) => {
    const child = spawn(
      qemu,
      [
        "-accel",
        accel,
        "-cpu",
        cpuModel(accel),
        ...HEADLESS,
        "-m",
        "16",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-drive",
        `file=${img},format=raw,if=ide`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ ok: false, why: e.message });
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === PROBE_EXIT) resolve({ ok: true, why: "" });
      else
        resolve({
          ok: false,
          why: timedOut
            ? `the probe guest did not run within ${timeoutMs / 1000} s`
            : stderr.trim().split("\n").pop() || `QEMU ${signal ? `was stopped by ${signal}` : `exited with ${code}`}`,
        });
    });
  });
}

export interface AcceleratorChoice {
  accel: Accelerator;
  /** Why KVM was not used, when it was not. */
  note?: string;
}

/** KVM when a probe guest actually runs under it, else TCG (software emulation, several times slower). */
export async function chooseAccelerator(qemu: string, dir: string, wanted: "auto" | Accelerator = "auto"): Promise<AcceleratorChoice> {
  if (wanted === "tcg") return { accel: "tcg", note: "TCG requested" };
  const kvm = await probe(qemu, "kvm", dir, 10_000);
  if (kvm.ok) return { accel: "kvm" };
  if (wanted === "kvm")
    throw new ImageError(`KVM was requested but a probe guest does not run under it: ${kvm.why}`, {
      fix: "drop --accel kvm to fall back to TCG, or give this user access to /dev/kvm",
      code: "kvm-unavailable",
    });
  const tcg = await probe(qemu, "tcg", dir, 30_000);
  if (!tcg.ok) throw new ImageError(`QEMU cannot start a guest at all: ${tcg.why}`, { fix: INSTALL, code: "qemu-broken" });
  return { accel: "tcg", note: `KVM unavailable: ${kvm.why.replace(/^qemu-system-x86_64: /, "")}` };
}

export interface QemuPlan {
  accel: Accelerator;
  image: string;
  /** QEMU's block driver for the image: raw, qcow2, vmdk, vdi or vhdx. */
  format: string;
  configDrive: string;
  mac: string;
  sshPort: number;
  /** The command QEMU runs for each guest connection to the metadata service (guestfwd). */
  metadataCommand: string;
  serialSocket: string;
  /** Unix socket for SeaBIOS's debug log (port 0x402), which says when it jumps to the disk's boot code. */
  firmwareSocket: string;
  serconFile: string;
  memoryMiB: number;
  cpus: number;
  serial: string;
}

/** Guest network: 169.254.0.0/16 so that DigitalOcean's metadata address 169.254.169.254 lies inside slirp's net. */
export const GUEST = { net: "169.254.0.0/16", host: "169.254.0.2", dns: "169.254.0.3", address: "169.254.0.15", metadata: "169.254.169.254" };

/** QEMU's option syntax doubles commas inside a value. */
const esc = (v: string) => v.replace(/,/g, ",,");

export function qemuArgs(p: QemuPlan): string[] {
  const netdev = [
    "user",
    "id=net0",
    "restrict=on",
    `net=${GUEST.net}`,
    `host=${GUEST.host}`,
    `dns=${GUEST.dns}`,
    `dhcpstart=${GUEST.address}`,
    `hostfwd=tcp:127.0.0.1:${p.sshPort}-:22`,
    `guestfwd=tcp:${GUEST.metadata}:80-cmd:${esc(p.metadataCommand)}`,
  ].join(",");
  return [
    "-accel",
    p.accel,
    "-machine",
    "pc",
    "-cpu",
    cpuModel(p.accel),
    "-smp",
    String(p.cpus),
    "-m",
    String(p.memoryMiB),
    ...HEADLESS,
    // Only the image's disk is a boot device, so a disk without boot code ends in "No bootable device".
    "-boot",
    "strict=on",
    "-smbios",
    `type=1,manufacturer=DigitalOcean,product=Droplet,serial=${p.serial}`,
    "-drive",
    `file=${esc(p.image)},if=none,id=disk0,format=${p.format},snapshot=on`,
    "-device",
    "virtio-blk-pci,drive=disk0,bootindex=1",
    "-drive",
    `file=${esc(p.configDrive)},if=none,id=config,format=raw,readonly=on`,
    "-device",
    "virtio-blk-pci,drive=config",
    "-netdev",
    netdev,
    "-device",
    // No option ROM: a Droplet does not network-boot, and iPXE would otherwise try after a disk that does not boot.
    `virtio-net-pci,netdev=net0,mac=${p.mac},romfile=`,
    "-chardev",
    `socket,id=serial0,path=${esc(p.serialSocket)}`,
    "-serial",
    "chardev:serial0",
    // SeaBIOS prints its screen to the serial port too, so "Boot failed: not a bootable disk" is seen.
    "-fw_cfg",
    `name=etc/sercon-port,file=${esc(p.serconFile)}`,
    "-chardev",
    `socket,id=fwlog,path=${esc(p.firmwareSocket)}`,
    "-device",
    "isa-debugcon,iobase=0x402,chardev=fwlog",
  ];
}

/** The fw_cfg file that turns on SeaBIOS's serial console at COM1 (0x3f8), as a 2-byte little-endian integer. */
export function serconPort(): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(0x3f8);
  return b;
}
