// This package's own files, found from wherever its code runs (the sources or dist/): its root and its version.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

let found: { root: string; version: string } | undefined;

function locate(): { root: string; version: string } {
  if (found) return found;
  for (let d = __dirname; dirname(d) !== d; d = dirname(d)) {
    const file = join(d, "package.json");
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
    if (pkg.name === "do-image") return (found = { root: d, version: pkg.version ?? "unknown" });
  }
  return (found = { root: dirname(__dirname), version: "unknown" });
}

/** The package's root folder, where package.json and schema.json are. */
export const packageRoot = (): string => locate().root;

/** The package's version, as package.json gives it. */
export const packageVersion = (): string => locate().version;
