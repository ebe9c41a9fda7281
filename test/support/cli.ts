// The built `do-image` executable run as a child process without blocking this one (an in-process emulator must keep
// serving): bin.js, which runs the bundle through its code cache, as an installed package does.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const cliPath = join(__dirname, "..", "..", "dist", "provider", "cli", "bin.js");

export function spawnCli(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run 'make build' (make test does it first)`);
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cliPath, ...args], { env });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
