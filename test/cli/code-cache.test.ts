// The V8 code cache the executable loads its bundle through: made after a run, taken by the next, never stale, and
// never a reason for a command to fail.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const codeCache = join(__dirname, "..", "..", "dist", "provider", "cli", "code-cache.js");

let dir: string;
let cacheDir: string;
let moduleFile: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "code-cache-"));
  cacheDir = join(dir, "v8");
  moduleFile = join(dir, "bundle.js");
  writeModule("41");
});

/** A module with a shebang, as the CLI bundle has, whose answer is `value + 1`. */
function writeModule(value: string): void {
  writeFileSync(
    moduleFile,
    [
      "#!/usr/bin/env node",
      `exports.answer = () => ${value} + 1;`,
      'exports.joined = require("node:path").join(__dirname, "x");',
      "exports.file = __filename;",
      "exports.line = () => new Error().stack.split('\\n')[1];",
    ].join("\n"),
  );
}

/** Loads the module in a new process, as the executable does, and says what it got. */
function load(
  purpose = "validate",
  env: NodeJS.ProcessEnv = {},
  keep?: number,
  exitCode = 0,
): { cache: string; answer: number; joined: string; file: string; line: string } {
  // Caches are kept, as the executable keeps them, only from runs that end with 0 or 1. The code comes by the
  // environment: the script's text is in execArgv, which names the cache.
  const script = `
    const { requireWithCodeCache } = require(${JSON.stringify(codeCache)});
    const r = requireWithCodeCache(${JSON.stringify(moduleFile)}, {
      dir: ${JSON.stringify(cacheDir)}, purpose: ${JSON.stringify(purpose)}, keep: ${keep ?? 16}, keepIf: (code) => code <= 1,
    });
    const m = r.exports;
    process.stdout.write(JSON.stringify({ cache: r.cache, answer: m.answer(), joined: m.joined, file: m.file, line: m.line() }));
    process.exitCode = Number(process.env.EXIT_WITH);`;
  const r = spawnSync(process.execPath, ["-e", script], {
    encoding: "utf8",
    env: { ...process.env, NODE_DISABLE_COMPILE_CACHE: "", EXIT_WITH: String(exitCode), ...env },
  });
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout);
}

test("the first run makes the cache and the next one takes it; the module runs as CommonJS either way", () => {
  const first = load();
  expect(first).toEqual({ cache: "made", answer: 42, joined: join(dir, "x"), file: moduleFile, line: expect.stringContaining(`${moduleFile}:5:`) });
  expect(readdirSync(cacheDir)).toHaveLength(1);
  expect(load()).toEqual({ ...first, cache: "hit" });
});

test("a run that stops early (exit 2 or 64) leaves no cache: the first run that does the work makes it", () => {
  expect(load("validate", {}, 16, 2).cache).toBe("made");
  expect(load("validate", {}, 16, 64).cache).toBe("made");
  expect(existsSync(cacheDir) ? readdirSync(cacheDir) : []).toEqual([]);
  expect(load("validate", {}, 16, 1).cache).toBe("made");
  expect(load().cache).toBe("hit");
});

test("an edited module of the same length never runs from the old cache", () => {
  expect(load().answer).toBe(42);
  expect(load().cache).toBe("hit");
  // V8 checks only the source's length; the cache's name carries the file's size, modification time and inode.
  writeModule("99");
  utimesSync(moduleFile, new Date(), new Date(Date.now() + 5_000));
  expect(load()).toMatchObject({ cache: "made", answer: 100 });
  expect(load()).toMatchObject({ cache: "hit", answer: 100 });
});

test("a damaged cache is refused by V8 and made again", () => {
  load();
  const [name] = readdirSync(cacheDir);
  const bytes = readFileSync(join(cacheDir, name));
  bytes.fill(7, 0, 64);
  writeFileSync(join(cacheDir, name), bytes);
  expect(load()).toMatchObject({ cache: "made", answer: 42 });
  expect(load()).toMatchObject({ cache: "hit", answer: 42 });
});

test("each purpose has its own cache, and the folder keeps only the newest", () => {
  for (const purpose of ["inspect", "validate", "push"]) load(purpose, {}, 2);
  expect(readdirSync(cacheDir).map((f) => f.split("-")[0])).toEqual(expect.arrayContaining(["validate", "push"]));
  expect(readdirSync(cacheDir)).toHaveLength(2);
});

test("a cache folder that cannot be written, or NODE_DISABLE_COMPILE_CACHE, only makes the run slower", () => {
  writeFileSync(cacheDir, "a file where the folder would be");
  expect(load()).toMatchObject({ cache: "made", answer: 42 });
  expect(load()).toMatchObject({ cache: "made", answer: 42 });
  chmodSync(cacheDir, 0o644);
  expect(load("validate", { NODE_DISABLE_COMPILE_CACHE: "1" })).toMatchObject({ cache: "off", answer: 42 });
});

test("the executable: help has its own cache, and a validate that cannot read its file leaves none for validate", () => {
  const bin = join(__dirname, "..", "..", "dist", "provider", "cli", "bin.js");
  const sample = join(__dirname, "..", "..", "examples", "images", "debian-12-sample.qcow2");
  const env = { ...process.env, DO_IMAGE_CACHE: dir, NODE_DISABLE_COMPILE_CACHE: "" };
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env }).status;
  const caches = () => (existsSync(cacheDir) ? readdirSync(cacheDir).map((f) => f.split("-")[0]) : []);
  expect(run("validate", "--help")).toBe(0);
  expect(run("validate", join(dir, "no-such-disk.qcow2"))).toBe(2);
  expect(caches()).toEqual(["help"]);
  expect(run("validate", sample)).toBe(1);
  expect(caches().sort()).toEqual(["help", "validate"]);
});
