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
}

async function exitOf<T>(run: () => Promise<T>, code: (r: T) => number): Promise<{ exit: number; bug?: string }> {
  try {
    return { exit: code(await run()) };
  } catch (err) {
    if (err instanceof DoImageError) return { exit: exitCodeOf(err) };
    return { exit: EXIT.internal, bug: (err as Error)?.stack ?? String(err) };
  }
}

async function main(): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const { id, file } = JSON.parse(line) as { id: number; file: string };
    const v = await exitOf(
      () => validateImage(file),
      (r) => (unreadable(r) ? EXIT.unreadable : r.ok ? EXIT.ok : EXIT.refused),
    );
    const i = await exitOf(
      () => inspectImage(file),
      (r) => (r.findings.some((f) => f.severity === "error") ? EXIT.refused : EXIT.ok),
    );
    const result: CaseResult = { id, validate: v.exit, inspect: i.exit, bug: v.bug ?? i.bug, rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}

void main();
