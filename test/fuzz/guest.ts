// The guest fuzz driver (`make fuzz`, and test/fuzz/guest.test.ts with a fixed seed): each case copies a seed image
// (a raw disk, its root filesystem a partition), changes one file its checks read with debugfs, and runs validate in a
// worker process. A case must end within a time limit and a memory limit, with exit 0, 1 or 2 and no error that is
// not a typed one, and every check that does not own the changed file must keep the verdict it has on the seed.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { openImage, readPartitionTable } from "../../provider/image";
import { findGuest } from "../../provider/image/checks/guest";
import { guestMutation, type GuestEntry, type GuestMutation } from "./guest-mutate";
import { prng } from "./mutate";
import { judge, Worker, type Failure } from "./fuzz";

export interface Seed {
  name: string;
  /** A raw disk image. */
  raw: string;
  /** The byte offset of its root filesystem. */
  offset: number;
  entries: GuestEntry[];
  /** Each check's status on the unchanged image. */
  baseline: Record<string, string>;
}

export interface GuestFailure extends Omit<Failure, "mutation"> {
  mutation: GuestMutation;
}

export interface GuestFuzzReport {
  cases: number;
  failures: GuestFailure[];
  /** Cases per target file. */
  targets: Record<string, number>;
  /** Cases where a check owning the changed file changed its verdict: the mutations reach the checks. */
  changed: number;
  seconds: number;
}

/** The files and directories of a guest the checks read, as far as the seed holds them. */
const PATHS = [
  "/etc/fstab",
  "/etc/cloud/cloud.cfg",
  "/etc/cloud/cloud.cfg.d",
  "/boot/grub/grub.cfg",
  "/etc/network/interfaces",
  "/etc/network/interfaces.d",
  "/etc/netplan",
  "/etc/NetworkManager/NetworkManager.conf",
  "/etc/systemd/network",
  "/etc/systemd/system/multi-user.target.wants",
  "/etc/systemd/system/multi-user.target.wants/ssh.service",
  "/var/lib/dpkg/status",
  "/etc/machine-id",
];

/** Files the checks read when they exist; a seed that lacks one gets cases that create it. */
const OPTIONAL = [
  "/boot/grub/custom.cfg",
  "/etc/cloud/ds-identify.cfg",
  "/etc/cloud/cloud-init.disabled",
  "/etc/netplan/50-fuzz.yaml",
  "/etc/systemd/network/10-fuzz.network",
  "/etc/network/interfaces.d/fuzz",
];

const debugfs = (target: string, request: string) =>
  execFileSync("debugfs", ["-R", request, target], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 256 << 20 });

/** What `ls -p` says is in a guest directory: name and mode of each entry. */
function list(target: string, dir: string): { name: string; mode: number }[] {
  return debugfs(target, `ls -p ${dir}`)
    .split("\n")
    .map((l) => l.split("/"))
    .filter((f) => f.length >= 6 && f[5] !== "." && f[5] !== "..")
    .map((f) => ({ name: f[5], mode: parseInt(f[2], 8) }));
}

