// `do-image inspect`: prints an InspectReport as a short report or as JSON.
import type { InspectReport } from "../image";
import { bytes, colour as c, table } from "./format";

export function renderInspect(r: InspectReport): string {
  const details = Object.entries(r.formatDetails)
    .map(([k, v]) => `${k} ${typeof v === "number" && /size/i.test(k) ? bytes(v) : v}`)
    .join(", ");
  const pt = r.partitionTable;
  const lines = [
    c.bold(r.file),
    table([
      ["format", `${r.format}${details ? ` (${details})` : ""}`],
      ["compression", r.compression],
      ["virtual size", `${bytes(r.virtualSize)} (${r.virtualSize} bytes)`],
      ["file size", `${bytes(r.fileSize)} (${r.fileSize} bytes)`],
      ["allocated", `${bytes(r.allocatedBytes)} of guest data`],
      ["partitions", pt.scheme === "none" ? "none" : `${pt.scheme.toUpperCase()}, ${pt.sectorSize}-byte sectors, disk id ${pt.diskId}`],
    ]),
  ];
  if (pt.partitions.length > 0) {
    const rows = [["#", "start", "size", "type", "name"].map((h) => c.dim(h))];
    for (const p of pt.partitions) {
      rows.push([String(p.number), bytes(p.start), bytes(p.size), `${p.typeName}${p.bootable ? " (boot)" : ""}`, p.name ?? ""]);
    }
    lines.push(table(rows, "    "));
  }
  for (const n of pt.notes) lines.push(`  ${c.yellow("note")} ${n}`);
  for (const f of r.findings) {
    const tag = f.severity === "error" ? c.red("error") : c.yellow("warning");
    lines.push(`  ${tag} ${f.message}`, `        fix: ${f.fix}`);
  }
  return lines.join("\n");
}
