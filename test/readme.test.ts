// The README's runnable blocks, run as a user would from the repository root with do-image on PATH: ```sh runnable
// blocks must succeed, and ```console runnable blocks must print exactly what the README shows after each `$ ` line.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(__dirname, "..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const blocks = (kind: string) => [...README.matchAll(new RegExp("^```" + kind + " runnable\\n([\\s\\S]*?)^```$", "gm"))].map((m) => m[1]);

/** A PATH whose do-image is this checkout's built CLI, as `npm install -g` of the packed package would give. */
function env(): NodeJS.ProcessEnv {
  const bin = mkdtempSync(join(tmpdir(), "readme-bin-"));
  writeFileSync(join(bin, "do-image"), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, "dist", "provider", "cli", "main.js")}" "$@"\n`);
  chmodSync(join(bin, "do-image"), 0o755);
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DIGITALOCEAN_|SPACES_)/.test(k)));
  return { ...clean, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: "1", DO_IMAGE_CACHE: mkdtempSync(join(tmpdir(), "readme-cache-")) };
}

test("the README has runnable blocks of both kinds", () => {
  expect(blocks("sh").length).toBeGreaterThan(0);
  expect(blocks("console").length).toBeGreaterThan(0);
});

test.each(blocks("sh").map((b) => [b.split("\n")[0], b]))("sh block `%s …` succeeds", (_first, block) => {
  const r = spawnSync("bash", ["-euo", "pipefail", "-c", block], { cwd: ROOT, env: env(), encoding: "utf8", timeout: 120_000 });
  expect({ status: r.status, stderr: r.status === 0 ? "" : r.stderr }).toEqual({ status: 0, stderr: "" });
});

test.each(blocks("console").map((b) => [b.split("\n")[0], b]))("console block `%s` prints what the README shows", (_first, block) => {
  const steps = block.split(/^\$ /m).filter(Boolean);
  for (const step of steps) {
    const [command, ...expected] = step.split("\n");
    const out = execFileSync("bash", ["-c", command], { cwd: ROOT, env: env(), encoding: "utf8" });
    expect(out).toBe(expected.join("\n"));
  }
});
