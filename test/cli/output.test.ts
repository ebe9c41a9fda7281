// The CLI's output without Node's stdout streams: colour decided as picocolors decides it, a reader that goes away, and a
// descriptor that would block.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliPath } from "../support/cli";

const sample = join(__dirname, "..", "..", "examples", "images", "debian-12-sample.qcow2");
const ESC = "\x1b[";
/** The environment with nothing that decides colour, plus `extra`. */
const envWith = (extra: Record<string, string>) => {
  const env = { ...process.env };
  for (const k of ["CI", "NO_COLOR", "FORCE_COLOR", "TERM"]) delete env[k];
  return { ...env, ...extra };
};
const validate = (env: NodeJS.ProcessEnv) =>
  execFileSync(process.execPath, [cliPath, "validate", sample, "--skip", "boot-loader,kernel"], { env, encoding: "utf8" });

test("colour: none into a pipe, on a terminal unless TERM is dumb, always with FORCE_COLOR or CI, never with NO_COLOR", () => {
  expect(validate(envWith({ TERM: "xterm" }))).not.toContain(ESC);
  expect(validate(envWith({ FORCE_COLOR: "1" }))).toContain(`${ESC}32m`);
  expect(validate(envWith({ CI: "true" }))).toContain(`${ESC}32m`);
  expect(validate(envWith({ FORCE_COLOR: "1", NO_COLOR: "1" }))).not.toContain(ESC);
  // A terminal: script(1) runs the command on a pseudo-terminal and copies what it printed.
  const onTerminal = (term: string) =>
    execFileSync("script", ["-qec", `'${process.execPath}' '${cliPath}' validate '${sample}' --skip boot-loader,kernel`, "/dev/null"], {
      env: envWith({ TERM: term }),
      encoding: "utf8",
    });
  expect(onTerminal("xterm")).toContain(`${ESC}32m`);
  expect(onTerminal("dumb")).not.toContain(ESC);
});

test("a reader that has gone away (do-image ... | head) ends the output quietly, with the command's own exit code", async () => {
  const child = spawn(process.execPath, [cliPath, "inspect", sample], { env: envWith({}), stdio: ["ignore", "pipe", "pipe"] });
  // Closed before the CLI has even loaded: every write it makes to standard output meets EPIPE.
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  expect(stderr).toBe("");
  expect(code).toBe(0);
});

describe("in process", () => {
  afterEach(() => jest.restoreAllMocks());

  test("a descriptor that would block (EAGAIN) hands the rest, and all later text, to the stream, in order; its EPIPE then ends output quietly", async () => {
    const { writeOut } = await import("../../provider/cli/output");
    const written: string[] = [];
    let calls = 0;
    // The module object itself, which output.ts calls through (an `import * as` namespace cannot be spied on).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("node:fs") as typeof import("node:fs");
    jest.spyOn(fs, "writeSync").mockImplementation(((fd: number, data: Uint8Array, offset: number) => {
      calls++;
      if (calls === 1) {
        written.push(`fd:${Buffer.from(data.subarray(offset, offset + 3)).toString()}`);
        return 3;
      }
      throw Object.assign(new Error("EAGAIN: resource temporarily unavailable, write"), { code: "EAGAIN" });
    }) as typeof fs.writeSync);
    jest.spyOn(process.stdout, "write").mockImplementation(((chunk: Uint8Array | string) => {
      written.push(`stream:${chunk.toString()}`);
      return true;
    }) as typeof process.stdout.write);
    const listeners = process.stdout.listeners("error");
    try {
      writeOut("abcdef");
      writeOut("ghi");
      expect(written).toEqual(["fd:abc", "stream:def", "stream:ghi"]);
      expect(calls).toBe(2);
      // The reader then goes away: the stream says so as an event, which must neither throw nor let more text through.
      process.stdout.emit("error", Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
      writeOut("jkl");
      expect(written).toEqual(["fd:abc", "stream:def", "stream:ghi"]);
    } finally {
      for (const l of process.stdout.listeners("error")) if (!listeners.includes(l)) process.stdout.off("error", l as () => void);
    }
  });

  test("styles nest as picocolors nests them: an inner colour's end resumes the outer one", async () => {
    process.env.FORCE_COLOR = "1";
    try {
      const { colour } = await import("../../provider/cli/output");
      expect(colour.red(`a ${colour.green("b")} c`)).toBe(`${ESC}31ma ${ESC}32mb${ESC}31m c${ESC}39m`);
      expect(colour.dim(`x ${colour.bold("y")} z`)).toBe(`${ESC}2mx ${ESC}1my${ESC}22m${ESC}2m z${ESC}22m`);
    } finally {
      delete process.env.FORCE_COLOR;
    }
  });
});

test("start-up: inspecting an uncompressed disk into a pipe loads none of Node's stream, zlib, fs/promises or tty modules", () => {
  const dir = mkdtempSync(join(tmpdir(), "do-image-modules-"));
  const disk = join(dir, "disk.raw");
  const mbr = Buffer.alloc(1 << 20);
  mbr.writeUInt16LE(0xaa55, 510);
  writeFileSync(disk, mbr);
  // Preloaded, it notes the built-in modules already loaded, and prints those loaded after, as the process exits.
  const probe = join(dir, "probe.js");
  writeFileSync(
    probe,
    "const before = new Set(process.moduleLoadList);\n" +
      "process.on('exit', () => process._rawDebug(JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m)))));\n",
  );
  const r = spawnSync(process.execPath, ["-r", probe, cliPath, "inspect", disk], { env: envWith({}), encoding: "utf8" });
  expect(r.status).toBe(0);
  expect(r.stdout).toContain("virtual size");
  const loaded = JSON.parse(r.stderr.trim().split("\n").pop()!) as string[];
  expect(loaded).toContain("NativeModule vm");
  expect(loaded.filter((m) => /^NativeModule (stream|zlib|tty|net|(internal\/)?fs\/promises|internal\/streams\/|internal\/readline\/)/.test(m))).toEqual([]);
});
