// Benchmarks of the Spaces uploader against a local S3 server: hashing vs openssl, and the peak RSS of a file's upload.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchDir, median, startEmulator, timeCommand, type Result } from "./support";

const GiB = 1024 ** 3;

function twoGiBFile(): string {
  const file = join(benchDir, "upload-2g.img");
  if (!existsSync(file)) {
    console.error("bench: writing a 2 GiB file of random data (once)");
    spawnSync("bash", ["-c", `mkdir -p ${benchDir} && head -c ${2 * GiB} /dev/urandom > ${file}.tmp && mv ${file}.tmp ${file}`], { stdio: "inherit" });
  }
  return file;
}

function child(file: string, what: "hash" | "upload", env: Record<string, string>): { seconds: number; partsSeconds: number; maxRssMB: number } {
  const r = spawnSync(process.execPath, [join(__dirname, "upload-child.js"), file, what], {
    env: { ...process.env, ...env, DO_IMAGE_CACHE: mkdtempSync(join(tmpdir(), "bench-cache-")), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`upload child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export async function benchUpload(): Promise<Result[]> {
  const file = twoGiBFile();
  const server = await startEmulator();
  try {
    const mbps = (t: number) => `${((2 * GiB) / t / 1e6).toFixed(0)} MB/s`;
    const openssl = timeCommand("openssl", ["dgst", "-sha256", file], 3);
    const hash = median([1, 2, 3].map(() => child(file, "hash", server.env).seconds));
    const runs = [1, 2, 3].map(() => child(file, "upload", server.env));
    const rss = Math.max(...runs.map((r) => r.maxRssMB));
    return [
      {
        name: "SHA-256 of a 2 GiB file vs openssl dgst -sha256",
        ours: mbps(hash),
        reference: mbps(openssl),
        ratio: openssl / hash,
        target: "≥ 0.9",
        pass: openssl / hash >= 0.9,
      },
      // Upload speed is measured where it means something, through a link of a set speed (link.ts): on loopback the
      // local S3 server's own work decides it.
      {
        name: "peak RSS of a 2 GiB file's upload (16 MiB parts, 4 at a time)",
        ours: `${rss.toFixed(0)} MB`,
        reference: "200 MB budget",
        ratio: rss / 200,
        target: "≤ 1.0 (≤ 200 MB)",
        pass: rss <= 200,
      },
    ];
  } finally {
    server.stop();
    rmSync(join(tmpdir(), "bench-s3-*"), { force: true });
  }
}
