// Concurrent pushes of the same bytes converge on one image: on one machine (one cache folder, a file lock) and on
// many (a cache folder each: adopt-after-create by marker tag, and multipart uploads of one key coordinated).
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnCli } from "../support/cli";
import { startLocalDigitalOcean, type LocalDigitalOcean } from "../../tools/local-do/emulator";
import { requireTools } from "../support/require";

const root = join(__dirname, "..", "..");
const sample = join(root, "examples", "images", "debian-12-sample.qcow2");
const noQemu = requireTools(["qemu-img"]);
if (noQemu) console.warn(`concurrent multipart pushes: ${noQemu}`);

let local: LocalDigitalOcean;
let raw: string;

const doImage = (env: NodeJS.ProcessEnv, ...args: string[]) => spawnCli(env, args);

beforeAll(async () => {
  // Uploads are slowed a little so that the four really overlap: each part takes a while to store.
  local = await startLocalDigitalOcean({ api: { timings: { importMs: 200, transferMs: 50, bootMs: 20 } }, s3: { buckets: ["images"] } });
  if (!noQemu) {
    // 64 MiB raw: four 16 MiB parts, so the pushes upload it as multipart.
    raw = join(mkdtempSync(join(tmpdir(), "concurrent-")), "disk.raw");
    execFileSync("qemu-img", ["convert", "-O", "raw", sample, raw]);
  }
});
afterAll(() => local.close());

const cases = [
  { image: "the small sample (one PUT)", file: () => sample, machines: "one machine", shared: true },
  { image: "the small sample (one PUT)", file: () => sample, machines: "four machines", shared: false },
  { image: "a 64 MiB raw disk (multipart)", file: () => raw, machines: "one machine", shared: true },
  { image: "a 64 MiB raw disk (multipart)", file: () => raw, machines: "four machines", shared: false },
];

(noQemu && process.env.REQUIRE_TOOLS !== "1" ? describe.skip : describe).each(cases)("4 pushes at once of $image on $machines", ({ file, shared }) => {
  test("make exactly one image; all exit 0 and print its id; nothing is left in the bucket", async () => {
    const before = new Set(local.api.state.images.map((i) => i.id));
    const cache = mkdtempSync(join(tmpdir(), "concurrent-cache-"));
    const runs = await Promise.all(
      [0, 1, 2, 3].map((n) =>
        doImage(
          { ...process.env, ...local.env, SPACES_BUCKET: "images", NO_COLOR: "1", DO_IMAGE_CACHE: shared ? cache : mkdtempSync(join(tmpdir(), `cache-${n}-`)) },
          "push",
          file(),
          "--region",
          "nyc3",
          "--skip",
          "boot-loader,kernel",
          "--json",
        ),
      ),
    );
    for (const r of runs) expect({ code: r.code, stderr: r.code === 0 ? "" : r.stderr }).toEqual({ code: 0, stderr: "" });
    const results = runs.map((r) => JSON.parse(r.stdout) as { image: { id: number }; adopted: boolean; upload: object | null });
    const ids = results.map((r) => r.image.id);
    expect(new Set(ids).size).toBe(1);
    // One push made the image; the others adopted it (on one machine without uploading anything: they waited).
    expect(results.filter((r) => !r.adopted)).toHaveLength(1);
    if (shared) expect(results.filter((r) => r.upload !== null)).toHaveLength(1);
    const made = local.api.state.images.filter((i) => !before.has(i.id) && i.status !== "deleted");
    expect(made.map((i) => i.id)).toEqual([ids[0]]);
    expect(made[0].status).toBe("available");
    expect(await local.s3.contents("images")).toEqual({ objects: [], uploads: [] });
    await doImage({ ...process.env, ...local.env }, "rm", String(ids[0]));
  }, 120_000);
});
