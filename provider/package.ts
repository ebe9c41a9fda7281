// This package's own files, found from wherever its code runs (the sources or dist/): its root, its version, and the
// per-user folder it keeps caches in.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
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

/** The per-user cache folder: $DO_IMAGE_CACHE, else $XDG_CACHE_HOME/do-image, else ~/.cache/do-image. */
export const cacheDir = (): string => process.env.DO_IMAGE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "do-image");
