// Jest's global setup: suites that run the built CLI (dist/) run what was just edited. When any source the build
// reads is newer than the build, `make build` runs first; a build that fails stops the run.
import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");
const SOURCES = ["provider", "tools", "test", "bench", "package.json", "tsconfig.json", "Makefile"];
/** The build's last output: make build writes it after tsc and the CLI's bundle. */
const BUILT = join(ROOT, "dist", "provider", "cli", "bin.js");

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return /\.(ts|js|json|mjs)$|Makefile$/.test(path) ? st.mtimeMs : 0;
  let max = 0;
  for (const e of readdirSync(path)) if (e !== "node_modules" && !e.startsWith(".")) max = Math.max(max, newest(join(path, e)));
  return max;
}

// Jest loads a global setup by its default export.
export default async function globalSetup(): Promise<void> {
  let built = 0;
  try {
    built = statSync(BUILT).mtimeMs;
  } catch {
    built = 0;
  }
  const source = Math.max(...SOURCES.map((s) => newest(join(ROOT, s))));
  if (source <= built) return;
  process.stderr.write(`\nglobal setup: sources are newer than dist/ (${built ? "stale" : "missing"}): running make build\n`);
  execFileSync("make", ["--no-print-directory", "build"], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
}
