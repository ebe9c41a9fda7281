#!/usr/bin/env node
// The `do-image` command line: a thin face that turns arguments into core calls and results into output and exit codes.
// Each command is a file in commands/ (its arguments, flags and body); what they share is in common.ts.
// The AWS SDK warns on Node 20 at every start that its 2027 releases will need Node 22; the README says so once instead.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
import { EXIT, UsageError, errorJson, exitCodeOf } from "../errors";
import { packageVersion } from "../package";
import { parseCommandLine, type CommandSpec } from "./args";
import { printError } from "./common";
import { writeErr, writeOut } from "./output";
import { inspect } from "./commands/inspect";
import { validate } from "./commands/validate";
import { boot } from "./commands/boot";
import { convert } from "./commands/convert";
import { push } from "./commands/push";
import { ls } from "./commands/ls";
import { regions } from "./commands/regions";
import { rm } from "./commands/rm";
import { gc } from "./commands/gc";
import { completion } from "./commands/completion";

/** The command tree: each command's arguments, flags and body. Global flags stand before or after the command. */
export const PROGRAM: CommandSpec = {
  name: "do-image",
  description: "Validate, boot, upload and import Linux disk images as DigitalOcean custom images",
  flags: [
    { name: "version", short: "v", description: "print the version" },
    { name: "access-token", short: "t", value: "<token>", description: "DigitalOcean API token (default: $DIGITALOCEAN_TOKEN, else doctl's saved context)" },
    { name: "context", value: "<name>", description: "doctl auth context whose token to use" },
    {
      name: "api-url",
      value: "<url>",
      description: "API endpoint (default: $DIGITALOCEAN_API_URL, else https://api.digitalocean.com)",
      env: "DIGITALOCEAN_API_URL",
    },
  ],
  commands: [inspect, validate, boot, convert, push, ls, regions, rm, gc, completion(() => PROGRAM)],
};

/** Runs the CLI: help and --version exit 0, usage errors 64 (and a bare `do-image` shows the help on stderr), the rest by the error model. */
export async function main(argv: string[] = process.argv): Promise<void> {
  const args = argv.slice(2);
  try {
    const parsed = parseCommandLine(PROGRAM, args);
    if (parsed.kind === "version") writeOut(`${packageVersion()}\n`);
    else if (parsed.kind === "help") {
      (parsed.toStderr ? writeErr : writeOut)(parsed.text);
      process.exitCode = parsed.toStderr ? EXIT.usage : EXIT.ok;
    } else await parsed.command.run!(parsed.args, parsed.opts);
  } catch (err) {
    // A usage error asked for as JSON is JSON too, as an error from a command's body is.
    if (err instanceof UsageError && args.includes("--json")) writeOut(`${JSON.stringify({ error: errorJson(err) }, null, 2)}\n`);
    printError(err);
    process.exitCode = exitCodeOf(err);
  }
}

if (require.main === module) void main();
