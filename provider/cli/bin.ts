#!/usr/bin/env node
// The `do-image` executable: answers --version without loading anything, turns on Node's compile cache (Node ≥ 22.1),
// then runs the CLI from its bundle (one file, built by `make build`), or from the compiled modules beside this one.
import { existsSync } from "node:fs";
import * as nodeModule from "node:module";
import { join } from "node:path";
import { packageVersion } from "../package";

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  process.stdout.write(`${packageVersion()}\n`);
} else {
  (nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
  const bundle = join(__dirname, "..", "..", "cli", "main.js");
  void (existsSync(bundle) ? (import(bundle) as Promise<{ main: () => Promise<void> }>) : import("./main")).then((cli) => cli.main());
}
