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
import { readCloudConfig } from "./cloud-config";
import { checkFstab } from "./fstab";
import { checkKernel } from "./kernel";
import { checkNetwork } from "./network";
import { detectInit } from "./systemd";
import { checkDatasources } from "./datasources";
import { checkFilesystem } from "./filesystem";
import { findGuest } from "./guest";
import { checkSshd } from "./sshd";
import { blocks, CHECK_IDS, result, type CheckId, type CheckResult, type ValidationReport } from "./types";

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
    set(await checkFilesystem(guest));
    const cfg = guest.root ? await readCloudConfig(guest.root.ext) : undefined;
    const loader = await readLoader(disk, table);
    const boot = await readBootConfig(guest, table, loader);
    const init = guest.root ? (await detectInit(guest.root.ext)).kind : "unknown";
    const { check, agent, runs } = await checkCloudInit(guest);
    set(check);
    set(await checkDatasources(guest, agent, cfg, boot, init));
    set(await checkSshd(guest, boot?.entry?.cmdline));
    set(checkBootLoader(loader, guest, boot));
    set(await checkKernel(guest, boot, table));
    set(await checkFstab(guest, table, init));
    set(await checkNetwork(guest, agent, runs, cfg, boot?.entry?.cmdline ?? "", init));
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
