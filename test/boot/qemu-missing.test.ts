// Without QEMU, `do-image boot` says how to install it and exits 69 (a tool it needs is unavailable); a DO_IMAGE_QEMU
// that names no program is a setting to fix, 64.
import { join } from "node:path";
import { spawnCli } from "../support/cli";

const sample = join(__dirname, "..", "..", "examples", "images", "debian-12-sample.qcow2");

test.each([
  ["no qemu-system-x86_64 on PATH", { PATH: "/nonexistent" }, 69, /qemu-system-x86_64 is not on PATH/, /apt-get install qemu-system-x86/],
  [
    "DO_IMAGE_QEMU naming no program",
    { DO_IMAGE_QEMU: "/nonexistent/qemu" },
    64,
    /DO_IMAGE_QEMU=\/nonexistent\/qemu is not an executable file/,
    /set DO_IMAGE_QEMU/,
  ],
])("%s: exit %d", async (_n, env, code, message, fix) => {
  const r = await spawnCli({ ...process.env, NO_COLOR: "1", ...env }, ["boot", sample, "--json"]);
  expect(r.code).toBe(code);
  const err = JSON.parse(r.stdout).error;
  expect(err).toMatchObject({ code: "qemu-missing", message: expect.stringMatching(message), fix: expect.stringMatching(fix) });
});
