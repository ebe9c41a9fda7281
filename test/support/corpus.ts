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

/** The builders: boot-corpus.sh (one Debian 12 template, varied stage by stage) and boot-corpus-wild.sh (systems
 * whose boot loaders the real tools installed, other releases and init systems). Names are unique across both. */
export const CORPUS_BUILDERS = ["boot-corpus.sh", "boot-corpus-wild.sh"];

/** Builds (or finds in the cache) the corpus images named, or all of them, from every builder. */
export function bootCorpus(names: string[] = []): Corpus {
  if (cached && (cached.names.length === 0 || (names.length > 0 && names.every((n) => cached!.names.includes(n))))) return cached.corpus;
  const images: CorpusImage[] = [];
  const reasons: string[] = [];
  let dir: string | null = null;
  for (const builder of CORPUS_BUILDERS) {
    const listed = listCorpus(builder);
    // A builder asked only for names it does not list has nothing to build.
    const mine = names.filter((n) => listed.includes(n));
    if (names.length > 0 && mine.length === 0) continue;
    const built = runBuilder(join(packageRoot(), "test", "fixtures", builder), mine);
    if (!built.dir) {
      reasons.push(`${builder}: ${built.reason}`);
      continue;
    }
    dir ??= built.dir;
    images.push(
      ...readFileSync(join(built.dir, "corpus.tsv"), "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split("\t"))
        .map(([name, what, expect, stage]) => ({
          name,
          what,
          expect: expect as "works" | "fails",
          stage: stage || undefined,
          path: join(built.dir!, `${name}.qcow2`),
        }))
        .filter((i) => names.length === 0 || names.includes(i.name)),
    );
  }
  const corpus: Corpus = {
    dir: reasons.length ? null : dir,
    reason: reasons.join("; ") || undefined,
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

/** The variant names a builder lists (its VARIANTS lines), read without running it. */
export function listCorpus(builder: string): string[] {
  const text = readFileSync(join(packageRoot(), "test", "fixtures", builder), "utf8");
  return [...text.matchAll(/^ {2}"([a-z0-9-]+)\|/gm)].map((m) => m[1]);
}

/** The variants a builder lists whose boots work, from its VARIANTS lines (`name|…|works|`), without building them. */
export function listWorking(builder: string): string[] {
  const text = readFileSync(join(packageRoot(), "test", "fixtures", builder), "utf8");
  return [...text.matchAll(/^ {2}"([a-z0-9-]+)\|.*\|works\|"$/gm)].map((m) => m[1]);
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
export async function bootWithCli(path: string, consoleFile?: string): Promise<CliBoot> {
  const r = await runCliJson<BootReport>(["boot", path, "--json", ...(consoleFile ? ["--keep-console", consoleFile] : [])]);
  return { code: r.code, report: r.json, stderr: r.stderr };
}

/** Runs the built CLI (as a user would) with these arguments, for its exit code and JSON output. */
export function runCliJson<T>(args: string[]): Promise<{ code: number | null; json: T; stderr: string }> {
  const cli = join(packageRoot(), "dist", "provider", "cli", "main.js");
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run 'make build' (make test does it first)`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      try {
        resolve({ code, json: JSON.parse(stdout) as T, stderr });
      } catch {
        reject(new Error(`do-image ${args.join(" ")} printed no JSON (exit ${code}): ${stderr.slice(-2000)}`));
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
