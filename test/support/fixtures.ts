// Locates (building on first use) the tool-made fixture images, or says which tool is missing so suites can skip.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface Fixtures {
  dir: string | null;
  /** Why the fixtures are unavailable, when they are. */
  reason?: string;
  path(name: string): string;
  /** Why one fixture was left out (an optional tool was missing), when it was. */
  missing(name: string): string | undefined;
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
  const left = new Map<string, string>();
  if (dir && existsSync(join(dir, ".missing")))
    for (const line of readFileSync(join(dir, ".missing"), "utf8").split("\n").filter(Boolean)) {
      const [fixture, tool, pkg] = line.split("\t");
      left.set(fixture, `missing ${tool} (Debian: apt-get install ${pkg})`);
    }
  cached = { dir, reason, path: (name) => join(dir ?? "/nonexistent", name), missing: (name) => left.get(name) };
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

/**
 * The rows whose fixture was built. For each one an optional tool's absence left out, a skipped test names the tool
 * (a failing one under REQUIRE_TOOLS=1), so a missing mkfs.btrfs loses only the btrfs rows, and says so.
 */
export function built<T>(fx: Fixtures, rows: T[], file: (row: T) => string): T[] {
  const kept: T[] = [];
  for (const row of rows) {
    const why = fx.missing(file(row));
    if (!why) kept.push(row);
    else if (process.env.REQUIRE_TOOLS === "1")
      test(`${file(row)} can be built (REQUIRE_TOOLS=1)`, () => {
        throw new Error(`fixture ${file(row)} was not built: ${why}`);
      });
    else {
      console.warn(`skipped ${file(row)}: ${why}`);
      test.skip(`${file(row)}: ${why}`, () => undefined);
    }
  }
  return kept;
}
