// `make emulator` / `npm run emulator -- [--port N] [--s3-port N] [--state FILE] [--background] [--exports-file F] [--pid-file F]`:
// a local DigitalOcean for demos and manual testing. With --background it returns once serving, printing the exports.
import { parseRate } from "./throttle";
import { fork } from "node:child_process";
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { Command } from "commander";
import { startLocalDigitalOcean } from ".";

/** Starts this same command detached and returns once the child says it is serving, with its export lines. */
function background(args: string[]): Promise<string> {
  const child = fork(
    __filename,
    args.filter((a) => a !== "--background"),
    { detached: true, stdio: ["ignore", "ignore", "ignore", "ipc"] },
  );
  return new Promise((resolve, reject) => {
    child.once("message", (m: { exports?: string; error?: string }) => {
      child.disconnect();
      child.unref();
      if (m.exports) resolve(m.exports);
      else reject(new Error(m.error ?? "the emulator did not start"));
    });
    child.once("exit", (code) => reject(new Error(`the emulator exited with code ${code} before serving`)));
  });
}

async function main(): Promise<void> {
  const opts = new Command("emulator")
    .description("local DigitalOcean API emulator and S3 server (a test harness, not DigitalOcean)")
    .option("--port <n>", "API port (default: any free port)", (v) => Number(v))
    .option("--s3-port <n>", "S3 port (default: any free port)", (v) => Number(v))
    .option("--state <file>", "persist the emulator's state to this JSON file")
    .option("--s3-dir <dir>", "keep S3 objects in this directory")
    .option("--s3-bandwidth <rate>", "upload speed of the S3 server's link, e.g. 50MiB/s (default: loopback speed)", parseRate)
    .option("--bucket <name>", "create this bucket at start", "do-image-local")
    .option("--import-ms <n>", "how long an import takes after download", (v) => Number(v), 1500)
    .option("--transfer-ms <n>", "how long a region transfer takes", (v) => Number(v), 1500)
    .option("--boot-ms <n>", "how long a Droplet takes to become active", (v) => Number(v), 1000)
    .option("--boot <mode>", "qemu: boot each Droplet from its image with do-image boot's harness (active only when it works)")
    .option("--exports-file <file>", "also write the export lines to this file once serving")
    .option("--pid-file <file>", "write the process id to this file (removed on exit)")
    .option("--background", "serve from a detached process; print the export lines and return once it serves")
    .parse(process.argv)
    .opts();
  if (opts.background) {
    process.stdout.write(await background(process.argv.slice(2)));
    return;
  }
  if (opts.boot !== undefined && opts.boot !== "qemu") throw new Error(`--boot takes "qemu", not "${opts.boot}"`);
  const local = await startLocalDigitalOcean({
    api: {
      port: opts.port,
      stateFile: opts.state,
      boot: opts.boot === "qemu" ? "qemu" : undefined,
      timings: { importMs: opts.importMs, transferMs: opts.transferMs, bootMs: opts.bootMs },
    },
    s3: { port: opts.s3Port, directory: opts.s3Dir, buckets: [opts.bucket], bandwidth: opts.s3Bandwidth },
  });
  const exports = [
    "# local DigitalOcean emulator (test harness) — eval these lines to point do-image at it",
    ...Object.entries({ ...local.env, SPACES_BUCKET: opts.bucket }).map(([k, v]) => `export ${k}=${v}`),
    `# stop it with: kill ${process.pid}`,
    "",
  ].join("\n");
  // Handlers go in before the exports announce the server: a signal sent on seeing them must find them.
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await local.close();
    } finally {
      if (opts.pidFile) rmSync(opts.pidFile, { force: true });
      process.exit(0);
    }
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  if (opts.pidFile) writeFileSync(opts.pidFile, `${process.pid}\n`);
  if (opts.exportsFile) {
    writeFileSync(`${opts.exportsFile}.tmp`, exports);
    renameSync(`${opts.exportsFile}.tmp`, opts.exportsFile);
  }
  if (process.send) process.send({ exports });
  else process.stdout.write(exports);
}

main().catch((err) => {
  process.send?.({ error: (err as Error).message });
  process.stderr.write(`emulator: ${(err as Error).message}\n`);
  process.exit(1);
});
