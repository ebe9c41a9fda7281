// The guest fuzz suite in CI, next to the container fuzzer: the hostile guests of issue #26 rebuilt and run through
// the built CLI (right check, right exit, no other check moved, peak memory within 300 MiB), then a fixed seed's
// mutations of the files the checks read (GUEST_FUZZ_COUNT, default 200) over the sample guest and a bootable
// Debian 12, each ending in time and memory with exit 0, 1 or 2, no untyped error, and no verdict changed but those
// of the checks that own the changed file. `make fuzz` runs it longer over every bootable corpus image.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootCorpus } from "../support/corpus";
import { fixtures } from "../support/fixtures";
import { requireTools } from "../support/require";
import { Worker } from "./fuzz";
import { CASE_LIMITS, guestFuzz, guestSeeds, replayGuestCases, saveCase, type Seed } from "./guest";
import { ownersOf, type GuestMutation } from "./guest-mutate";
import { REPRODUCERS, reproduce, strays } from "./reproducers";

const missing =
  requireTools(["debugfs", "mkfs.ext4", "sgdisk", "qemu-img", "time", "mount"]) ??
  (process.getuid?.() !== 0 ? "needs root (loop mounts, the corpus build)" : undefined);
const NAME = "hostile guests";
/** The bound the issue sets for each reproducer, as GNU time measures a fresh process. */
const MAX_RSS_MIB = 300;

if (missing && process.env.REQUIRE_TOOLS !== "1") {
  console.warn(`skipped "${NAME}": ${missing}`);
  test.skip(NAME, () => undefined);
} else
  describe(NAME, () => {
    const work = mkdtempSync(join(tmpdir(), "guest-fuzz-"));
    const seeds: Record<string, Seed> = {};
    beforeAll(async () => {
      const f = fixtures();
      const corpus = bootCorpus(["ok-gpt"]);
      if (!f.dir || !corpus.dir) throw new Error(`seeds unavailable: ${f.reason ?? corpus.reason}`);
      const w = new Worker(1024);
      try {
        const [sample, bootable] = await guestSeeds({ fixtures: f.dir, corpus: [corpus.get("ok-gpt")] }, work, w);
        Object.assign(seeds, { sample, bootable });
      } finally {
        await w.close();
      }
    }, 20 * 60_000);
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    test.each(REPRODUCERS.map((r) => [r.name, r]))(
      "%s",
      (_n, r) => {
        const seed = seeds[r.seed];
        const dir = join(work, r.name.replace(/\W+/g, "-"));
        const m = reproduce(r.build(seed, dir), 60_000);
        rmSync(dir, { recursive: true, force: true });
        expect(m.stderr).not.toMatch(/a bug in do-image|\n\s+at /);
        const owner = m.checks.find((c) => c.id === r.owner.check);
        expect({ exit: m.exit, status: owner?.status }).toEqual({ exit: r.exit, status: r.owner.status });
        expect(owner!.message).toMatch(r.owner.message);
        expect(strays(r, seed, m.checks)).toEqual([]);
        expect(m.maxRssMiB).toBeLessThanOrEqual(MAX_RSS_MIB);
      },
      120_000,
    );

    test("the replay harness: a saved case replays on its seed, a verdict moved outside its owners is reported", async () => {
      const root = mkdtempSync(join(work, "replay-"));
      // An fstab whose root names a filesystem the image does not have: the fstab check's verdict moves.
      const m: GuestMutation = {
        guest: seeds.sample.name,
        target: "/etc/fstab",
        what: ["root on a missing UUID"],
        requests: ["rm /etc/fstab", "write $DIR/fstab /etc/fstab"],
        files: { fstab: Buffer.from("UUID=0badc0de-0000-4000-8000-000000000000 / ext4 defaults 0 1\n") },
        owners: ownersOf("/etc/fstab"),
      };
      saveCase(root, "owned", m);
      saveCase(root, "unowned", { ...m, owners: [] });
      saveCase(root, "elsewhere", { ...m, guest: "no-such-guest" });
      const w = new Worker(CASE_LIMITS.maxRssMiB);
      try {
        const r = await replayGuestCases(root, [seeds.sample], w);
        expect(r.cases).toBe(3);
        expect(r.problems).toEqual([expect.stringMatching(/^elsewhere: its seed guest no-such-guest/), expect.stringMatching(/^unowned .*: stray: fstab: /)]);
      } finally {
        await w.close();
      }
    }, 300_000);

    test("every case saved in test/fuzz/guest-regressions replays clean on its seed guest", async () => {
      const root = join(__dirname, "guest-regressions");
      const saved = existsSync(root) ? readdirSync(root).filter((n) => existsSync(join(root, n, "case.json"))) : [];
      const guests = [...new Set(saved.map((n) => (JSON.parse(readFileSync(join(root, n, "case.json"), "utf8")) as GuestMutation).guest))];
      const have = Object.values(seeds);
      const more = guests.filter((g) => !have.some((s) => s.name === g));
      const w = new Worker(CASE_LIMITS.maxRssMiB);
      try {
        // Cases from `make fuzz` on other corpus images get their seed built here (the corpus is cached).
        const corpus = more.length > 0 ? bootCorpus(more) : null;
        if (corpus && !corpus.dir) throw new Error(`seeds for saved cases unavailable: ${corpus.reason}`);
        const extra = corpus ? await guestSeeds({ fixtures: null, corpus: more.map((g) => corpus.get(g)) }, work, w) : [];
        const r = await replayGuestCases(root, [...have, ...extra], w);
        console.log(`guest regressions: ${r.cases} saved cases replayed`);
        expect(r.cases).toBe(saved.length);
        expect(r.problems).toEqual([]);
      } finally {
        await w.close();
      }
    }, 900_000);

    test("a fixed seed's mutations of the guest's files end well, and move only the checks that own the file", async () => {
      const count = Number(process.env.GUEST_FUZZ_COUNT ?? 200);
      const report = await guestFuzz({ seed: 20261204, count, seeds: [seeds.sample, seeds.bootable] });
      console.log(
        `guest fuzz: ${report.cases} cases in ${report.seconds} s, ${report.changed} moved a verdict of the file's owner, ${report.failures.length} failures`,
      );
      expect(
        report.failures.map((x) => `case ${x.case} (${x.mutation.guest}, ${x.mutation.target}: ${x.mutation.what.join(", ")}): ${x.kind}: ${x.detail}`),
      ).toEqual([]);
      expect(report.cases).toBe(count);
      // the mutations reach the checks: a fuzzer whose changes no check notices proves nothing
      expect(report.changed).toBeGreaterThanOrEqual(count / 10);
      expect(Object.keys(report.targets).length).toBeGreaterThanOrEqual(12);
    }, 900_000);
  });
