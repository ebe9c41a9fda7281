// What the commands share: running a body with its JSON and exit code, the parsers of flag values, the API client,
// Ctrl-C, and the flag definitions more than one command takes.
import { DoImageError, errorJson, exitCodeOf } from "../errors";
import type { BootOptions, BootWhen } from "../boot";
import { CHECK_IDS } from "../image/checks/types";
import type { FlagSpec, Opts } from "./args";
import { colour as c } from "./format";
import { writeErr, writeOut } from "./output";
import type { TokenFlags } from "./settings";

/** Errors the user can act on are printed with their fix; anything else is a bug and keeps its stack. */
export function printError(err: unknown): void {
  if (err instanceof DoImageError) writeErr(`${c.red("error")} ${err.message}\n  ${c.bold("fix:")} ${err.fix}\n`);
  else
    writeErr(`${c.red("error")} ${(err as Error)?.stack ?? String(err)}\n  ${c.bold("fix:")} this is a bug in do-image: report it with the command you ran\n`);
}

/** Runs a command body: its JSON result (when asked) to stdout, an error as text to stderr (and as JSON), the exit code. */
export async function run(json: boolean | undefined, body: () => Promise<unknown>, file?: string): Promise<void> {
  try {
    const out = await body();
    if (json && out !== undefined) writeOut(`${JSON.stringify(out, null, 2)}\n`);
  } catch (err) {
    if (json) writeOut(`${JSON.stringify({ ...(file !== undefined ? { file } : {}), error: errorJson(err) }, null, 2)}\n`);
    printError(err);
    process.exitCode = exitCodeOf(err);
  }
}

export const list = (v: string, prev: unknown = []) => [
  ...(prev as string[]),
  ...v
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean),
];

export function checkIds(v: string, prev: unknown = []): string[] {
  const ids = list(v, prev);
  const bad = ids.filter((id) => !(CHECK_IDS as readonly string[]).includes(id));
  if (bad.length) throw new Error(`${bad.map((b) => `"${b}"`).join(", ")} is not a check id (${CHECK_IDS.join(", ")})`);
  return ids;
}

export function imageId(v: string): number {
  if (!/^[1-9]\d{0,15}$/.test(v)) throw new Error(`"${v}" is not an image id (a positive whole number; do-image ls lists them)`);
  return Number(v);
}

export function nonNegative(v: string): number {
  const n = Number(v);
  if (!(n >= 0) || !Number.isFinite(n)) throw new Error(`"${v}" is not a number of hours (0 or more)`);
  return n;
}

export function positive(v: string): number {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`"${v}" is not a positive number`);
  return n;
}

/**
 * A duration in seconds: "90s", "15m", "1h", or a bare number in `bare` units. Returned with whether it had a unit, for
 * the one flag whose bare numbers change meaning (regions add --timeout: minutes before, seconds next release).
 */
export function duration(v: string, bare: "s" | "m"): { seconds: number; unitless: boolean } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smh])?\s*$/i.exec(v);
  const n = m ? Number(m[1]) : NaN;
  if (!m || !(n > 0)) throw new Error(`"${v}" is not a duration: write 90s, 15m or 1h`);
  const unit = (m[2]?.toLowerCase() ?? bare) as "s" | "m" | "h";
  return { seconds: n * { s: 1, m: 60, h: 3600 }[unit], unitless: !m[2] };
}

/** Each retry or wait is said as it happens, so a slow network or a rate limit is never silence. */
export const retryLog = (line: string) => writeErr(`${c.dim(line)}\n`);

export async function client(flags: Opts & TokenFlags) {
  const [{ DigitalOceanClient }, { apiSettings }] = await Promise.all([import("../digitalocean"), import("./settings")]);
  return new DigitalOceanClient({ ...apiSettings(flags), log: retryLog });
}

/** Ctrl-C during a long command: say how to carry on, and exit as a shell expects (128 + SIGINT). */
export function onInterrupt(what: string): () => void {
  const handler = () => {
    writeErr(`\n${c.yellow("interrupted")}: ${what}\n`);
    process.exit(130);
  };
  process.on("SIGINT", handler);
  return () => process.off("SIGINT", handler);
}

export const FILE_ARG = { name: "file", description: "disk image: raw, qcow2, VMDK, VDI or VHDX, optionally gzip- or bzip2-compressed" };

/** Whether validation boots the image, for `validate` and `push` (the publish input validation.boot). */
export const BOOT_WHEN_FLAG: FlagSpec = {
  name: "boot",
  value: "<when>",
  bare: "auto",
  choices: ["auto", "always", "never"] satisfies BootWhen[],
  default: "never",
  description:
    "boot the image as a Droplet (QEMU, as `do-image boot`) and let the boot decide: auto (the bare flag) when a check that predicts the boot warns or cannot judge, always, or never; 1-3 minutes under TCG, under a minute under KVM",
};

/** The flags that shape a local boot, for `boot` and `validate --boot`. */
export const BOOT_FLAGS: FlagSpec[] = [
  {
    name: "timeout",
    value: "<seconds>",
    description: "seconds before an unfinished boot fails, or with a unit: 10m (default 600 under TCG, 240 under KVM)",
    parse: (v: string) => duration(v, "s").seconds,
  },
  { name: "keep-console", value: "<file>", description: "write the whole serial console to this file" },
  { name: "accel", value: "<accel>", description: "accelerator: auto tries KVM and falls back to TCG", choices: ["auto", "kvm", "tcg"], default: "auto" },
  { name: "memory", value: "<MiB>", description: "guest memory", parse: positive, default: 1024 },
];

export function bootOptions(o: Opts): BootOptions {
  return {
    timeoutSeconds: o.timeout as number | undefined,
    keepConsole: o.keepConsole as string | undefined,
    accel: o.accel as "auto" | "kvm" | "tcg",
    memoryMiB: o.memory as number,
    onProgress: (m) => writeErr(`${c.dim("boot")} ${m}\n`),
  };
}

/** `--json`, as every command that reports takes it. */
export const jsonFlag = (description = "print JSON"): FlagSpec => ({ name: "json", description });
