// Human-readable rendering shared by the CLI's commands: sizes, tables, colour only on a terminal.

export { formatBytes as bytes } from "../image/bytes";

export function table(rows: string[][], indent = "  "): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => stripAnsi(r[c] ?? "").length)));
  return rows
    .map((r) => indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell + " ".repeat(widths[c] - stripAnsi(cell).length))).join("  "))
    .join("\n");
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

export { colour } from "./output";
