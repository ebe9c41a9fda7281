// Benchmark helpers: a large fixture built once, timing of commands and functions, and ratio lines.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

export const benchDir = join(process.env.DO_IMAGE_FIXTURES ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "do-image", "fixtures"), "bench");

const sh = (script: string) => execFileSync("bash", ["-euo", "pipefail", "-c", script], { stdio: ["ignore", "ignore", "inherit"] });

/**
 * A 2 GiB GPT disk whose ext4 root holds 1.2 GiB of incompressible data, as qcow2 (and gzip/bzip2 of it on request).
 * Built once and kept with the fixtures.
 */
export function largeQcow2(): string {
  const qcow2 = join(benchDir, "large.qcow2");
  if (existsSync(qcow2)) return qcow2;
  mkdirSync(benchDir, { recursive: true });
  const raw = join(benchDir, "large.raw");
  const root = join(benchDir, "root");
  console.error("bench: building a 2 GiB test disk (once)");
  sh(`rm -rf ${root}; mkdir -p ${root}/data ${root}/etc
      head -c 1200M /dev/urandom > ${root}/data/blob
      echo 'ID=debian' > ${root}/etc/os-release
      rm -f ${raw}; truncate -s 2G ${raw}
      sgdisk -n 1:2048:+1M -t 1:ef02 -n 2:0:0 -t 2:8300 ${raw} >/dev/null
      mkfs.ext4 -q -F -d ${root} -E offset=$((4096 * 512)) ${raw} $(((4194270 - 4096 + 1) / 2))k
      qemu-img convert -f raw -O qcow2 ${raw} ${qcow2}.tmp && mv ${qcow2}.tmp ${qcow2}
      rm -rf ${root} ${raw}`);
  return qcow2;
}

export function compressed(src: string, kind: "gz" | "bz2"): string {
  const out = `${src}.${kind}`;
  if (existsSync(out)) return out;
  console.error(`bench: compressing ${src} with ${kind === "gz" ? "gzip" : "lbzip2"} (once)`);
  sh(kind === "gz" ? `gzip -1 -c ${src} > ${out}.tmp && mv ${out}.tmp ${out}` : `lbzip2 -n2 -c ${src} > ${out}.tmp && mv ${out}.tmp ${out}`);
  return out;
}

/**
 * The environment every timed process runs in: the user's, less NODE_EXTRA_CA_CERTS and NODE_OPTIONS. Extra CA
 * certificates are parsed at every Node start (on this machine they more than doubled `node -e 0`), which would flatter
 * any figure taken against a bare Node. The code cache lives in a folder of the run's own.
 */
export const cleanEnv: NodeJS.ProcessEnv = (() => {
  const env: NodeJS.ProcessEnv = { ...process.env, DO_IMAGE_CACHE: mkdtempSync(join(tmpdir(), "bench-cache-")) };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_OPTIONS;
  return env;
})();

/** Median wall time in seconds of `runs` executions of a command. */
export function timeCommand(cmd: string, args: string[], runs = 5): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], maxBuffer: 64 * 1024 * 1024, env: cleanEnv });
    const t = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0 && r.status !== 1) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr?.toString()}`);
    times.push(t);
  }
  return median(times);
}

export async function timeAsync(fn: () => Promise<unknown>, runs = 3): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return median(times);
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function have(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
}

export interface Result {
  name: string;
  ours: string;
  reference: string;
  ratio: number;
  target: string;
  pass: boolean;
}

export function report(results: Result[], file?: string): void {
  for (const r of results) {
    console.log(`${r.pass ? "PASS" : "MISS"}  ${r.name}: ratio ${r.ratio.toFixed(2)} (target ${r.target}); ours ${r.ours}, reference ${r.reference}`);
  }
  if (file) writeFileSync(file, JSON.stringify(results, null, 2));
}

/** The local DigitalOcean in its own process with bucket "bench" (plus `args`), and the exports that point at it. */
export async function startEmulator(args: string[] = []): Promise<{ env: Record<string, string>; stop: () => void }> {
  const main = join(__dirname, "..", "tools", "local-do", "emulator", "main.js");
  const child = spawn(process.execPath, [main, "--bucket", "bench", "--s3-dir", mkdtempSync(join(tmpdir(), "bench-s3-")), ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const env: Record<string, string> = {};
  await new Promise<void>((resolve) => {
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      for (const m of buf.matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]] = m[2];
      if (env.SPACES_BUCKET) resolve();
    });
  });
  return { env, stop: () => child.kill("SIGTERM") };
}
