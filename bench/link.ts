// A link-bound push: a 4 GiB raw disk holding about 630 MiB of data (a real Debian root from the boot corpus plus
// 150 MiB of random bytes), pushed end to end (hash, validate, convert, upload, import, available) to a local
// DigitalOcean whose S3 link runs at 50 MiB/s, against (a) pushing the raw file as it is and (b) qemu-img convert -c
// to qcow2, then pushing that. Bytes on the wire and the pushing process's peak RSS are reported too.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchDir, startEmulator, type Result } from "./support";

const cli = join(__dirname, "..", "provider", "cli", "bin.js"); // the executable a user runs
const RATE = "50MiB/s";

function disk(): string | null {
  const raw = join(benchDir, "link-4g.raw");
  if (existsSync(raw)) return raw;
  const corpus = spawnSync("bash", [join(__dirname, "..", "..", "test", "fixtures", "boot-corpus.sh")], { encoding: "utf8" });
  const dir = corpus.status === 0 ? corpus.stdout.trim().split("\n").pop()! : null;
  if (!dir || !existsSync(join(dir, "ok-gpt.qcow2"))) return null;
  mkdirSync(benchDir, { recursive: true });
  console.error("bench: building a 4 GiB raw disk with about 630 MiB of data (once)");
  const sh = spawnSync(
    "bash",
    [
      "-euo",
      "pipefail",
      "-c",
      `qemu-img convert -O raw ${join(dir, "ok-gpt.qcow2")} ${raw}.tmp && truncate -s 4G ${raw}.tmp && ` +
        `head -c 150M /dev/urandom | dd of=${raw}.tmp bs=1M seek=3500 conv=notrunc status=none && mv ${raw}.tmp ${raw}`,
    ],
    { stdio: "inherit" },
  );
  return sh.status === 0 ? raw : null;
}

/** One whole push in its own process: wall seconds, bytes uploaded, peak RSS (from GNU time). */
function push(file: string, uploadAs: string, env: Record<string, string>): { seconds: number; bytes: number; rssMB: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync("/usr/bin/time", ["-f", "%M", process.execPath, cli, "push", file, "--region", "nyc3", "--upload-as", uploadAs, "--json"], {
    env: { ...process.env, ...env, DO_IMAGE_CACHE: mkdtempSync(join(tmpdir(), "bench-cache-")), NO_COLOR: "1" },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`push ${file} --upload-as ${uploadAs} failed: ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout) as { upload: { bytesUploaded: number } };
  return { seconds, bytes: out.upload.bytesUploaded, rssMB: Number(r.stderr.trim().split("\n").pop()) / 1024 };
}

export async function benchLink(): Promise<Result[]> {
  const raw = disk();
  if (!raw) {
    console.error("bench: the link-bound push needs the boot corpus (make boot-corpus); skipping it");
    return [];
  }
  // Every contender reads the file from the page cache: otherwise the first push measured pays for the disk.
  spawnSync("cat", [raw], { stdio: "ignore" });
  const emulator = await startEmulator(["--s3-bandwidth", RATE, "--import-ms", "100"]);
  try {
    const MB = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
    const s = (t: number) => `${t.toFixed(1)} s`;
    const ours = push(raw, "qcow2", emulator.env);
    const asIs = push(raw, "original", emulator.env);
    const gzip = push(raw, "gzip", emulator.env);
    const qcow2 = join(mkdtempSync(join(tmpdir(), "bench-qemu-")), "disk.qcow2");
    const t0 = process.hrtime.bigint();
    if (spawnSync("qemu-img", ["convert", "-c", "-O", "qcow2", raw, qcow2]).status !== 0) throw new Error("qemu-img convert -c failed");
    const convert = Number(process.hrtime.bigint() - t0) / 1e9;
    const viaQemu = push(qcow2, "original", emulator.env);
    const qemuTotal = convert + viaQemu.seconds;
    return [
      {
        name: `push of a 4 GiB raw (630 MiB of data) at ${RATE}, --upload-as qcow2 vs the raw file as it is`,
        ours: `${s(ours.seconds)}, ${MB(ours.bytes)} sent`,
        reference: `${s(asIs.seconds)}, ${MB(asIs.bytes)} sent`,
        ratio: ours.seconds / asIs.seconds,
        target: "≤ 0.2×",
        pass: ours.seconds / asIs.seconds <= 0.2,
      },
      {
        name: `the same vs qemu-img convert -c -O qcow2, then a push of its output`,
        ours: s(ours.seconds),
        reference: `${s(qemuTotal)} (convert ${s(convert)}, push ${s(viaQemu.seconds)}, ${MB(statSync(qcow2).size)} sent)`,
        ratio: ours.seconds / qemuTotal,
        target: "≤ 0.8×",
        pass: ours.seconds / qemuTotal <= 0.8,
      },
      {
        name: "the same push with --upload-as gzip (for comparison: it still encodes the zeros), vs the raw file as it is",
        ours: `${s(gzip.seconds)}, ${MB(gzip.bytes)} sent, peak RSS ${gzip.rssMB.toFixed(0)} MB`,
        reference: `${s(asIs.seconds)}, ${MB(asIs.bytes)} sent`,
        ratio: gzip.seconds / asIs.seconds,
        target: "none",
        pass: true,
      },
      {
        name: "peak RSS of the pushing process (--upload-as qcow2)",
        ours: `${ours.rssMB.toFixed(0)} MB`,
        reference: "200 MB",
        ratio: ours.rssMB / 200,
        target: "≤ 200 MB",
        pass: ours.rssMB <= 200,
      },
    ];
  } finally {
    emulator.stop();
  }
}
