#!/usr/bin/env node
// The `do-image` command line: a thin face that turns arguments into core calls and results into output and exit codes.
import { Command } from "commander";
import { ImageError, inspectImage, unreadable, validateImage } from "../image";
import { colour as c } from "./format";
import { renderInspect } from "./inspect";
import { renderValidate } from "./validate";

/** Exit codes shared by every command: 0 fine, 1 the image has a failing finding, 2 the file could not be read. */
export const EXIT = { ok: 0, failed: 1, unreadable: 2 } as const;

function errorJson(file: string, err: unknown) {
  if (err instanceof ImageError) return { file, error: { code: err.code, message: err.message, fix: err.fix, offset: err.offset } };
  return { file, error: { code: "internal", message: String((err as Error)?.message ?? err), fix: "report this as a bug with the command you ran" } };
}

function printError(err: unknown): void {
  if (err instanceof ImageError) {
    process.stderr.write(`${c.red("error")} ${err.message}\n  ${c.bold("fix:")} ${err.fix}\n`);
  } else {
    process.stderr.write(`${c.red("error")} ${(err as Error)?.stack ?? String(err)}\n`);
  }
}

export function buildProgram(): Command {
  const program = new Command("do-image").description("Validate, upload and import Linux disk images as DigitalOcean custom images").showHelpAfterError();

  program
    .command("inspect")
    .description("show an image's format, sizes and partitions, reading only the metadata it needs")
    .argument("<file>", "disk image: raw, qcow2, VMDK, VDI or VHDX, optionally gzip- or bzip2-compressed")
    .option("--json", "print a JSON report")
    .action(async (file: string, opts: { json?: boolean }) => {
      try {
        const report = await inspectImage(file);
        process.stdout.write(`${opts.json ? JSON.stringify(report, null, 2) : renderInspect(report)}\n`);
        process.exitCode = report.findings.some((f) => f.severity === "error") ? EXIT.failed : EXIT.ok;
      } catch (err) {
        if (opts.json) process.stdout.write(`${JSON.stringify(errorJson(file, err), null, 2)}\n`);
        else printError(err);
        process.exitCode = EXIT.unreadable;
      }
    });

  program
    .command("validate")
    .description("judge every DigitalOcean requirement locally: format, size, partitions, filesystem, cloud-init, datasources, sshd")
    .argument("<file>", "disk image: raw, qcow2, VMDK, VDI or VHDX, optionally gzip- or bzip2-compressed")
    .option("--json", 'print the JSON report: { "file", "ok", "checks": [ { "id", "status", "message", "evidence", "fix" } ] }')
    .option("--skip <ids>", "comma-separated check ids whose failures count as warnings", (v: string) => v.split(",").map((x) => x.trim()))
    .action(async (file: string, opts: { json?: boolean; skip?: string[] }) => {
      const report = await validateImage(file, { skip: opts.skip });
      process.stdout.write(`${opts.json ? JSON.stringify(report, null, 2) : renderValidate(report)}\n`);
      process.exitCode = unreadable(report) ? EXIT.unreadable : report.ok ? EXIT.ok : EXIT.failed;
    });

  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err) => {
      printError(err);
      process.exitCode = EXIT.unreadable;
    });
}
