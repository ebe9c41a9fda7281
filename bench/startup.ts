// Start-up cost of the `do-image` executable (bin.js, which runs the bundled CLI through its code cache): whole-process
// CPU time, user plus system, medians of 15, as ratios to a bare `node -e 0` measured in the same run, every process
// in the clean environment of support.ts. Where valgrind is installed, the instructions each process executes
// (callgrind, the fewest of 5) are reported too: they do not move with the machine's load, as CPU time does here.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { cleanEnv as env, have, median, type Result } from "./support";

const bin = join(__dirname, "..", "provider", "cli", "bin.js");
const sample = join(__dirname, "..", "..", "examples", "images", "debian-12-sample.qcow2");

/** CPU seconds (user + system) of one run, from bash's `time` at millisecond resolution. */
function cpuSeconds(args: string[]): number {
  const quoted = args.map((a) => `'${a}'`).join(" ");
  const r = spawnSync("bash", ["-c", `TIMEFORMAT='%3U %3S'; time ( '${process.execPath}' ${quoted} >/dev/null 2>&1 )`], { encoding: "utf8", env });
  const [user, sys] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
  return user + sys;
}

const cpu = (args: string[], runs = 15) => median(Array.from({ length: runs }, () => cpuSeconds(args)));

/** Millions of instructions one run executes, counted by callgrind (all threads). */
function instructionsOnce(args: string[]): number {
  const r = spawnSync("valgrind", ["--tool=callgrind", "--callgrind-out-file=/dev/null", process.execPath, ...args], { encoding: "utf8", env });
  const m = /refs:\s+([\d,]+)/.exec(r.stderr);
  if (!m) throw new Error(`callgrind printed no count for ${args.join(" ")}: ${r.stderr.slice(-500)}`);
  return Number(m[1].replace(/,/g, "")) / 1e6;
}

/**
 * The fewest of 5 counts: V8's background threads (compiling, collecting garbage) do more or less work depending on
 * when they are scheduled, so one count of the same command moves by up to a tenth (84 to 89 M for node -e 0).
 */
const instructions = (args: string[]) => Math.min(...Array.from({ length: 5 }, () => instructionsOnce(args)));

export function benchStartup(): Result[] {
  const commands: [string, string[], number][] = [
    ["do-image --version vs node -e 0", ["--version"], 1.1],
    ["do-image inspect (64 MiB sample) vs node -e 0", ["inspect", sample], 1.3],
    ["do-image validate (64 MiB sample) vs node -e 0", ["validate", sample], 1.5],
  ];
  // Warm the page cache, and make each command's code cache as a user's first run does.
  cpu(["-e", "0"], 3);
  for (const [, args] of commands) cpu([bin, ...args], 3);
  const floor = cpu(["-e", "0"]);
  const counted = have("valgrind");
  const floorIr = counted ? instructions(["-e", "0"]) : 0;
  const ms = (t: number) => `${(t * 1000).toFixed(0)} ms CPU`;
  const results = commands.map(([name, args, target]): Result => {
    const ours = cpu([bin, ...args]);
    const ir = counted ? instructions([bin, ...args]) : 0;
    const irText = (n: number) => (counted ? `, ${n.toFixed(0)} M instructions` : "");
    return {
      name,
      ours: `${ms(ours)}${irText(ir)}${counted ? ` (${(ir / floorIr).toFixed(2)}× by instructions)` : ""}`,
      reference: `${ms(floor)}${irText(floorIr)}`,
      ratio: ours / floor,
      target: `≤ ${target}×`,
      pass: ours / floor <= target,
    };
  });
  // Node alone doing what inspect asks of it: how much of a ratio no code of do-image's could remove.
  const floorArgs = [join(__dirname, "startup-floor.js"), sample];
  const nodeOnly = cpu(floorArgs);
  const nodeOnlyIr = counted ? instructions(floorArgs) : 0;
  results.push({
    name: "Node alone doing inspect's reads, zlib and parseArgs (bench/startup-floor.ts) vs node -e 0",
    ours: `${ms(nodeOnly)}${counted ? `, ${nodeOnlyIr.toFixed(0)} M instructions (${(nodeOnlyIr / floorIr).toFixed(2)}× by instructions)` : ""}`,
    reference: `${ms(floor)}${counted ? `, ${floorIr.toFixed(0)} M instructions` : ""}`,
    ratio: nodeOnly / floor,
    target: "none",
    pass: true,
  });
  return results;
}
