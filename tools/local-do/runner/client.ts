// Runs the test runner in a child process (as the Pulumi CLI runs a program) from a test or the demo.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packageRoot } from "../root";
import type { RunnerOptions, RunResult } from "./runner";

/** The compiled entry point, whether this module runs from the sources (ts-jest) or from dist/. */
const MAIN = join(packageRoot(), "dist", "tools", "local-do", "runner", "main.js");

export function runStack(
  command: "preview" | "up" | "refresh" | "destroy",
  opts: Omit<RunnerOptions, "log">,
  onLine?: (line: string) => void,
): Promise<RunResult> {
  const file = join(mkdtempSync(join(tmpdir(), "runner-")), "options.json");
  writeFileSync(file, JSON.stringify(opts));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, command, file], { env: opts.env ?? process.env });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => {
      err += d;
      for (const line of String(d).split("\n").filter(Boolean)) onLine?.(line);
    });
    child.on("close", (code) => {
      if (code === 0) resolve(JSON.parse(out.trim().split("\n").pop()!) as RunResult);
      else reject(new Error(err.trim().split("\n").slice(-8).join("\n")));
    });
  });
}
