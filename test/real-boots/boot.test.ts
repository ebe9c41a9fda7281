// CI's boots: an image that works, one that fails in cloud-init and one that fails before the kernel, through
// `do-image boot` as a user runs it, each held against what `do-image validate` predicts for the same file.
import { validateImage } from "../../provider/image";
import { bootWithCli, CHECK_FOR_STAGE, describeWithCorpus, pool, type CliBoot } from "../support/corpus";

// The slowest first (the silence rule takes 180 s), so that the other two run one after the other beside it.
const CASES = [
  { name: "no-bootloader", verdict: "fails", stage: "boot-loader" },
  { name: "ok-gpt", verdict: "works" },
  { name: "nocloud-seed", verdict: "fails", stage: "cloud-init" },
] as const;

describeWithCorpus("do-image boot: real boots of corpus images", [], (corpus) => {
  const boots = new Map<string, CliBoot>();

  beforeAll(async () => {
    // Two at a time: two cores, one TCG vCPU per guest.
    const done = await pool([...CASES], 2, (c) => bootWithCli(corpus.get(c.name).path));
    CASES.forEach((c, i) => boots.set(c.name, done[i]));
  }, 20 * 60_000);

  test("an image that works: the config drive's key logs in, and the hostname and datasource are the Droplet's", () => {
    const { code, report } = boots.get("ok-gpt")!;
    expect({ code, verdict: report.verdict, failedStage: report.failedStage }).toEqual({ code: 0, verdict: "works", failedStage: undefined });
    expect(report.stages.map((s) => `${s.stage}:${s.status}`)).toEqual(
      ["firmware", "boot-loader", "kernel", "init", "cloud-init", "network", "sshd", "login"].map((s) => `${s}:pass`),
    );
    expect(report.datasource).toBe("DataSourceConfigDrive");
    expect(report.hostname.reported).toBe(report.hostname.given);
    expect(report.user).toBe("debian");
    expect(report.remote.find((r) => r.command.startsWith("cloud-init status"))?.stdout).toMatch(/status: done/);
  });

  test("a NoCloud seed ahead of the config drive: cloud-init fails, with its final console line as evidence", () => {
    const { code, report } = boots.get("nocloud-seed")!;
    expect({ code, verdict: report.verdict, failedStage: report.failedStage }).toEqual({ code: 1, verdict: "fails", failedStage: "cloud-init" });
    expect(report.datasource).toBe("DataSourceNoCloud");
    const ci = report.stages.find((s) => s.stage === "cloud-init")!;
    expect(ci.message).toMatch(/used DataSourceNoCloud, not ConfigDrive or DigitalOcean/);
    expect(ci.evidence.join("\n")).toMatch(/finished at .* Datasource DataSourceNoCloud \[seed=\/var\/lib\/cloud\/seed\/nocloud\]/);
    // sshd itself answered: only the key was missing.
    expect(report.stages.find((s) => s.stage === "sshd")!.status).toBe("pass");
  });

  test("no boot code: the firmware jumps into an empty MBR and nothing follows; judged by silence, not at the timeout", () => {
    const { code, report } = boots.get("no-bootloader")!;
    expect({ code, verdict: report.verdict, failedStage: report.failedStage }).toEqual({ code: 1, verdict: "fails", failedStage: "boot-loader" });
    expect(report.stages.find((s) => s.stage === "boot-loader")!.message).toMatch(/jumped to the disk.s boot code, then nothing/);
    expect(report.stages.find((s) => s.stage === "kernel")!.status).toBe("unknown");
    expect(report.seconds).toBeLessThan(300); // the silence rule (180 s under TCG), well before the 600 s timeout
  });

  test.each(CASES.map((c) => [c.name]))("validate agrees with the boot of %s", async (name) => {
    const { report } = boots.get(name)!;
    const v = await validateImage(corpus.get(name).path);
    const failing = v.checks.filter((c) => c.status === "fail").map((c) => c.id);
    expect({ validateOk: v.ok, bootWorks: report.verdict === "works" }).toEqual({
      validateOk: report.verdict === "works",
      bootWorks: report.verdict === "works",
    });
    if (report.failedStage) expect(failing.some((id) => CHECK_FOR_STAGE[report.failedStage!].includes(id))).toBe(true);
  });
});

describeWithCorpus("validate on every corpus image agrees with how it boots", [], (corpus) => {
  // The expectations are what `make boot-matrix` shows booting each image; it fails when a boot disagrees with them.
  test.each(corpus.images.map((i) => [i.name, i]))("%s", async (_name, img) => {
    const v = await validateImage(img.path);
    const failing = v.checks.filter((c) => c.status === "fail").map((c) => c.id);
    expect({ ok: v.ok, failing: img.expect === "works" ? failing : failing.filter((id) => CHECK_FOR_STAGE[img.stage!].includes(id)).length > 0 }).toEqual({
      ok: img.expect === "works",
      failing: img.expect === "works" ? [] : true,
    });
  });
});
