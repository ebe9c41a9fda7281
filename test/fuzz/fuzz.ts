// The fuzz driver (`make fuzz N=… SEED=…`, and test/fuzz/fuzz.test.ts with a fixed seed): mutated seed images go to
// worker processes that run validate and inspect; a case must end within a time limit, inside a memory limit, with
// exit 0, 1 or 2 and a typed error, and inspect and validate must agree on whether the file can be read at all.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { createInterface } from "node:readline";
import { gzipSync } from "node:zlib";
import type { CaseResult } from "./child";
import { packageRoot } from "../../provider/package";
import { apply, mutation, prng, regionsOf, type Mutation, type Region } from "./mutate";

export interface FuzzOptions {
  seed: number;
  count: number;
  /** Seed images; each case mutates seeds[case % seeds.length]. */
  seeds: string[];
  workers?: number;
  timeoutMs?: number;
  maxRssMiB?: number;
  /** Where a failing case is saved (gzipped, with its mutation) as a regression file. */
  regressions?: string;
  log?: (line: string) => void;
}

export interface Failure {
  case: number;
  kind: "hang" | "crash" | "bug" | "exit" | "memory" | "disagree" | "stray";
  detail: string;
  mutation: Mutation;
  file?: string;
}

export interface FuzzReport {
  cases: number;
  failures: Failure[];
  /** Cases per seed and per exit code of validate. */
  exits: Record<string, number>;
  seconds: number;
}

// The compiled worker, also when this module runs from source under jest.
const CHILD = join(packageRoot(), "dist", "test", "fuzz", "child.js");

/** A worker process, restarted after a hang or a crash. */
export class Worker {
  private child!: ChildProcessWithoutNullStreams;
  private waiting: ((r: CaseResult | { crashed: string }) => void) | null = null;
  private stderr = "";

  constructor(private readonly maxRssMiB: number) {
    this.start();
  }

  private start(): void {
    // The heap limit sits above the RSS limit checked per case, so a blow-up shows as a crash rather than swap.
    this.child = spawn(process.execPath, [`--max-old-space-size=${this.maxRssMiB + 256}`, CHILD], { stdio: ["pipe", "pipe", "pipe"] });
    this.stderr = "";
    this.child.stderr.on("data", (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      const w = this.waiting;
      this.waiting = null;
      w?.(JSON.parse(line) as CaseResult);
    });
    this.child.on("exit", (code, signal) => {
      const w = this.waiting;
      this.waiting = null;
      w?.({ crashed: `worker exited (${signal ?? code}): ${this.stderr.trim().split("\n").slice(-5).join(" | ")}` });
    });
  }

  run(id: number, file: string, timeoutMs: number): Promise<CaseResult | { crashed: string } | { hang: true }> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        this.child.removeAllListeners("exit");
        this.child.kill("SIGKILL");
        this.start();
        resolve({ hang: true });
      }, timeoutMs);
      this.waiting = (r) => {
        clearTimeout(timer);
        if ("crashed" in r) this.start();
        resolve(r);
      };
      this.child.stdin.write(`${JSON.stringify({ id, file })}\n`);
    });
  }

  /** Stops the worker; resolves once it has exited, so that no child or pipe outlives its caller (a jest worker). */
  close(): Promise<void> {
    this.child.removeAllListeners("exit");
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill();
    return exited;
  }
}

/** What is wrong with one case's result, if anything. */
export function judge(r: CaseResult | { crashed: string } | { hang: true }, maxRssMiB: number, timeoutMs: number): Omit<Failure, "case" | "mutation"> | null {
  if ("hang" in r) return { kind: "hang", detail: `no answer within ${timeoutMs / 1000} s` };
  if ("crashed" in r) return { kind: "crash", detail: r.crashed };
  if (r.bug) return { kind: "bug", detail: r.bug };
  if (![0, 1, 2].includes(r.validate) || ![0, 1, 2].includes(r.inspect))
    return { kind: "exit", detail: `validate exit ${r.validate}, inspect exit ${r.inspect}` };
  if (r.rssMiB > maxRssMiB) return { kind: "memory", detail: `${r.rssMiB} MiB resident, over ${maxRssMiB}` };
  if ((r.validate === 2) !== (r.inspect === 2)) return { kind: "disagree", detail: `validate exit ${r.validate}, inspect exit ${r.inspect}` };
  return null;
}

const suffix = (name: string) => /(\.[a-z0-9]+)+$/i.exec(name)?.[0] ?? "";

