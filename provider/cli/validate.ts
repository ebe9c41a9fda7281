// `do-image validate`: prints a ValidationReport as a short table (coloured on a terminal) or as the JSON contract.
import { blocks, evidenceWhere, type CheckStatus, type Evidence, type ValidationReport } from "../image";
import { colour as c, table } from "./format";

const STATUS: Record<CheckStatus, (s: string) => string> = { pass: c.green, fail: c.red, warn: c.yellow, unknown: c.dim };

function evidenceText(e: Evidence): string {
  return [evidenceWhere(e), e.text].filter(Boolean).join(": ");
}

export function renderValidate(r: ValidationReport): string {
  const rows = r.checks.map((k) => [STATUS[k.status](k.status.padEnd(7)), k.id, k.message]);
  const out = [c.bold(r.file), table(rows)];
  const problems = r.checks.filter((k) => blocks(k) || k.status === "warn");
  for (const k of problems) {
    out.push("", `${STATUS[k.status](k.status)} ${c.bold(k.id)}`);
    for (const e of k.evidence) out.push(`  evidence: ${evidenceText(e)}`);
    if (k.fix) out.push(`  fix: ${k.fix}`);
  }
  const failed = r.checks.filter((k) => k.status === "fail").length;
  const unjudged = r.checks.filter((k) => blocks(k) && k.status === "unknown").length;
  const verdict = [failed ? `${failed} check(s) failed` : "", unjudged ? `${unjudged} check(s) that decide whether a Droplet works could not be judged` : ""];
  out.push("", r.ok ? c.green("DigitalOcean should accept this image.") : c.red(`${verdict.filter(Boolean).join("; ")}.`));
  return out.join("\n");
}
