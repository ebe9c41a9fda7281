// Start-up cost of the `do-image` executable (bin.js, which runs the bundled CLI): whole-process CPU time, user plus
// system, medians of 15, as ratios to a bare `node -e 0` measured in the same run.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { median, type Result } from "./support";

const bin = join(__dirname, "..", "provider", "cli", "bin.js");
const sample = join(__dirname, "..", "..", "examples", "images", "debian-12-sample.qcow2");

/** CPU seconds (user + system) of one run, from bash's `time` at millisecond resolution. */
function cpuSeconds(args: string[]): number {
  const quoted = args.map((a) => `'${a}'`).join(" ");
  const r = spawnSync("bash", ["-c", `TIMEFORMAT='%3U %3S'; time ( '${process.execPath}' ${quoted} >/dev/null 2>&1 )`], { encoding: "utf8" });
  const [user, sys] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
  return user + sys;
}

const cpu = (args: string[], runs = 15) => median(Array.from({ length: runs }, () => cpuSeconds(args)));

export function benchStartup(): Result[] {
  cpu(["-e", "0"], 3); // warm the page cache and Node's compile cache (Node ≥ 22.1) before measuring
  cpu([bin, "validate", sample], 3);
  const floor = cpu(["-e", "0"]);
  const ms = (t: number) => `${(t * 1000).toFixed(0)} ms CPU`;
  const figure = (name: string, args: string[], target: number): Result => {
    const ours = cpu([bin, ...args]);
    return { name, ours: ms(ours), reference: ms(floor), ratio: ours / floor, target: `≤ ${target}×`, pass: ours / floor <= target };
  };
  return [
    figure("do-image --version vs node -e 0", ["--version"], 1.1),
    figure("do-image inspect (64 MiB sample) vs node -e 0", ["inspect", sample], 1.3),
    figure("do-image validate (64 MiB sample) vs node -e 0", ["validate", sample], 1.5),
  ];
}
