// One fuzzing worker: reads cases (JSON lines) on stdin, runs validate and inspect on each in this process, and
// answers one JSON line per case with the exit code each would give and, for anything but a typed error, the stack.
import { createInterface } from "node:readline";
import { DoImageError, EXIT, exitCodeOf } from "../../provider/errors";
import { inspectImage, unreadable, validateImage } from "../../provider/image";

export interface CaseResult {
  id: number;
  validate: number;
  inspect: number;
  /** An error that was not one of do-image's typed errors: a bug, whatever the exit code. */
  bug?: string;
  rssMiB: number;
  /** Each check's status, when validate gave a report. */
  checks?: Record<string, string>;
}

async function exitOf<T>(run: () => Promise<T>, code: (r: T) => number, seen?: (r: T) => void): Promise<{ exit: number; bug?: string }> {
  try {
    const r = await run();
    seen?.(r);
    return { exit: code(r) };
  } catch (err) {
    if (err instanceof DoImageError) return { exit: exitCodeOf(err) };
    return { exit: EXIT.internal, bug: (err as Error)?.stack ?? String(err) };
  }
}

async function main(): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const { id, file } = JSON.parse(line) as { id: number; file: string };
    let checks: Record<string, string> | undefined;
    const v = await exitOf(
      () => validateImage(file),
      (r) => (unreadable(r) ? EXIT.unreadable : r.ok ? EXIT.ok : EXIT.refused),
      (r) => (checks = Object.fromEntries(r.checks.map((c) => [c.id, c.status]))),
    );
    const i = await exitOf(
      () => inspectImage(file),
      (r) => (r.findings.some((f) => f.severity === "error") ? EXIT.refused : EXIT.ok),
    );
    const result: CaseResult = { id, validate: v.exit, inspect: i.exit, bug: v.bug ?? i.bug, rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20), checks };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}

void main();
