// `do-image validate`: prints a ValidationReport as a short table (coloured on a terminal) or as the JSON contract.
import type { BootedValidation } from "../boot";
import { blocks, evidenceWhere, type CheckStatus, type Evidence, type ValidationReport } from "../image";
import { colour as c, table } from "./format";

const STATUS: Record<CheckStatus, (s: string) => string> = { pass: c.green, fail: c.red, warn: c.yellow, unknown: c.dim };

function evidenceText(e: Evidence): string {
  return [evidenceWhere(e), e.text].filter(Boolean).join(": ");
}

/** The boot's part of `validate --boot`: why it booted, the stage it reached, and where it disagrees with the reading. */
function renderBootPart(b: NonNullable<BootedValidation["boot"]>): string[] {
  const r = b.report;
  const failed = r.stages.find((s) => s.stage === r.failedStage);
  const out = [
    "",
    `${c.bold("boot")} (${b.why}): booted as a Droplet under ${r.accelerator} in ${r.seconds} s`,
    r.verdict === "works"
      ? `  ${c.green("works")}: every stage passed, through an SSH login as ${r.user}`
      : `  ${c.red("fails")} at ${r.failedStage}: ${failed?.message ?? ""}`,
  ];
  for (const e of failed?.evidence ?? []) out.push(`  console: ${e}`);
  if (b.disagrees.length)
    out.push(`  the boot works although the reading failed ${b.disagrees.join(", ")}: the boot decides (please report this reading as a bug)`);
  return out;
}

export function renderValidate(r: ValidationReport | BootedValidation): string {
  const rows = r.checks.map((k) => [STATUS[k.status](k.status.padEnd(7)), k.id, k.message]);
  const out = [c.bold(r.file), table(rows)];
  const problems = r.checks.filter((k) => blocks(k) || k.status === "warn");
  for (const k of problems) {
    out.push("", `${STATUS[k.status](k.status)} ${c.bold(k.id)}`);
    for (const e of k.evidence) out.push(`  evidence: ${evidenceText(e)}`);
    if (k.fix) out.push(`  fix: ${k.fix}`);
  }
  const boot = "boot" in r ? r.boot : undefined;
  if (boot) out.push(...renderBootPart(boot));
  if (boot) {
    out.push(
      "",
      r.ok
        ? c.green("DigitalOcean should accept this image: the boot decided.")
        : c.red(
            `The boot decided: ${boot.report.verdict === "works" ? "a check DigitalOcean applies on import failed" : `a Droplet would fail at ${boot.report.failedStage}`}.`,
          ),
    );
    return out.join("\n");
  }
  const failed = r.checks.filter((k) => k.status === "fail").length;
  const unjudged = r.checks.filter((k) => blocks(k) && k.status === "unknown").length;
  const verdict = [failed ? `${failed} check(s) failed` : "", unjudged ? `${unjudged} check(s) that decide whether a Droplet works could not be judged` : ""];
  out.push("", r.ok ? c.green("DigitalOcean should accept this image.") : c.red(`${verdict.filter(Boolean).join("; ")}.`));
  return out.join("\n");
}
