// Locates (building on first use) the tool-made fixture images, or says which tool is missing so suites can skip.
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";

export interface Fixtures {
  dir: string | null;
  /** Why the fixtures are unavailable, when they are. */
  reason?: string;
  path(name: string): string;
}

let cached: Fixtures | undefined;

/** Runs a fixture builder script; it prints its output directory last, or says on stderr what is missing. */
export function runBuilder(script: string, args: string[] = []): { dir: string | null; reason?: string } {
  const r = spawnSync("bash", [script, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
  const dir = r.status === 0 ? r.stdout.trim().split("\n").pop()! : null;
  const lines = (r.stderr ?? "").trim().split("\n");
  return { dir, reason: dir ? undefined : (lines.filter((l) => /missing|needs|failed/.test(l)).pop() ?? lines.pop()) };
}

export function fixtures(): Fixtures {
  if (cached) return cached;
  const { dir, reason } = runBuilder(join(__dirname, "..", "fixtures", "build.sh"));
  cached = { dir, reason, path: (name) => join(dir ?? "/nonexistent", name) };
  return cached;
}

/** `describe` when fixtures exist, else a skipped `describe` with the one-line reason printed once. */
export function describeWithFixtures(name: string, body: (f: Fixtures) => void): void {
  const f = fixtures();
  if (!f.dir) {
    if (process.env.REQUIRE_TOOLS === "1") {
      describe(name, () =>
        test("fixture images can be built (REQUIRE_TOOLS=1)", () => {
          throw new Error(`fixture images unavailable: ${f.reason}`);
        }),
      );
      return;
    }
    console.warn(`skipped "${name}": fixture images unavailable: ${f.reason}`);
    describe.skip(name, () => body(f));
    return;
  }
  describe(name, () => body(f));
}

export const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
export const runBytes = (cmd: string, args: string[]) => execFileSync(cmd, args, { maxBuffer: 256 * 1024 * 1024 });
