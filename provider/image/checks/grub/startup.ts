// What GRUB's i386-pc kernel does before normal mode (grub-core/kern/main.c, GRUB 2.02–2.12): prefix, root, load.cfg, normal.mod.
//
// grub_set_prefix_and_root: the compiled-in prefix "(DEVICE)PATH" names root; a DEVICE starting with "," (or none)
// is completed with the boot drive, hd0. grub_load_config runs the embedded config with the rescue parser (commands
// only; `name=value` assigns). grub_load_normal_mode loads $prefix/i386-pc/normal.mod and runs normal mode, which
// reads $prefix/grub.cfg; when that fails GRUB stops at "grub rescue>". Everything the kernel can do here comes from
// the modules built into core.img: partitions are visible only through a partition-map module (part_gpt, part_msdos),
// a filesystem only through its module (ext2 reads ext2/3/4), `search.fs_uuid` only with search_fs_uuid.
import type { Evidence } from "../types";
import type { GrubCore } from "./core";
import type { GrubMachine } from "./types";
import { parseScript } from "./script";

export type GrubStart =
  | { kind: "normal"; config: { partition: number; path: string }; root: string; prefix: string; evidence: Evidence[] }
  | { kind: "stop"; message: string; fix: string; evidence: Evidence[] }
  | { kind: "unknown"; message: string; evidence: Evidence[] };

const FS_MODULE: Record<string, string> = { ext: "ext2", xfs: "xfs", btrfs: "btrfs", vfat: "fat", iso9660: "iso9660", squashfs: "squash4", ntfs: "ntfs" };
const SEARCH_MODULE: Record<string, string> = {
  "search.fs_uuid": "search_fs_uuid",
  "search.fs_label": "search_label",
  "search.file": "search_fs_file",
  search: "search",
};

const REINSTALL =
  'reinstall GRUB in the image with the modules it needs built in: grub-install --target=i386-pc --modules="part_gpt part_msdos ext2" DISK (run inside the image, on its disk)';

