// `npm run emulator -- [--port N] [--s3-port N] [--state FILE]`: a local DigitalOcean for demos and manual testing.
import { Command } from "commander";
import { startLocalDigitalOcean } from ".";

async function main(): Promise<void> {
  const opts = new Command("emulator")
    .description("local DigitalOcean API emulator and S3 server (a test harness, not DigitalOcean)")
    .option("--port <n>", "API port (default: any free port)", (v) => Number(v))
    .option("--s3-port <n>", "S3 port (default: any free port)", (v) => Number(v))
    .option("--state <file>", "persist the emulator's state to this JSON file")
    .option("--s3-dir <dir>", "keep S3 objects in this directory")
    .option("--bucket <name>", "create this bucket at start", "do-image-local")
    .option("--import-ms <n>", "how long an import takes after download", (v) => Number(v), 1500)
    .option("--transfer-ms <n>", "how long a region transfer takes", (v) => Number(v), 1500)
    .option("--boot-ms <n>", "how long a Droplet takes to become active", (v) => Number(v), 1000)
    .option("--boot <mode>", "qemu: boot each Droplet from its image with do-image boot's harness (active only when it works)")
    .parse(process.argv)
    .opts();
  if (opts.boot !== undefined && opts.boot !== "qemu") throw new Error(`--boot takes "qemu", not "${opts.boot}"`);
  const local = await startLocalDigitalOcean({
    api: {
      port: opts.port,
      stateFile: opts.state,
      boot: opts.boot === "qemu" ? "qemu" : undefined,
      timings: { importMs: opts.importMs, transferMs: opts.transferMs, bootMs: opts.bootMs },
    },
    s3: { port: opts.s3Port, directory: opts.s3Dir, buckets: [opts.bucket] },
  });
  process.stdout.write("# local DigitalOcean emulator (test harness) — eval these lines to point do-image at it\n");
  for (const [k, v] of Object.entries(local.env)) process.stdout.write(`export ${k}=${v}\n`);
  process.stdout.write(`export SPACES_BUCKET=${opts.bucket}\n`);
  const stop = async () => {
    await local.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((err) => {
  process.stderr.write(`emulator: ${(err as Error).message}\n`);
  process.exit(1);
});
