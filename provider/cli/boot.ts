// `do-image boot`: prints a BootReport as a stage table (coloured on a terminal) with the failing stage's evidence.
import type { BootReport, StageStatus } from "../boot";
import { colour as c, table } from "./format";

const STATUS: Record<StageStatus, (s: string) => string> = { pass: c.green, fail: c.red, unknown: c.dim };

export function renderBoot(r: BootReport): string {
  const rows = r.stages.map((s) => [STATUS[s.status](s.status.padEnd(7)), s.stage, s.at !== undefined ? `${s.at.toFixed(1)} s` : "", s.message]);
  const out = [
    c.bold(r.file),
    `  booted as a Droplet (config drive config-2, metadata service, DHCP) under ${r.accelerator}${r.acceleratorNote ? ` (${r.acceleratorNote})` : ""}`,
    table(rows),
  ];
  out.push(
    "",
    `  user ${r.user}; hostname given ${r.hostname.given}${r.hostname.reported ? `, reported ${r.hostname.reported}` : ""}; datasource ${r.datasource ?? "unknown"}`,
  );
  if (r.metadataRequests.length) out.push(`  metadata service requests: ${[...new Set(r.metadataRequests)].join(", ")}`);
  for (const x of r.remote)
    out.push(
      `  $ ${x.command}`,
      ...(x.stdout || x.stderr)
        .split("\n")
        .filter((l) => !/^\.+$/.test(l)) // cloud-init status --wait prints a dot a second while it waits
        .map((l) => `    ${l}`),
    );
  const failed = r.stages.find((s) => s.stage === r.failedStage);
  if (failed) {
    out.push("", `${c.red("fail")} ${c.bold(failed.stage)}: ${failed.message}`);
    for (const e of failed.evidence) out.push(`  console: ${e}`);
    if (failed.evidence.length === 0) {
      out.push("  last console lines:");
      for (const l of r.consoleTail.slice(-12)) out.push(`    ${l}`);
    }
  }
  out.push(
    "",
    r.verdict === "works"
      ? c.green(`A Droplet from this image boots and takes SSH logins (${r.seconds} s).`)
      : c.red(`A Droplet from this image would not be reachable: it failed at ${r.failedStage} (${r.seconds} s).`),
  );
  return out.join("\n");
}
