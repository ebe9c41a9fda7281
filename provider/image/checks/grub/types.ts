// The shapes GRUB's reading shares: the disk as GRUB sees it, the files it names, and how a walk through its config ends.
import { GUEST_LIMITS } from "../../guest-limits";
import type { Evidence } from "../types";

export interface GrubFiles {
  readFile(path: string, limit?: number): Promise<Buffer | null>;
  type(path: string): Promise<"dir" | "file" | "symlink" | "other" | null>;
  readdir(path: string): Promise<{ name: string }[] | null>;
}

export interface GrubPartition {
  number: number;
  uuid?: string;
  label?: string;
  /** The partition's files, when our reading can open its filesystem. */
  files?: GrubFiles;
  /** It holds a filesystem our reading cannot open, so what GRUB finds there is unknown. */
  opaque?: boolean;
  /** The filesystem's kind, as sniffed (ext, xfs, vfat, …). */
  fsType?: string;
}

export interface GrubMachine {
  /** How GRUB names the disk's partitions: (hd0,gptN) or (hd0,msdosN). */
  scheme: "gpt" | "msdos";
  partitions: GrubPartition[];
}

export interface GrubFile {
  partition: number;
  path: string;
  /** How the config names it. */
  as: string;
}

export type GrubOutcome =
  | { kind: "boot"; title?: string; kernel: GrubFile; initrd: GrubFile[]; cmdline: string; via: Evidence[] }
  | { kind: "stop"; message: string; fix: string; via: Evidence[] }
  | { kind: "unknown"; message: string; via: Evidence[] };

export const REGENERATE =
  "regenerate GRUB's config in the image: update-grub (grub-mkconfig -o /boot/grub/grub.cfg), or grub2-mkconfig -o /boot/grub2/grub.cfg";

/** Bounds on what one reading does, whatever the guest's config holds. */
export const GRUB_LIMITS = GUEST_LIMITS.grub;

/** The config normal mode reads, with $root and $prefix as GRUB's kernel left them (else the config's partition and directory). */
export interface GrubStartAt {
  partition: number;
  path: string;
  root?: string;
  prefix?: string;
}
