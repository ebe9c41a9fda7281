// `validate --boot`: the reading of an image, and a boot as a Droplet where the reading cannot decide (or always), which decides.
import { blocks, validateImage, unreadable, type CheckId, type ValidateOptions, type ValidationReport } from "../image/checks";
import { bootImage, type BootOptions, type BootReport } from "./boot";

/** The checks that predict how a Droplet boots; a boot settles each of them. The others are DigitalOcean's import rules. */
export const BOOT_PREDICTING: readonly CheckId[] = ["filesystem", "cloud-init", "cloud-init-datasources", "sshd", "boot-loader", "kernel", "fstab", "network"];

import type { BootWhen } from "./when";

export interface BootedValidation extends ValidationReport {
  /** Present when the image was booted: why, and what the boot showed. Its verdict decides the checks in BOOT_PREDICTING. */
  boot?: { why: string; report: BootReport; disagrees: CheckId[] };
}

export interface ValidateWithBootOptions extends ValidateOptions {
  boot: BootWhen;
  bootOptions?: BootOptions;
  /** Called before a boot starts, with the reason (a boot under TCG takes minutes). */
  onBoot?: (why: string) => void;
}

/** Why the image should be booted, or undefined when the reading decides alone. */
export function bootReason(report: ValidationReport, when: BootWhen): string | undefined {
  if (when === "never" || unreadable(report)) return undefined;
  if (when === "always") return "asked to boot always (--boot=always)";
  const unsure = report.checks.filter((c) => BOOT_PREDICTING.includes(c.id) && (c.status === "warn" || c.status === "unknown"));
  return unsure.length ? `the reading cannot decide ${unsure.map((c) => c.id).join(", ")}` : undefined;
}

/**
 * The report with a boot's verdict: booted, the image is ok when DigitalOcean's import rules pass and the Droplet
 * works; a check that predicted otherwise is listed in `boot.disagrees` (a reading the boot contradicts is a bug
 * in the reading).
 */
export function judgeWithBoot(report: ValidationReport, why: string, boot: BootReport): BootedValidation {
  const works = boot.verdict === "works";
  const disagrees = report.checks.filter((c) => BOOT_PREDICTING.includes(c.id) && (works ? c.status === "fail" : false)).map((c) => c.id);
  const importRulesOk = !report.checks.some((c) => !BOOT_PREDICTING.includes(c.id) && blocks(c));
  return { ...report, ok: importRulesOk && works, boot: { why, report: boot, disagrees } };
}

export async function validateWithBoot(path: string, options: ValidateWithBootOptions): Promise<BootedValidation> {
  const report = await validateImage(path, options);
  const why = bootReason(report, options.boot);
  if (!why) return report;
  options.onBoot?.(why);
  return judgeWithBoot(report, why, await bootImage(path, options.bootOptions));
}
