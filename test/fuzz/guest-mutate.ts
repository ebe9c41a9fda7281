// The guest fuzzer's mutator, written here: changes to the files validate's checks read inside the guest (cloud-init's
// config and its directory, fstab, grub.cfg and its includes, the initramfs, network configs, unit links, dpkg's
// status), made with debugfs requests on the root filesystem, each with the checks that own the file: only those may
// change their verdict. Contents are mutated with tokens of the language the file is written in, cut, filled with NUL,
// given a size that claims terabytes, or the file is replaced by a FIFO, a device, a directory or a symlink loop.
import type { CheckId } from "../../provider/image";

/** A file or directory of the guest, as found on the seed image (its bytes, for a file). */
export interface GuestEntry {
  path: string;
  /** "absent": a file the checks read when it exists, which the seed lacks: a case creates it. */
  kind: "file" | "dir" | "symlink" | "absent";
  content?: Buffer;
  target?: string;
  /** For a directory: its entries' names, all regular files (a directory holding others is never removed). */
  entries?: string[];
  flat?: boolean;
}

export interface GuestMutation {
  guest: string;
  target: string;
  what: string[];
  /** debugfs requests on the root filesystem; $DIR/<name> names one of `files`. */
  requests: string[];
  files: Record<string, Buffer>;
  owners: CheckId[];
}

type Family = "yaml" | "grub" | "fstab" | "interfaces" | "ini" | "dpkg" | "binary" | "text";

const GRUB_READERS: CheckId[] = ["boot-loader", "kernel", "sshd", "network", "cloud-init-datasources"];

/**
 * The checks whose verdict may change when a file changes: the checks that read it, and those its content reaches
 * (cloud-init's config sets the datasources and the network; the kernel command line GRUB reads reaches sshd's
 * first-boot presets, the network's interface names and ds-identify).
 */
