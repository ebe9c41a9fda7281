// Locates (building on first use) the boot corpus of real Debian systems, or says why it cannot be had.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { BootReport } from "../../provider/boot";
import { runBuilder } from "./fixtures";
import { packageRoot } from "../../tools/local-do/root";
import { requireTools } from "./require";

export interface CorpusImage {
  name: string;
  what: string;
  expect: "works" | "fails";
  /** The stage a boot fails at, for a variant expected to fail. */
  stage?: string;
  path: string;
}

export interface Corpus {
  dir: string | null;
  reason?: string;
  images: CorpusImage[];
  get(name: string): CorpusImage;
}

let cached: { corpus: Corpus; names: string[] } | undefined;

/** Builds (or finds in the cache) the corpus images named, or all of them. */
export function bootCorpus(names: string[] = []): Corpus {
  if (cached && (cached.names.length === 0 || (names.length > 0 && names.every((n) => cached!.names.includes(n))))) return cached.corpus;
  const { dir, reason } = runBuilder(join(packageRoot(), "test", "fixtures", "boot-corpus.sh"), names);
  const images: CorpusImage[] = dir
    ? readFileSync(join(dir, "corpus.tsv"), "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split("\t"))
        .map(([name, what, expect, stage]) => ({
          name,
          what,
          expect: expect as "works" | "fails",
          stage: stage || undefined,
          path: join(dir, `${name}.qcow2`),
        }))
    : [];
  const corpus: Corpus = {
    dir,
    reason,
    images,
    get(name) {
      const i = images.find((x) => x.name === name);
      if (!i) throw new Error(`no corpus image "${name}"`);
      return i;
    },
  };
  cached = { corpus, names };
  return corpus;
}

/** `describe` when the corpus and QEMU are there; else skipped with the reason, or failed under REQUIRE_TOOLS=1. */
export function describeWithCorpus(name: string, names: string[], body: (c: Corpus) => void): void {
  const missing = requireTools(["qemu-system-x86_64"]);
  const c = missing ? undefined : bootCorpus(names);
  const why = missing ?? (c && !c.dir ? `boot corpus unavailable: ${c.reason}` : undefined);
  if (why) {
    if (process.env.REQUIRE_TOOLS === "1") {
      describe(name, () =>
        test("tools the suite needs are present (REQUIRE_TOOLS=1)", () => {
          throw new Error(why);
        }),
      );
      return;
    }
    console.warn(`skipped "${name}": ${why}`);
    describe.skip(name, () => body(c!));
    return;
  }
  describe(name, () => body(c!));
}

/** The CLI's answer to `do-image boot FILE --json`: its exit code and report. */
export interface CliBoot {
  code: number | null;
  report: BootReport;
  stderr: string;
}

/** Runs `do-image boot --json` on the built CLI (as a user would), with the console kept beside the report. */
export function bootWithCli(path: string, consoleFile?: string): Promise<CliBoot> {
  const cli = join(packageRoot(), "dist", "provider", "cli", "main.js");
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run 'make build' (make test does it first)`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, "boot", path, "--json", ...(consoleFile ? ["--keep-console", consoleFile] : [])], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      try {
        resolve({ code, report: JSON.parse(stdout), stderr });
      } catch {
        reject(new Error(`do-image boot ${path} printed no JSON report (exit ${code}): ${stderr.slice(-2000)}`));
      }
    });
  });
}

/** Runs `work` over `items`, at most `limit` at a time, keeping the input order in the result. */
export async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The validate check that predicts a failure at each boot stage. */
export const CHECK_FOR_STAGE: Record<string, string[]> = {
  firmware: ["boot-loader"],
  "boot-loader": ["boot-loader", "kernel"],
  kernel: ["kernel", "filesystem"],
  init: ["fstab"],
  "cloud-init": ["cloud-init", "cloud-init-datasources"],
  network: ["network"],
  sshd: ["sshd"],
  login: ["cloud-init", "cloud-init-datasources"],
};