/** Follows GRUB's kernel from the core image's prefix and embedded config to the file normal mode reads. */
export function grubStartup(core: GrubCore, machine: GrubMachine): GrubStart {
  const has = new Set(core.modules);
  const evidence: Evidence[] = [{ text: `core.img modules: ${core.modules.join(" ") || "(none)"}; prefix ${core.prefix ?? "(none)"}` }];
  const partmap = machine.scheme === "gpt" ? "part_gpt" : "part_msdos";
  const vars = new Map<string, string>();
  // The prefix: (DEVICE)PATH, DEVICE completed with the boot drive.
  const m = /^\(([^)]*)\)(.*)$/.exec(core.prefix ?? "");
  let device = m ? m[1] : "";
  const path = m ? m[2] : (core.prefix ?? "");
  if (device === "" || device.startsWith(",")) device = `hd0${device}`;
  vars.set("root", device);
  vars.set("prefix", `(${device})${path}`);

  /** The partition a GRUB device names, "disk" for the whole disk, or why GRUB cannot use it. */
  const partitionOf = (dev: string): number | "disk" | string => {
    if (dev === "hd0") return "disk";
    const p = /^hd0,(gpt|msdos)?([0-9]+)$/.exec(dev);
    if (!p) return `device (${dev}), which is not the Droplet's disk`;
    if (p[1] && p[1] !== (machine.scheme === "gpt" ? "gpt" : "msdos")) return `(${dev}), a ${p[1]} partition on a ${machine.scheme} disk`;
    if (!has.has(partmap)) return `(${dev}): core.img has no ${partmap} module, so GRUB sees no partitions on the disk`;
    return machine.partitions.some((x) => x.number === Number(p[2])) ? Number(p[2]) : `(${dev}): the disk has no partition ${p[2]}`;
  };

  if (core.config) {
    for (const st of parseScript(core.config)) {
      if (st.kind !== "command")
        return { kind: "unknown", message: `core.img's embedded config has a ${st.kind} statement, which GRUB's rescue parser does not run`, evidence };
      const words = st.words.map((w) => w.parts.map((p) => ("text" in p ? p.text : (vars.get(p.variable) ?? ""))).join(""));
      const [cmd, ...args] = words;
      if (!cmd) continue;
      const assign = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(cmd);
      if (assign) vars.set(assign[1], assign[2]);
      else if (cmd === "set")
        for (const a of args) {
          const kv = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(a);
          if (kv) vars.set(kv[1], kv[2]);
        }
      else if (SEARCH_MODULE[cmd]) {
        if (!has.has(SEARCH_MODULE[cmd])) {
          evidence.push({
            text: `embedded config line ${st.line}: ${words.join(" ")} (GRUB: error: can't find command '${cmd}': core.img has no ${SEARCH_MODULE[cmd]})`,
          });
          continue;
        }
        const flags = args.filter((a) => a.startsWith("-"));
        const plain = args.filter((a) => !a.startsWith("-"));
        const by =
          cmd === "search"
            ? flags.includes("--fs-uuid") || flags.includes("-u")
              ? "uuid"
              : flags.includes("--label") || flags.includes("-l")
                ? "label"
                : "file"
            : SEARCH_MODULE[cmd];
        if (by === "file" || by === "search_fs_file")
          return { kind: "unknown", message: "core.img's embedded config searches for a file, which our reading does not follow", evidence };
        const want = plain[0] ?? "";
        const setFlag = flags.find((f) => f.startsWith("--set"));
        const variable = cmd === "search" ? (setFlag?.includes("=") ? setFlag.slice(6) : setFlag ? "root" : undefined) : (plain[1] ?? "root");
        // GRUB reads a UUID or label only from partitions it can see, through a filesystem module it has.
        const found = has.has(partmap)
          ? machine.partitions.find(
              (x) =>
                (by === "label" || by === "search_label" ? x.label === want : x.uuid?.toLowerCase() === want.toLowerCase()) &&
                (x.fsType === undefined || has.has(FS_MODULE[x.fsType] ?? "")),
            )
          : undefined;
        if (found && variable) vars.set(variable, `hd0,${machine.scheme}${found.number}`);
        evidence.push({
          text: `embedded config line ${st.line}: ${words.join(" ")} (${found ? `found on partition ${found.number}` : `GRUB: error: no such device: ${want}${has.has(partmap) ? "" : `; core.img has no ${partmap}, so it sees no partitions`}`})`,
        });
      } else if (cmd === "insmod") {
        return {
          kind: "unknown",
          message: `core.img's embedded config loads the module ${args[0]} from the prefix, which our reading does not follow`,
          evidence,
        };
      }
    }
  }

  const prefix = vars.get("prefix") ?? "";
  const pm = /^\(([^)]*)\)(.*)$/.exec(prefix);
  const pdev = pm ? pm[1] : (vars.get("root") ?? "");
  const ppath = pm ? pm[2] : prefix;
  evidence.push({ text: `GRUB's prefix: ${prefix || "(unset)"}` });
  const stop = (message: string, fix = REINSTALL): GrubStart => ({
    kind: "stop",
    message: `${message}; GRUB stops at "grub rescue>"`,
    fix,
    evidence,
  });
  if (!has.has("biosdisk")) return stop("core.img has no biosdisk module, so GRUB can read no disk");
  const part = partitionOf(pdev);
  if (part === "disk") return stop(`GRUB's prefix ${prefix} is the whole disk, which holds a partition table, not a filesystem ("unknown filesystem")`);
  if (typeof part === "string") return stop(`GRUB's prefix ${prefix} names ${part}`);
  const target = machine.partitions.find((x) => x.number === part)!;
  const fsModule = target.fsType ? FS_MODULE[target.fsType] : undefined;
  if (target.fsType && !fsModule)
    return { kind: "unknown", message: `GRUB's prefix is on partition ${part}, a ${target.fsType} filesystem our reading does not follow`, evidence };
  if (fsModule && !has.has(fsModule))
    return stop(`core.img has no ${fsModule} module for partition ${part}, where its prefix ${prefix} lies ("unknown filesystem")`);
  return { kind: "normal", config: { partition: part, path: `${ppath.replace(/\/$/, "")}/grub.cfg` }, root: vars.get("root") ?? pdev, prefix, evidence };
}