export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  const t0 = Date.now();
  const workers = options.workers ?? 2;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxRssMiB = options.maxRssMiB ?? 1024;
  const log = options.log ?? (() => undefined);
  const scratch = mkdtempSync(join(tmpdir(), "do-image-fuzz-"));
  const seeds = options.seeds.map((path) => ({ path, name: basename(path), size: statSync(path).size, regions: regionsOf(path) as Region[] }));
  const report: FuzzReport = { cases: 0, failures: [], exits: {}, seconds: 0 };
  let next = 0;
  const pool = Array.from({ length: workers }, () => new Worker(maxRssMiB));
  try {
    await Promise.all(
      pool.map(async (worker) => {
        for (let k = next++; k < options.count; k = next++) {
          const seed = seeds[k % seeds.length];
          // Each case's mutation depends on (seed, case) alone: a case is reproduced without the ones before it.
          const m = mutation(seed.name, seed.size, seed.regions, prng((options.seed * 1_000_003 + k) >>> 0));
          const file = join(scratch, `case-${k}${suffix(seed.name)}`);
          apply(seed.path, m, file);
          const r = await worker.run(k, file, timeoutMs);
          report.cases++;
          if (!("hang" in r) && !("crashed" in r)) report.exits[`${seed.name} exit ${r.validate}`] = (report.exits[`${seed.name} exit ${r.validate}`] ?? 0) + 1;
          const bad = judge(r, maxRssMiB, timeoutMs);
          if (bad) {
            const failure: Failure = { case: k, mutation: m, ...bad };
            if (options.regressions) {
              mkdirSync(options.regressions, { recursive: true });
              const name = `${bad.kind}-${seed.name}-${options.seed}-${k}`;
              failure.file = join(options.regressions, `${name}${suffix(seed.name)}.gz`);
              writeFileSync(failure.file, gzipSync(readFileSync(file)));
              writeFileSync(join(options.regressions, `${name}.json`), `${JSON.stringify({ ...failure, file: basename(failure.file) }, null, 2)}\n`);
            }
            report.failures.push(failure);
            log(`case ${k} (${seed.name}, ${m.target}): ${bad.kind}: ${bad.detail.split("\n")[0]}`);
          }
          rmSync(file, { force: true });
          if (report.cases % 100 === 0) log(`${report.cases} cases, ${report.failures.length} failures, ${Math.round((Date.now() - t0) / 1000)} s`);
        }
      }),
    );
  } finally {
    await Promise.all(pool.map((w) => w.close()));
    rmSync(scratch, { recursive: true, force: true });
  }
  report.seconds = Math.round((Date.now() - t0) / 100) / 10;
  return report;
}

/** Runs one file (a regression) through a worker and judges it the same way. */
export async function check(file: string, options: { timeoutMs?: number; maxRssMiB?: number } = {}): Promise<Omit<Failure, "case" | "mutation"> | null> {
  const maxRssMiB = options.maxRssMiB ?? 1024;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const w = new Worker(maxRssMiB);
  try {
    return judge(await w.run(0, file, timeoutMs), maxRssMiB, timeoutMs);
  } finally {
    await w.close();
  }
}

/** The seed images: the committed samples, and every good-* and fs-* fixture the builder made (when it has run). */
export function seedImages(fixturesDir: string | null): string[] {
  const root = packageRoot();
  const names = [
    "good-gpt.raw",
    "good-mbr.raw",
    "good-zlib.qcow2",
    "good-extl2.qcow2",
    "good-v2.qcow2",
    "good-zstd.qcow2",
    "good-sparse.vmdk",
    "good-stream.vmdk",
    "good-dynamic.vdi",
    "good-dynamic.vhdx",
    "good-gpt.raw.gz",
    "good-gpt.raw.bz2",
    "fs-ext4-1k.img",
    "fs-ext3-1k.img",
  ];
  const fixtures = fixturesDir ? names.map((n) => join(fixturesDir, n)).filter((p) => statSync(p, { throwIfNoEntry: false })) : [];
  return [join(root, "examples", "images", "debian-12-sample.qcow2"), join(root, "examples", "images", "debian-12-sample.raw.bz2"), ...fixtures];
}

if (require.main === module) {
  const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
  void (async () => {
    const { runBuilder } = await import("../support/fixtures");
    const f = runBuilder(join(packageRoot(), "test", "fixtures", "build.sh"));
    if (!f.dir) process.stderr.write(`fixtures unavailable (${f.reason}): fuzzing the committed samples only\n`);
    const seeds = seedImages(f.dir);
    const options = {
      seed: arg("seed", Date.now() % 1_000_000),
      count: arg("count", 1000),
      seeds,
      regressions: join(packageRoot(), "test", "fuzz", "regressions"),
    };
    process.stderr.write(`fuzzing ${options.count} cases from seed ${options.seed} over ${seeds.length} seed images\n`);
    const r = await fuzz({ ...options, log: (l) => process.stderr.write(`${l}\n`) });
    process.stdout.write(
      `${JSON.stringify({ seed: options.seed, cases: r.cases, failures: r.failures.length, seconds: r.seconds, exits: r.exits }, null, 2)}\n`,
    );
    if (r.failures.length > 0) process.stderr.write(`failing cases saved in ${options.regressions}: commit them as regression files once fixed\n`);
    process.exitCode = r.failures.length > 0 ? 1 : 0;
  })();
}
