// `validate`: every DigitalOcean requirement judged locally, each check with its evidence and fix, in a fixed order.
import { formatBytes } from "../bytes";
import { ImageError } from "../errors";
import { partitionFindings } from "../inspect";
import { judgeVirtualSize } from "../limits";
import { openImage, type OpenedImage, type OpenOptions } from "../open";
import { readPartitionTable, type PartitionTable } from "../partitions";
import { checkBootLoader, readLoader } from "./boot-loader";
import { readBootConfig } from "./bootconfig";
import { checkCloudInit } from "./cloud-init";
import { CLOUD_CONFIG_LIMITS, readCloudConfig, unfollowedFor, type CloudConfig } from "./cloud-config";
import { checkFstab } from "./fstab";
import { checkKernel } from "./kernel";
import { checkNetwork } from "./network";
import { detectInit } from "./systemd";
import { checkDatasources } from "./datasources";
import { checkFilesystem } from "./filesystem";
import { findGuest } from "./guest";
import { checkSshd } from "./sshd";
import { blocks, CHECK_BY_BOOTING, CHECK_IDS, result, type CheckId, type CheckResult, type ValidationReport } from "./types";

/** Errors that say the compression layer is the problem rather than the disk image inside it. */
const COMPRESSION_CODES = new Set(["xz", "zstd", "zip", "nested-compression", "gzip-corrupt", "bzip2-corrupt", "bzip2-randomised"]);

export interface ValidateOptions extends OpenOptions {
  /** Check ids whose failures are reported as warnings (the user has accepted them). */
  skip?: readonly string[];
}

/** True when the report could not read the file at all (the `format` or `compression` check failed on an error). */
export function unreadable(report: ValidationReport): boolean {
  return report.checks.some((c) => (c.id === "format" || c.id === "compression") && c.status === "fail");
}

/**
 * The report's verdict: a check that fails, or one that decides whether a Droplet works but could not be judged (an
 * unreadable root filesystem, say), stops the image, unless the user skips it knowingly.
 */
function finish(file: string, checks: Map<CheckId, CheckResult>, skip: readonly string[]): ValidationReport {
  const ordered = CHECK_IDS.map((id) => checks.get(id) ?? result(id, "unknown", "not checked: an earlier step failed"));
  for (const c of ordered) {
    if (!blocks(c)) continue;
    if (skip.includes(c.id)) {
      c.message = `${c.message} (accepted${c.status === "unknown" ? " without a verdict" : ""}: validation.skip lists "${c.id}")`;
      c.status = "warn";
      c.fix ??= "none needed: the skip list accepts it";
    } else if (c.status === "unknown") {
      c.fix ??= `whether a Droplet works depends on this check: fix what an earlier check names so it can be judged, or skip "${c.id}" to accept not knowing`;
    }
  }
  return { file, ok: !ordered.some(blocks), checks: ordered };
}

function errorCheck(id: CheckId, err: ImageError): CheckResult {
  return result(
    id,
    "fail",
    err.message,
    err.offset !== undefined ? [{ path: err.file, text: `offset ${err.offset}` }] : err.file ? [{ path: err.file }] : [],
    err.fix,
  );
}

/** An error in one guest file rather than in the disk's structure: a symlink loop, a directory past our bound. */
const guestFileError = (err: unknown): err is ImageError =>
  err instanceof ImageError && (err.code === "ext-symlink-loop" || err.code === "ext-directory-over-limit");

/** A check whose file our reading could not follow: a warn naming it, and the boot decides. */
function unfollowedFile(id: CheckId, err: ImageError): CheckResult {
  return result(id, "warn", `not followed: ${err.message}`, [{ text: err.message }], `${err.fix}; or ${CHECK_BY_BOOTING}`);
}

/** The cloud-config keys each check's verdict rests on; the cloud-init check owns every file of /etc/cloud. */
const UNFOLLOWED_KEYS: [CheckId, string[]][] = [
  ["cloud-init", ["*"]],
  ["cloud-init-datasources", ["datasource_list", "datasource"]],
  ["network", ["network"]],
];

/**
 * A verdict that rests on cloud-config keys a file we did not follow may set (a file past a bound: too large, aliases
 * expanding without end) is not known: it becomes a warn naming the file and the bound, and a boot decides.
 */
function unfollowedConfig(c: CheckResult, cfg: CloudConfig, keys: string[]): CheckResult {
  const files = keys.includes("*") ? cfg.unfollowed : unfollowedFor(cfg, ...keys);
  if (files.length === 0 || c.status === "unknown" || c.status === "warn") return c;
  const first = files[0];
  return result(
    c.id,
    "warn",
    `${c.message}; but ${first.path} was not read to the end (${first.why})${files.length > 1 ? ` nor ${files.length - 1} other file(s)` : ""}, and ${keys.includes("*") ? "what it configures" : `the ${keys.join(" or ")} it may set`} is not known here`,
    [...c.evidence, ...files.map((u) => ({ path: u.path, text: `not followed: ${u.why}` }))],
    `make the file plain YAML without aliases that expand so far, under ${CLOUD_CONFIG_LIMITS.fileBytes} bytes; or ${CHECK_BY_BOOTING}`,
  );
}

