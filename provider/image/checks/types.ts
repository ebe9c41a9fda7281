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
