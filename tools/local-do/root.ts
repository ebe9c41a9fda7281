// The package root, whether the code runs from the TypeScript sources (ts-jest) or from dist/ (compiled).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export function packageRoot(from = __dirname): string {
  let d = from;
  while (!(existsSync(join(d, "package.json")) && JSON.parse(readFileSync(join(d, "package.json"), "utf8")).name === "do-image")) {
    if (dirname(d) === d) throw new Error(`no do-image package.json above ${from}`);
    d = dirname(d);
  }
  return d;
}
