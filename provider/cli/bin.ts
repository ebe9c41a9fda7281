#!/usr/bin/env node
// The `do-image` executable: answers --version without loading anything (not even process.stdout's stream), else
// runs the CLI from its bundle (one file, built by `make build`) through a V8 code cache made for the command it runs,
// or from the compiled modules beside this one. Node's own compile cache (Node ≥ 22.1) serves what the bundle loads
// from node_modules (the AWS SDK).
import { existsSync, writeSync } from "node:fs";
import * as nodeModule from "node:module";
import { join } from "node:path";
import { cacheDir, packageVersion } from "../package";

type Cli = { main: () => Promise<void> };
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V" || args[0] === "-v")) {
  writeSync(1, `${packageVersion()}\n`);
} else {
  (nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
  const bundle = join(__dirname, "..", "..", "cli", "main.js");
  // The command names the cache, as `validate` and `push` run different code. Only a first argument that is a word
  // names one: what follows a global flag may be a token, and must not end up in a file name. Help is its own.
  const purpose = args.includes("--help") || args.includes("-h") ? "help" : /^[a-z]{1,16}$/.test(args[0] ?? "") ? args[0] : "other";
  // Kept only from a run that did the command's work (0: done, 1: refused), not one that stopped at a usage error
  // or an unreadable file: the first run's cache serves every later one.
  const keepIf = (code: number) => code === 0 || code === 1;
  const cli: Promise<Cli> = existsSync(bundle)
    ? import("./code-cache").then((c) => c.requireWithCodeCache(bundle, { dir: join(cacheDir(), "v8"), purpose, keepIf }).exports as Cli)
    : import("./main");
  void cli.then((c) => c.main());
}