/** Reads a seed's guest: its root filesystem's offset and the entries the mutator aims at. */
export async function readSeed(name: string, raw: string, validate: (file: string) => Promise<Record<string, string>>): Promise<Seed> {
  const image = await openImage(raw);
  let offset: number;
  try {
    const table = await readPartitionTable(image.disk, raw);
    const guest = await findGuest(image.disk, table);
    const root = guest.root;
    if (!root || root.volume) throw new Error(`${name}: the guest fuzzer needs a root filesystem on a partition`);
    offset = table.partitions.find((p) => p.number === root.number)!.start;
  } finally {
    await image.close();
  }
  const target = `${raw}?offset=${offset}`;
  const entries: GuestEntry[] = [];
  const add = (path: string, mode: number) => {
    const type = mode & 0o170000;
    if (type === 0o120000) entries.push({ path, kind: "symlink", target: debugfs(target, `stat ${path}`).match(/Fast link dest: "(.*)"/)?.[1] });
    else if (type === 0o100000)
      entries.push({
        path,
        kind: "file",
        content: execFileSync("debugfs", ["-R", `cat ${path}`, target], { stdio: ["ignore", "pipe", "ignore"], maxBuffer: 256 << 20 }),
      });
    else if (type === 0o040000) {
      const inside = list(target, path);
      entries.push({ path, kind: "dir", entries: inside.map((x) => x.name), flat: inside.every((x) => (x.mode & 0o170000) === 0o100000) });
      for (const x of inside) if ((x.mode & 0o170000) === 0o100000 && path !== "/etc/systemd/system/multi-user.target.wants") add(`${path}/${x.name}`, x.mode);
    }
  };
  for (const path of PATHS) {
    const parent = path.slice(0, path.lastIndexOf("/")) || "/";
    const here = list(target, parent).find((x) => x.name === path.slice(parent.length + (parent === "/" ? 0 : 1)));
    if (here) add(path, here.mode);
  }
  // what grub.cfg sources or loads by a literal path
  const cfg = entries.find((e) => e.path === "/boot/grub/grub.cfg")?.content?.toString("latin1") ?? "";
  for (const [, p] of cfg.matchAll(/^\s*(?:source|configfile)\s+(\/boot\/[^\s$;]+)/gm)) {
    const parent = p.slice(0, p.lastIndexOf("/"));
    const here = list(target, parent).find((x) => x.name === p.slice(parent.length + 1));
    if (here && !entries.some((e) => e.path === p)) add(p, here.mode);
  }
  for (const path of OPTIONAL) {
    const parent = path.slice(0, path.lastIndexOf("/"));
    const there = list(target, parent.slice(0, parent.lastIndexOf("/")) || "/").some((x) => x.name === parent.slice(parent.lastIndexOf("/") + 1));
    if (there && !list(target, parent).some((x) => x.name === path.slice(parent.length + 1))) entries.push({ path, kind: "absent" });
  }
  // the initramfs and kernel GRUB boots, when the seed has them
  for (const x of list(target, "/boot")) if (/^initrd\.img-|^initramfs-/.test(x.name) && (x.mode & 0o170000) === 0o100000) add(`/boot/${x.name}`, x.mode);
  return { name, raw, offset, entries, baseline: await validate(raw) };
}

/** Copies the seed and applies the mutation; returns the image's path. */
export function applyGuest(seed: Seed, m: GuestMutation, dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(m.files)) writeFileSync(join(dir, name), bytes);
  writeFileSync(join(dir, "requests"), m.requests.map((q) => q.replaceAll("$DIR", dir)).join("\n") + "\n");
  const img = join(dir, `${seed.name}.raw`);
  // a sparse copy: the seed's data, not its size
  execFileSync("cp", ["--sparse=always", "--reflink=auto", seed.raw, img]);
  execFileSync("debugfs", ["-w", "-f", join(dir, "requests"), `${img}?offset=${seed.offset}`], { stdio: "ignore" });
  return img;
}

/** The checks that changed their verdict though they do not own the changed file. */
export function strayVerdicts(seed: Seed, m: GuestMutation, got: Record<string, string>): string[] {
  return Object.keys(seed.baseline)
    .filter((id) => !m.owners.includes(id as never) && got[id] !== seed.baseline[id])
    .map((id) => `${id}: ${seed.baseline[id]} -> ${got[id]}`);
}

/** Each case's bounds, in the fuzzer and when a saved case replays: its answer within this time, its worker within this memory. */
export const CASE_LIMITS = Object.freeze({ timeoutMs: 20_000, maxRssMiB: 400 });

export interface GuestFuzzOptions {
  seed: number;
  count: number;
  seeds: Seed[];
  workers?: number;
  timeoutMs?: number;
  maxRssMiB?: number;
  /** Where a failing case is saved (its requests and files) to be replayed. */
  regressions?: string;
  log?: (line: string) => void;
}

