// Every bound on what a guest's own files may make the checks read, in one place. An image's files are untrusted
// input like its container: past a bound, the check that reads the file says so (warn or unknown, naming the file and
// the bound) and a boot decides; no bound is an error of do-image's own. Each value is far above what real systems hold.
const MiB = 1024 * 1024;

export const GUEST_LIMITS = Object.freeze({
  /** Bytes of one file read whole (the ext4 reader's default; a file larger is read to here). */
  fileBytes: 16 * MiB,
  /** Symlinks followed while resolving one path (Linux's own limit is 40). */
  symlinkHops: 40,
  /** Entries read from one directory (each costs memory while its listing is kept). */
  directoryEntries: 1_000_000,
  /** cloud-init: bytes of one config file, and files in cloud.cfg.d. */
  cloudConfigFileBytes: 1 * MiB,
  cloudConfigFiles: 200_000,
  /** Values one YAML document may expand to through its aliases (a "billion laughs" is 9^16). */
  yamlExpandedValues: 100_000,
  /** The initramfs: bytes of the file, and bytes it may decompress to. */
  initramfsFileBytes: 512 * MiB,
  initramfsUnpackedBytes: 1024 * MiB,
  /** GRUB's config run as a script: ways followed, statements run, include/call depth, bytes per file and value, BLS entries. */
  grub: Object.freeze({ paths: 32, statements: 20_000, depth: 16, fileBytes: 1 * MiB, valueBytes: 64 * 1024, blsEntries: 256 }),
  /** LVM: metadata text bytes, nesting, label areas, volumes and segments per volume. */
  lvm: Object.freeze({ metadataBytes: 4 * MiB, depth: 32, areas: 16, volumes: 1024, segments: 1024 }),
});
