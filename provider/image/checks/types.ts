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

/** One line per failing check, with where and the fix: the text every face shows when an image is refused. */
export function failureLines(report: ValidationReport): string[] {
  return report.checks
    .filter((c) => c.status === "fail")
    .map((c) => {
      const where = c.evidence.map(evidenceWhere).filter(Boolean);
      return `${c.id}: ${c.message}${where.length ? ` (${where.join("; ")})` : ""}. Fix: ${c.fix}`;
    });
}
