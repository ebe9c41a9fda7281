// The fuzz suite in CI: every committed regression file passes, then a fixed seed and a bounded count of mutated
// images (FUZZ_COUNT, default 1200) end in time, in memory, with exit 0, 1 or 2 and a typed error, and with inspect
// and validate agreeing on whether the file can be read. `make fuzz N=… SEED=…` runs longer and saves what fails.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { fixtures } from "../support/fixtures";
import { check, fuzz, seedImages } from "./fuzz";

const regressions = join(__dirname, "regressions");
const cli = join(__dirname, "..", "..", "dist", "test", "fuzz", "child.js");
if (!existsSync(cli)) throw new Error(`${cli} is missing: run 'make build' (make test does it first)`);

const files = readdirSync(regressions).filter((f) => f.endsWith(".json"));

test.each(files)("regression %s passes", async (name) => {
  const record = JSON.parse(readFileSync(join(regressions, name), "utf8")) as { file: string; kind: string };
  const file = join(mkdtempSync(join(tmpdir(), "fuzz-regression-")), record.file.replace(/\.gz$/, ""));
  writeFileSync(file, gunzipSync(readFileSync(join(regressions, record.file))));
  expect(await check(file)).toBeNull();
});

test("a fixed seed's mutated images all end well", async () => {
  const f = fixtures();
  if (!f.dir) {
    if (process.env.REQUIRE_TOOLS === "1") throw new Error(`fixtures unavailable: ${f.reason}`);
    console.warn(`fuzz: fixtures unavailable (${f.reason}); fuzzing the committed samples only`);
  }
  const count = Number(process.env.FUZZ_COUNT ?? 1200);
  const report = await fuzz({ seed: 20261202, count, seeds: seedImages(f.dir) });
  console.log(`fuzz: ${report.cases} cases in ${report.seconds} s, ${report.failures.length} failures`);
  expect(report.failures.map((x) => `case ${x.case} (${x.mutation.seed}, ${x.mutation.target}): ${x.kind}: ${x.detail}`)).toEqual([]);
  expect(report.cases).toBe(count);
}, 900_000);
