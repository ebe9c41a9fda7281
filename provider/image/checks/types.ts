// The validation report: a stable contract users script against (`do-image validate --json`).

export const CHECK_IDS = [
  "format",
  "compression",
  "size",
  "partition-table",
  "filesystem",
  "cloud-init",
  "cloud-init-datasources",
  "sshd",
  "boot-loader",
  "kernel",
  "fstab",
  "network",
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

/** The fix where our reading stops short and a boot decides. */
export const CHECK_BY_BOOTING = "check by booting: do-image validate --boot IMAGE";
export type CheckStatus = "pass" | "fail" | "warn" | "unknown";

/** Where a verdict comes from: a partition, a file in the guest, a line in it, and the text found there. */
export interface Evidence {
  partition?: number;
  path?: string;
  line?: number;
  text?: string;
}

export interface CheckResult {
  id: CheckId;
  status: CheckStatus;
  message: string;
  evidence: Evidence[];
  /** What to do about a fail or warn; null on pass. */
  fix: string | null;
}

export interface ValidationReport {
  file: string;
  /** True when no check failed. */
  ok: boolean;
  checks: CheckResult[];
}

export const result = (id: CheckId, status: CheckStatus, message: string, evidence: Evidence[] = [], fix: string | null = null): CheckResult => ({
  id,
  status,
  message,
  evidence,
  fix,
});

/** Where evidence points, as people write it: "partition 1 /etc/fstab:3". */
export function evidenceWhere(e: Evidence): string {
  return [e.partition !== undefined ? `partition ${e.partition}` : "", e.path ? `${e.path}${e.line ? `:${e.line}` : ""}` : ""].filter(Boolean).join(" ");
}

/** Checks whose verdict decides whether a Droplet works at all: not knowing one is not a pass. */
export const DECISIVE: readonly CheckId[] = ["filesystem", "cloud-init", "cloud-init-datasources", "sshd"];

/** Whether a check stops the image: it failed, or it decides whether a Droplet works and could not be judged. */
export const blocks = (c: CheckResult): boolean => c.status === "fail" || (c.status === "unknown" && DECISIVE.includes(c.id));

/**
 * One line per check that stops the image, with where and the fix: the text every face shows when it is refused. The
 * checks that could not be judged are listed only when nothing failed: otherwise they follow from the failure.
 */
export function failureLines(report: ValidationReport): string[] {
  const failed = report.checks.filter((c) => c.status === "fail");
  return (failed.length > 0 ? failed : report.checks.filter(blocks)).map((c) => {
    const where = c.evidence.map(evidenceWhere).filter(Boolean);
    return `${c.id}: ${c.status === "unknown" ? "could not be judged: " : ""}${c.message}${where.length ? ` (${where.join("; ")})` : ""}. Fix: ${c.fix}`;
  });
}
