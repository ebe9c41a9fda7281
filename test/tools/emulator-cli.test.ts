// The local DigitalOcean's command: a quick start that returns (--background), export lines a shell can eval, and a
// clean exit on SIGTERM and SIGINT. (Not --env-file: Node 20 takes that option for itself even after the script name.)
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, watch } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");
const MAIN = join(ROOT, "dist", "tools", "local-do", "emulator", "main.js");
const CLI = join(ROOT, "dist", "provider", "cli", "main.js");

const exportsOf = (text: string) => Object.fromEntries([...text.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));

test("--background returns once serving and prints exports a shell can eval; the pid file goes when it stops", async () => {
  const dir = mkdtempSync(join(tmpdir(), "emu-"));
  const pidFile = join(dir, "pid");
  const out = execFileSync("bash", ["-c", `eval "$(node ${MAIN} --background --pid-file ${pidFile} --exports-file ${dir}/env)" && node ${CLI} ls --json`], {
    encoding: "utf8",
    env: { ...process.env, DIGITALOCEAN_TOKEN: "" },
    timeout: 30_000,
  });
  expect(JSON.parse(out)).toEqual([]);
  expect(exportsOf(readFileSync(join(dir, "env"), "utf8"))).toMatchObject({ DIGITALOCEAN_API_URL: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
  const pid = Number(readFileSync(pidFile, "utf8"));
  const gone = new Promise<void>((resolve) => {
    // The detached server is not our child: its exit shows as the pid file it removes on the way out.
    const w = watch(dir, () => {
      if (!existsSync(pidFile)) {
        w.close();
        resolve();
      }
    });
  });
  process.kill(pid, "SIGTERM");
  await gone;
  expect(existsSync(pidFile)).toBe(false);
});

test.each(["SIGTERM", "SIGINT"] as const)("%s stops the emulator with exit code 0", async (signal) => {
  const child = spawn(process.execPath, [MAIN], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  await new Promise<void>((resolve) => child.stdout.on("data", (d) => /export DIGITALOCEAN_TOKEN=/.test(String(d)) && resolve()));
  child.kill(signal);
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  expect({ code, err }).toEqual({ code: 0, err: "" });
});