export async function validateImage(path: string, options: ValidateOptions = {}): Promise<ValidationReport> {
  const skip = options.skip ?? [];
  const checks = new Map<CheckId, CheckResult>();
  const set = (c: CheckResult) => checks.set(c.id, c);
  let image: OpenedImage;
  try {
    image = await openImage(path, options);
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    if (COMPRESSION_CODES.has(err.code)) {
      set(errorCheck("compression", err));
      set(result("format", "unknown", "not checked: the compression layer could not be read"));
    } else if (err.code === "decompressed-over-limit") {
      // A compression bomb or simply a disk too big: either way the size decides, and nothing past the limit is read.
      set(result("compression", "pass", "compressed; decompression stopped at DigitalOcean's 100 GiB limit"));
      set(result("format", "unknown", "not checked: decompression stopped at the size limit"));
      set(errorCheck("size", err));
    } else if (err.code === "size-over-limit") {
      // A header that states a size past what a number holds is well formed and simply too big: the size check says so.
      set(result("format", "pass", "the header is readable"));
      set(errorCheck("size", err));
    } else set(errorCheck("format", err));
    return finish(path, checks, skip);
  }
  try {
    const { disk } = image;
    set(
      result(
        "compression",
        "pass",
        image.compression === "none" ? "not compressed" : `${image.compression}-compressed (DigitalOcean decompresses it on import)`,
      ),
    );
    try {
      // Walks the container's block map: every cluster or block it points to must lie inside the file.
      await disk.allocatedBytes();
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
      set(errorCheck("format", err));
      return finish(path, checks, skip);
    }
    const details = Object.entries(disk.details)
      .filter(([, v]) => v !== false)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    set(result("format", "pass", `${disk.format} image${details ? ` (${details})` : ""}`));
    const size = judgeVirtualSize(disk.size);
    set(
      size
        ? result("size", size.severity === "error" ? "fail" : "warn", size.message, [{ text: `${disk.size} bytes` }], size.fix)
        : result("size", "pass", `virtual size ${formatBytes(disk.size)} is within DigitalOcean's 100 GiB limit`, [{ text: `${disk.size} bytes` }]),
    );
    let table: PartitionTable;
    try {
      table = await readPartitionTable(disk, disk.name);
    } catch (err) {
      if (!(err instanceof ImageError)) throw err;
      // A partition table running past the end of the disk: the file was cut short, so it is the file that is damaged.
      set(errorCheck(err.code === "truncated" ? "format" : "partition-table", err));
      return finish(path, checks, skip);
    }
    const findings = partitionFindings(table);
    set(
      findings.length > 0
        ? result("partition-table", "fail", findings[0].message, [], findings[0].fix)
        : result(
            "partition-table",
            "pass",
            `${table.scheme.toUpperCase()} with ${table.partitions.length} partition${table.partitions.length === 1 ? "" : "s"}`,
            [
              ...table.partitions.map((p) => ({ partition: p.number, text: `${p.typeName}${p.name ? ` "${p.name}"` : ""}, ${p.size} bytes at ${p.start}` })),
              ...table.notes.map((n) => ({ text: n })),
            ],
          ),
    );
    const guest = await findGuest(disk, table);
    // A guest file our reading cannot follow (a symlink loop) is a finding of the check that reads it; a shared input
    // that fails leaves the checks that need it to say so, and no other check.
    const own = async (id: CheckId, run: () => Promise<CheckResult> | CheckResult) => {
      try {
        set(await run());
      } catch (err) {
        if (!guestFileError(err)) throw err;
        set(unfollowedFile(id, err));
      }
    };
    const attempt = async <T>(run: () => Promise<T>): Promise<T | ImageError> => {
      try {
        return await run();
      } catch (err) {
        if (!guestFileError(err)) throw err;
        return err;
      }
    };
    await own("filesystem", () => checkFilesystem(guest));
    const cfg = guest.root ? await readCloudConfig(guest.root.ext) : undefined;
    const loader = await readLoader(disk, table);
    const bootRead = await attempt(() => readBootConfig(guest, table, loader));
    const boot = bootRead instanceof ImageError ? undefined : bootRead;
    const initRead = guest.root ? await attempt(() => detectInit(guest.root!.ext)) : undefined;
    const init = initRead && !(initRead instanceof ImageError) ? initRead.kind : "unknown";
    const ci = await attempt(() => checkCloudInit(guest));
    const { agent, runs } = ci instanceof ImageError ? { agent: null, runs: false } : ci;
    set(ci instanceof ImageError ? unfollowedFile("cloud-init", ci) : ci.check);
    await own("cloud-init-datasources", () => checkDatasources(guest, agent, cfg, boot, init));
    await own("sshd", () => checkSshd(guest, boot?.entry?.cmdline));
    await own("boot-loader", () => (bootRead instanceof ImageError ? unfollowedFile("boot-loader", bootRead) : checkBootLoader(loader, guest, boot)));
    await own("kernel", () => checkKernel(guest, boot, table));
    await own("fstab", () => checkFstab(guest, table, init));
    await own("network", () => checkNetwork(guest, agent, runs, cfg, boot?.entry?.cmdline ?? "", init));
    if (cfg) for (const [id, keys] of UNFOLLOWED_KEYS) if (checks.has(id)) set(unfollowedConfig(checks.get(id)!, cfg, keys));
    return finish(path, checks, skip);
  } catch (err) {
    // A structure inside the disk that cannot be read (a truncated cluster, a damaged extent tree) ends the guest checks.
    if (!(err instanceof ImageError)) throw err;
    const failing = CHECK_IDS.find((id) => !checks.has(id))!;
    set(errorCheck(failing, err));
    return finish(path, checks, skip);
  } finally {
    await image.close();
  }
}
