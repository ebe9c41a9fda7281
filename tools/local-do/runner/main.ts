// `node dist/tools/local-do/runner/main.js <preview|up|refresh|destroy> <options.json>`: the test runner as its own process,
// the way the Pulumi CLI runs a program. Prints progress lines, then the result as JSON on the last line.
import { readFileSync } from "node:fs";
import { destroy, HARNESS, preview, refresh, up, type RunnerOptions } from "./runner";

async function main(): Promise<void> {
  const [command, optionsFile] = process.argv.slice(2);
  const run = { preview, up, refresh, destroy }[command as "up"];
  if (!run || !optionsFile) {
    process.stderr.write(`usage: main.js <preview|up|refresh|destroy> <options.json>  ${HARNESS}\n`);
    process.exit(2);
  }
  const opts = JSON.parse(readFileSync(optionsFile, "utf8")) as RunnerOptions;
  // A resource that fails to register rejects promises inside the SDK nobody awaits; the runner reports the
  // failure itself (as Pulumi's language host does), so these must not end the process first.
  process.on("unhandledRejection", () => undefined);
  const result = await run({ ...opts, log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`${HARNESS} ${(err as Error).message}\n`);
  process.exit(1);
});
