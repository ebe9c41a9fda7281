// Public face of grub/: GRUB's BIOS boot read as it runs, from the core image to the kernel it boots.
import { Walk } from "./run";
import { GRUB_LIMITS, type GrubMachine, type GrubOutcome, type GrubStartAt } from "./types";

export * from "./types";
export { parseGrubenv, rpmVercmp } from "./files";
export { readGrubCore, type GrubCore } from "./core";
export { grubStartup, type GrubStart } from "./startup";
export { parseScript } from "./script";

/**
 * Every way GRUB's normal mode can go on this disk from the config at START: one outcome per combination of the
 * conditions our reading cannot decide (at most GRUB_LIMITS.paths, after which one `unknown` says so).
 */
export async function runGrub(machine: GrubMachine, start: GrubStartAt): Promise<GrubOutcome[]> {
  const cache = new Map<string, Promise<Buffer | null | "unknown">>();
  const reader = (partition: number, path: string) => {
    const key = `${partition}:${path}`;
    let p = cache.get(key);
    if (!p) {
      const files = machine.partitions.find((x) => x.number === partition)?.files;
      p = files ? files.readFile(path, GRUB_LIMITS.fileBytes).then((b) => b ?? null) : Promise.resolve("unknown" as const);
      cache.set(key, p);
    }
    return p;
  };
  const outcomes: GrubOutcome[] = [];
  let choices: number[] = [];
  for (;;) {
    if (outcomes.length >= GRUB_LIMITS.paths) {
      outcomes.push({ kind: "unknown", message: `GRUB's config has more than ${GRUB_LIMITS.paths} ways through it that our reading cannot decide`, via: [] });
      return outcomes;
    }
    outcomes.push(await new Walk(machine, choices, reader, start).run());
    // The next combination: flip the last "true" choice to "false" and drop the ones after it.
    let i = choices.length - 1;
    while (i >= 0 && choices[i] === 1) i--;
    if (i < 0) return outcomes;
    choices = [...choices.slice(0, i), 1];
  }
}