export function ownersOf(path: string): CheckId[] {
  if (path.startsWith("/etc/cloud")) return ["cloud-init", "cloud-init-datasources", "network"];
  if (path === "/etc/fstab") return ["fstab", "filesystem"];
  if (/^\/boot\/(grub2?|extlinux|syslinux)\//.test(path)) return GRUB_READERS;
  // GRUB opens the kernel and the initramfs: one it cannot open stops the entry, and with it the command line the
  // checks downstream read (sshd's first-boot presets, say), as a change to grub.cfg does
  if (/^\/boot\/(initrd|initramfs|vmlinuz)/.test(path)) return GRUB_READERS;
  if (/^\/boot\/config-/.test(path)) return ["kernel"];
  if (path === "/var/lib/dpkg/status") return ["cloud-init", "cloud-init-datasources", "network"];
  if (path.startsWith("/etc/systemd/system")) return ["sshd", "network", "cloud-init", "cloud-init-datasources"];
  if (/^\/etc\/(network|netplan|NetworkManager|systemd\/network)/.test(path)) return ["network"];
  if (path === "/etc/machine-id") return ["sshd"];
  throw new Error(`no owners listed for ${path}`);
}

function familyOf(path: string): Family {
  if (path.startsWith("/etc/cloud") || path.startsWith("/etc/netplan")) return "yaml";
  if (path.startsWith("/boot/grub")) return "grub";
  if (path === "/etc/fstab") return "fstab";
  if (path.startsWith("/etc/network/")) return "interfaces";
  if (path.startsWith("/etc/NetworkManager") || path.startsWith("/etc/systemd/network")) return "ini";
  if (path === "/var/lib/dpkg/status") return "dpkg";
  if (path.startsWith("/boot/")) return "binary";
  return "text";
}

const TOKENS: Record<Family, string[]> = {
  yaml: [
    "&a ",
    "*a",
    "<<: *a\n",
    "!!binary ",
    "!!python/object/apply:os.system ",
    "{",
    "}",
    "[",
    "]",
    "- ",
    ": ",
    "\t",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "? ",
    "|\n",
    ">-\n",
    "'",
    '"',
    "\\",
    "#",
    "\u0000",
    "\ufeff",
    "datasource_list: [ NoCloud ]\n",
    "network: {config: disabled}\n",
    "datasource:\n  DigitalOcean:\n    retries: 1\n",
    "!include ",
    "&b [*a, *a]\n",
    "~\n",
    "merge_how: dict(recurse_array)+list(append)\n",
    "#cloud-config\n",
    "version: 2\nethernets: {eth0: {dhcp4: true}}\n",
  ],
  grub: [
    "source /boot/grub/grub.cfg\n",
    "configfile /boot/grub/grub.cfg\n",
    "if ",
    "; then\n",
    "fi\n",
    "else\n",
    "elif ",
    "while true; do\n",
    "done\n",
    "function f {\n",
    "}\n",
    "f\n",
    "$",
    "${",
    '"',
    "'",
    "\\",
    ";",
    "set default=",
    'set default="${saved_entry}"\n',
    "set root=",
    "search --no-floppy --fs-uuid --set=root ",
    "menuentry 'x' {\n",
    "submenu 'y' {\n",
    "linux /vmlinuz root=/dev/vda1 ro\n",
    "initrd /initrd.img\n",
    "insmod ",
    "[ ",
    " ]",
    "-e ",
    "load_env\n",
    "export ",
    "regexp ",
    "for x in a b; do\n",
    "#",
    "set timeout=0\n",
    "terminal_output serial\n",
    "blscfg\n",
    "\u0000",
    "\n",
  ],
  fstab: [
    "UUID=",
    "LABEL=",
    "PARTUUID=",
    "/dev/vda1",
    "\\040",
    "#",
    " / ",
    " ext4 ",
    " xfs ",
    " auto ",
    " defaults ",
    " nofail ",
    " 0 1",
    " 0 0",
    "\t",
    "none",
    "tmpfs",
    "/dev/mapper/vg0-root",
    "x-systemd.device-timeout=0",
    " ro ",
    "\n",
    "\u0000",
  ],
  interfaces: [
    "auto ",
    "eth0",
    "lo",
    "iface eth0 inet dhcp\n",
    "iface eth0 inet static\n address 10.0.0.2/24\n",
    "source ",
    "source-directory ",
    "allow-hotplug ",
    "/etc/network/interfaces\n",
    "/etc/network/interfaces.d/*\n",
    "\\\n",
    "#",
    "\n",
  ],
  ini: ["[main]\n", "[connection]\n", "[Match]\nName=*\n", "[Network]\nDHCP=yes\n", "no-auto-default=*\n", "=", "#", "\n", "\u0000"],
  dpkg: [
    "Package: cloud-init\n",
    "Status: install ok installed\n",
    "Status: deinstall ok config-files\n",
    "Version: 0.7.5\n",
    "Version: ",
    "\n\n",
    " ",
    ":",
    "\u0000",
  ],
  binary: ["070701", "TRAILER!!!", "\x1f\x8b\x08\x00", "\x28\xb5\x2f\xfd", "BZh9", "\u0000".repeat(512)],
  text: ["\n", "#", " ", "\u0000"],
};

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** 9^depth values through `depth` levels of aliases, under keys the checks read. */
export function aliasBomb(depth: number): string {
  const lines = [`a0: &a0 [${Array(9).fill('"lol"').join(", ")}]`];
  for (let i = 1; i <= depth; i++)
    lines.push(
      `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(", ")}]`,
    );
  return [...lines, `network: {config: *a${depth}}`, `datasource_list: *a${depth}`, ""].join("\n");
}

/** The content mutations: edits in the file's own language, cuts, byte flips. */
function mutateContent(r: () => number, family: Family, input: Buffer): { what: string; content: Buffer } {
  let b = input;
  // An initramfs is megabytes: its edits go near where a reader looks (the header, the first archive, the end).
  const near = () => (family === "binary" && r() < 0.7 ? int(r, 0, Math.min(b.length, 4096)) : int(r, 0, b.length));
  const kind = pick(r, ["tokens", "tokens", "tokens", "lines", "flip", "cut"] as const);
  if (kind === "cut") return { what: "cut", content: b.subarray(0, int(r, 0, b.length)) };
  if (kind === "flip") {
    b = Buffer.from(b);
    const n = int(r, 1, 8);
    for (let i = 0; i < n && b.length > 0; i++) b[Math.min(near(), b.length - 1)] ^= 1 << int(r, 0, 7);
    return { what: `flip ${n}`, content: b };
  }
  if (kind === "lines" && family !== "binary") {
    const lines = b.toString("latin1").split("\n");
    const op = pick(r, ["duplicate", "delete", "swap", "repeat"] as const);
    const i = int(r, 0, lines.length - 1);
    const j = int(r, 0, lines.length - 1);
    if (op === "duplicate") lines.splice(j, 0, lines[i]);
    else if (op === "delete") lines.splice(i, 1);
    else if (op === "swap") [lines[i], lines[j]] = [lines[j], lines[i]];
    else lines.splice(i, 0, ...Array<string>(int(r, 100, 20_000)).fill(lines[i]));
    return { what: `lines ${op}`, content: Buffer.from(lines.join("\n"), "latin1") };
  }
  const n = int(r, 1, 6);
  for (let k = 0; k < n; k++) {
    const at = near();
    b = Buffer.concat([b.subarray(0, at), Buffer.from(pick(r, TOKENS[family]), "utf8"), b.subarray(at)]);
  }
  return { what: `tokens ${n}`, content: b };
}

/** Requests that remove what is at `e.path` (a directory only when it holds regular files alone). */
function removal(e: GuestEntry): string[] {
  if (e.kind !== "dir") return [`rm ${e.path}`];
  return [...(e.entries ?? []).map((n) => `rm ${e.path}/${n}`), `rmdir ${e.path}`];
}

const parentOf = (p: string) => p.slice(0, p.lastIndexOf("/")) || "/";
const baseOf = (p: string) => p.slice(p.lastIndexOf("/") + 1);

/** Something else in the file's place: a special file, a directory, a symlink that loops or leads nowhere. */
function replacement(r: () => number, e: GuestEntry): { what: string; requests: string[] } {
  const name = baseOf(e.path);
  const at = [`cd ${parentOf(e.path)}`];
  const kind = pick(r, ["fifo", "char", "block", "dir", "self-link", "link-pair", "dangling", "dev-zero", "long-chain", "up-and-out"] as const);
  const swap = (make: string[]) => ({ what: `replaced: ${kind}`, requests: [...removal(e), ...at, ...make] });
  switch (kind) {
    case "fifo":
      return swap([`mknod ${name} p`]);
    case "char":
      return swap([`mknod ${name} c 1 5`]);
    case "block":
      return swap([`mknod ${name} b 253 0`]);
    case "dir":
      return swap([`mkdir ${name}`]);
    case "self-link":
      return swap([`symlink ${name} ${e.path}`]);
    case "link-pair":
      return swap([`symlink ${name} ${e.path}.other`, `symlink ${name}.other ${e.path}`]);
    case "dangling":
      return swap([`symlink ${name} /nonexistent/${name}`]);
    case "dev-zero":
      return swap([`symlink ${name} /dev/zero`]);
    case "long-chain": {
      // more hops than Linux follows (40): each link names the next
      const hops = int(r, 30, 60);
      const links = Array.from({ length: hops }, (_, i) => `symlink ${name}.${i} ${i + 1 < hops ? `${e.path}.${i + 1}` : "/etc/hostname"}`);
      return swap([...links, `symlink ${name} ${e.path}.0`]);
    }
    case "up-and-out":
      // a relative link climbing past the root stays at the guest's root, as the kernel resolves it in a chroot
      return swap([`symlink ${name} ${"../".repeat(int(r, 4, 12))}${e.path.slice(1)}`]);
  }
}

/** The group a file belongs to: a case picks a group first, so that a directory of many files does not crowd out fstab. */
const groupOf = (path: string) => ownersOf(path).join(",") + (path.startsWith("/boot/grub") ? "" : familyOf(path));

/** One case: one or two changes to one file or directory the checks read. */
export function guestMutation(guest: string, entries: GuestEntry[], r: () => number): GuestMutation {
  const groups = [...new Set(entries.map((x) => groupOf(x.path)))];
  const group = pick(r, groups);
  const e = pick(
    r,
    entries.filter((x) => groupOf(x.path) === group),
  );
  const family = familyOf(e.path);
  const m: GuestMutation = { guest, target: e.path, what: [], requests: [], files: {}, owners: ownersOf(e.path) };
  const write = (content: Buffer, path = e.path) => {
    const file = `f${Object.keys(m.files).length}`;
    m.files[file] = content;
    return [`write $DIR/${file} ${path}`];
  };
  const roll = r();
  if (e.kind === "dir") {
    if (roll < 0.45) {
      const n = pick(r, [3, 50, 1000, 5000]);
      const body = e.path.includes("cloud") ? Buffer.from("datasource_list: [ ConfigDrive, None ]\n") : Buffer.from("# x\n");
      m.what.push(`${n} files added`);
      m.files.many = body;
      for (let i = 0; i < n; i++) m.requests.push(`write $DIR/many ${e.path}/zz-fuzz-${String(i).padStart(5, "0")}.cfg`);
    } else if (roll < 0.6 && e.flat) {
      const rep = replacement(r, e);
      m.what.push(rep.what);
      m.requests.push(...rep.requests);
    } else if (roll < 0.75) {
      m.what.push("a subdirectory and a special file added");
      m.requests.push(`mkdir ${e.path}/zz-dir.cfg`, `cd ${e.path}`, "mknod zz-fifo.cfg p", "symlink zz-loop.cfg zz-loop.cfg");
    } else {
      const depth = int(r, 4, 16);
      m.what.push(`an alias bomb of depth ${depth} added`);
      m.requests.push(...write(Buffer.from(aliasBomb(depth)), `${e.path}/99-zz-fuzz.cfg`));
    }
    return m;
  }
  if (e.kind === "absent") {
    // made from the tokens of its language, as a person might have written it
    const seed = Buffer.from(pick(r, TOKENS[family]).repeat(int(r, 1, 3)));
    const a = mutateContent(r, family, seed);
    m.what.push(`created: ${a.what}`);
    m.requests.push(...write(a.content));
    return m;
  }
  if (e.kind === "symlink") {
    const targets = ["/lib/systemd/system/ssh.service", "/dev/null", e.path, "/nonexistent.service", "../../../../lib/systemd/system/ssh.service"];
    const t = pick(r, targets);
    m.what.push(`link retargeted to ${t}`);
    m.requests.push(`rm ${e.path}`, `symlink ${e.path} ${t}`);
    if (r() < 0.4) {
      const rep = replacement(r, e);
      m.what.push(rep.what);
      m.requests.push(...rep.requests.filter((q) => q !== `rm ${e.path}`));
    }
    return m;
  }
  const content = e.content ?? Buffer.alloc(0);
  if (roll < 0.55) {
    const a = mutateContent(r, family, content);
    const b = r() < 0.3 ? mutateContent(r, family, a.content) : undefined;
    m.what.push(a.what, ...(b ? [b.what] : []));
    m.requests.push(`rm ${e.path}`, ...write((b ?? a).content));
  } else if (roll < 0.65) {
    const n = pick(r, [1, 4096, 1 << 20, 16 << 20]);
    m.what.push(`${n} NUL bytes`);
    m.requests.push(`rm ${e.path}`, ...write(Buffer.alloc(n)));
  } else if (roll < 0.75) {
    // the size field claims far more than the blocks that exist: a sparse file a reader must not walk or allocate
    const size = pick(r, ["0x10000000000", "0x4000000000000000", "0xffffffffffff"]);
    m.what.push(`size claims ${size}`);
    m.requests.push(`sif ${e.path} size ${size}`);
  } else if (roll < 0.82 && family === "yaml") {
    const depth = int(r, 4, 16);
    m.what.push(`alias bomb of depth ${depth}`);
    m.requests.push(`rm ${e.path}`, ...write(Buffer.from(aliasBomb(depth))));
  } else if (roll < 0.86 && (family === "yaml" || family === "grub")) {
    const depth = pick(r, [1000, 100_000]);
    m.what.push(`nested ${depth} deep`);
    const text =
      family === "yaml" ? `datasource_list: ${"[".repeat(depth)}${"]".repeat(depth)}\n` : `${"if true; then\n".repeat(depth)}${"fi\n".repeat(depth)}`;
    m.requests.push(`rm ${e.path}`, ...write(Buffer.concat([content, Buffer.from(text)])));
  } else {
    const rep = replacement(r, e);
    m.what.push(rep.what);
    m.requests.push(...rep.requests);
  }
  return m;
}