export async function guestFuzz(options: GuestFuzzOptions): Promise<GuestFuzzReport> {
  const t0 = Date.now();
  const timeoutMs = options.timeoutMs ?? CASE_LIMITS.timeoutMs;
  const maxRssMiB = options.maxRssMiB ?? CASE_LIMITS.maxRssMiB;
  const log = options.log ?? (() => undefined);
  const scratch = mkdtempSync(join(tmpdir(), "do-image-guest-fuzz-"));
  const report: GuestFuzzReport = { cases: 0, failures: [], targets: {}, changed: 0, seconds: 0 };
  let next = 0;
  const pool = Array.from({ length: options.workers ?? 2 }, () => new Worker(maxRssMiB));
  try {
    await Promise.all(
      pool.map(async (worker) => {
        for (let k = next++; k < options.count; k = next++) {
          const seed = options.seeds[k % options.seeds.length];
          const m = guestMutation(seed.name, seed.entries, prng((options.seed * 1_000_003 + k) >>> 0));
          const { bad, moved } = await runCase(seed, m, worker, join(scratch, `case-${k}`), k, { timeoutMs, maxRssMiB });
          report.cases++;
          report.targets[m.target] = (report.targets[m.target] ?? 0) + 1;
          if (moved) report.changed++;
          if (bad) {
            const failure: GuestFailure = { case: k, mutation: m, ...bad };
            if (options.regressions) failure.file = saveCase(options.regressions, `${bad.kind}-${seed.name}-${options.seed}-${k}`, m);
            report.failures.push(failure);
            log(`case ${k} (${seed.name}, ${m.target}: ${m.what.join(", ")}): ${bad.kind}: ${bad.detail.split("\n")[0]}`);
          }
          if (report.cases % 50 === 0) log(`${report.cases} cases, ${report.failures.length} failures, ${Math.round((Date.now() - t0) / 1000)} s`);
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

/**
 * One case: the seed copied into `dir` and changed, validated in `worker`, and judged: `bad` when it ended badly or
 * moved a check that does not own the file; `moved` when a check that owns it changed its verdict. `dir` is removed.
 */
async function runCase(seed: Seed, m: GuestMutation, worker: Worker, dir: string, id: number, limits: { timeoutMs: number; maxRssMiB: number }) {
  try {
    const r = await worker.run(id, applyGuest(seed, m, dir), limits.timeoutMs);
    let bad = judge(r, limits.maxRssMiB, limits.timeoutMs);
    let moved = false;
    if (!bad && "checks" in r && r.checks) {
      const got = r.checks;
      moved = m.owners.some((c) => got[c] !== seed.baseline[c]);
      const stray = strayVerdicts(seed, m, got);
      if (stray.length > 0) bad = { kind: "stray", detail: stray.join("; ") };
    }
    return { bad, moved };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Replays the saved cases under `root` (see saveCase), each on the seed guest it was made from: every one must now
 * end well and move no check but its file's owners. A case whose seed is not among `seeds` is reported, not skipped.
 */
export async function replayGuestCases(root: string, seeds: Seed[], worker: Worker): Promise<{ cases: number; problems: string[] }> {
  const names = existsSync(root) ? readdirSync(root).filter((n) => existsSync(join(root, n, "case.json"))) : [];
  const scratch = mkdtempSync(join(tmpdir(), "do-image-guest-replay-"));
  const problems: string[] = [];
  try {
    for (const [k, name] of names.entries()) {
      const m = loadCase(join(root, name));
      const seed = seeds.find((s) => s.name === m.guest);
      if (!seed) {
        problems.push(`${name}: its seed guest ${m.guest} is not among ${seeds.map((s) => s.name).join(", ")}`);
        continue;
      }
      const { bad } = await runCase(seed, m, worker, join(scratch, name), k, CASE_LIMITS);
      if (bad) problems.push(`${name} (${m.target}: ${m.what.join(", ")}): ${bad.kind}: ${bad.detail.split("\n")[0]}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return { cases: names.length, problems };
}

/** A failing case as a replayable directory: the mutation (requests, owners) and its files, gzipped. */
export function saveCase(root: string, name: string, m: GuestMutation): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "case.json"), `${JSON.stringify({ ...m, files: Object.keys(m.files) }, null, 2)}\n`);
  for (const [f, bytes] of Object.entries(m.files)) writeFileSync(join(dir, `${f}.gz`), gzipSync(bytes));
  return dir;
}

/** A saved case, read back. */
export function loadCase(dir: string): GuestMutation {
  const saved = JSON.parse(readFileSync(join(dir, "case.json"), "utf8")) as Omit<GuestMutation, "files"> & { files: string[] };
  return { ...saved, files: Object.fromEntries(saved.files.map((f) => [f, gunzipSync(readFileSync(join(dir, `${f}.gz`)))])) };
}

/** The seed guests: the sample guest the fixture builder makes, and corpus images (bootable systems) as raw disks. */
export async function guestSeeds(names: { fixtures: string | null; corpus: { name: string; path: string }[] }, work: string, worker: Worker): Promise<Seed[]> {
  const validate = async (file: string) => {
    const r = await worker.run(0, file, 120_000);
    if (!("checks" in r) || !r.checks) throw new Error(`${file}: validate gave no report: ${JSON.stringify(r).slice(0, 400)}`);
    return r.checks;
  };
  const seeds: Seed[] = [];
  if (names.fixtures) seeds.push(await readSeed("good-gpt", join(names.fixtures, "good-gpt.raw"), validate));
  for (const c of names.corpus) {
    const raw = join(work, `${c.name}.raw`);
    execFileSync("qemu-img", ["convert", "-O", "raw", c.path, raw]);
    seeds.push(await readSeed(c.name, raw, validate));
  }
  return seeds;
}

if (require.main === module) {
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  void (async () => {
    const { runBuilder } = await import("../support/fixtures");
    const { bootCorpus, CORPUS_BUILDERS, listWorking } = await import("../support/corpus");
    const { packageRoot } = await import("../../provider/package");
    const wanted = arg("guests")?.split(",") ?? CORPUS_BUILDERS.flatMap(listWorking);
    const corpus = bootCorpus(wanted);
    const f = runBuilder(join(packageRoot(), "test", "fixtures", "build.sh"));
    const work = mkdtempSync(join(tmpdir(), "do-image-guest-seeds-"));
    const w = new Worker(1024);
    let seeds: Seed[];
    try {
      const images = (corpus.dir ? wanted.filter((n) => corpus.images.some((i) => i.name === n)) : []).map((n) => corpus.get(n));
      if (!corpus.dir) process.stderr.write(`boot corpus unavailable (${corpus.reason}): fuzzing the sample guest only\n`);
      // a guest whose root is not a partition of its own (LVM, a separate /boot) is left out: debugfs edits one filesystem
      seeds = [];
      for (const s of await guestSeeds({ fixtures: f.dir, corpus: [] }, work, w)) seeds.push(s);
      for (const img of images)
        try {
          seeds.push(...(await guestSeeds({ fixtures: null, corpus: [img] }, work, w)));
        } catch (err) {
          process.stderr.write(`left out ${img.name}: ${(err as Error).message}\n`);
        }
    } finally {
      await w.close();
    }
    const options = {
      seed: Number(arg("seed") ?? Date.now() % 1_000_000),
      count: Number(arg("count") ?? 500),
      seeds,
      regressions: join(packageRoot(), "test", "fuzz", "guest-regressions"),
    };
    process.stderr.write(`guest fuzzing ${options.count} cases from seed ${options.seed} over ${seeds.map((s) => s.name).join(", ")}\n`);
    try {
      const r = await guestFuzz({ ...options, log: (l) => process.stderr.write(`${l}\n`) });
      process.stdout.write(
        `${JSON.stringify({ seed: options.seed, cases: r.cases, failures: r.failures.length, seconds: r.seconds, changed: r.changed, targets: r.targets }, null, 2)}\n`,
      );
      if (r.failures.length > 0) process.stderr.write(`failing cases saved in ${options.regressions}: commit them as regression cases once fixed\n`);
      process.exitCode = r.failures.length > 0 ? 1 : 0;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  })();
}
