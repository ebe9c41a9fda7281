// CI's boots: a sample of the corpus chosen to cover each stage a boot can fail at and each way images are made,
// through `do-image boot` as a user runs it, each held against what `do-image validate` predicts for the same file;
// and `validate --boot` on an image whose boot loader our reading cannot follow. `make boot-matrix` boots them all.
import type { BootedValidation } from "../../provider/boot";
import { validateImage } from "../../provider/image";
import { bootWithCli, CHECK_FOR_STAGE, describeWithCorpus, listCorpus, pool, runCliJson, type CliBoot } from "../support/corpus";

// The slowest first (the silence rule takes 180 s), so that the others run one after the other beside it.
const CASES = [
  { name: "no-bootloader", verdict: "fails", stage: "boot-loader" },
  { name: "bookworm-no-timeout", verdict: "fails", stage: "boot-loader" },
  { name: "ok-gpt", verdict: "works" },
  { name: "nocloud-seed", verdict: "fails", stage: "cloud-init" },
  // Made by grub-install and update-grub in the image's chroot, as users make images.
  { name: "trixie-netplan", verdict: "works" },
  { name: "bookworm-root-loop", verdict: "fails", stage: "kernel" },
  { name: "bookworm-loop-no-partmap", verdict: "fails", stage: "boot-loader" },
  { name: "bookworm-lvm-no-lvm2", verdict: "fails", stage: "kernel" },
] as const;
/** Held to its boot in `make boot-matrix` (works, 165 s under TCG), validated here without booting, for CI's time. */
const VALIDATED_ONLY = ["bookworm-lvm"];
const UNMODELED = "bookworm-glob-kernel";

describeWithCorpus("do-image boot: real boots of corpus images", [...CASES.map((c) => c.name), UNMODELED], (corpus) => {
  const boots = new Map<string, CliBoot>();
  let booted: { code: number | null; json: BootedValidation } | undefined;

  beforeAll(async () => {
    // Two at a time: two cores, one TCG vCPU per guest.
    const done = await pool([...CASES, { name: UNMODELED }], 2, async (c) =>
      c.name === UNMODELED ? runCliJson<BootedValidation>(["validate", corpus.get(UNMODELED).path, "--boot", "--json"]) : bootWithCli(corpus.get(c.name).path),
    );
    CASES.forEach((c, i) => boots.set(c.name, done[i] as CliBoot));
    booted = done[CASES.length] as { code: number | null; json: BootedValidation };
  }, 30 * 60_000);

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

  test("GRUB's menu with timeout=-1 waits for a key: judged by the loader's silence, not at the timeout", () => {
    const { report } = boots.get("bookworm-no-timeout")!;
    expect(report.stages.find((s) => s.stage === "boot-loader")!.message).toMatch(/printed nothing for \d+ s and no kernel followed/);
    expect(report.seconds).toBeLessThan(300);
  });

  test("a core image without part_gpt cannot find its prefix: GRUB stops at its rescue prompt", () => {
    const { report } = boots.get("bookworm-loop-no-partmap")!;
    expect(report.stages.find((s) => s.stage === "boot-loader")!.message).toMatch(/rescue prompt/);
  });

  test("a root on LVM with no lvm2 in the initramfs: it gives up waiting for the volume, and validate names what is missing", async () => {
    const { report } = boots.get("bookworm-lvm-no-lvm2")!;
    const stage = report.stages.find((s) => s.stage === "kernel")!;
    expect(stage.message).toMatch(/could not find the root device/);
    expect(stage.evidence.join("\n")).toMatch(/\/dev\/mapper\/vg0-root does not exist/);
    const kernel = (await validateImage(corpus.get("bookworm-lvm-no-lvm2").path)).checks.find((c) => c.id === "kernel")!;
    expect(kernel).toMatchObject({
      status: "fail",
      message: expect.stringMatching(/root is logical volume vg0\/root .* initramfs has no lvm tool to activate it/),
    });
  });

  test("root=/dev/loop10 from update-grub without udev: the initramfs gives up waiting for the root", () => {
    const { report } = boots.get("bookworm-root-loop")!;
    expect(report.stages.find((s) => s.stage === "kernel")!.message).toMatch(/could not find the root device/);
  });

  test.each(CASES.map((c) => [c.name, c]))("%s boots as designed, and validate agrees with the boot", async (name, c) => {
    const { report } = boots.get(name)!;
    expect({ verdict: report.verdict, stage: report.failedStage }).toEqual({ verdict: c.verdict, stage: "stage" in c ? c.stage : undefined });
    const v = await validateImage(corpus.get(name).path);
    const failing = v.checks.filter((x) => x.status === "fail").map((x) => x.id);
    expect({ validateOk: v.ok, bootWorks: report.verdict === "works" }).toEqual({
      validateOk: report.verdict === "works",
      bootWorks: report.verdict === "works",
    });
    if (report.failedStage) expect(failing.some((id) => CHECK_FOR_STAGE[report.failedStage!].includes(id))).toBe(true);
  });

  test("a kernel found by a GRUB wildcard: validate warns and names the boot; validate --boot boots it and the boot decides", async () => {
    const plain = await validateImage(corpus.get(UNMODELED).path);
    const loader = plain.checks.find((x) => x.id === "boot-loader")!;
    expect(loader).toMatchObject({ status: "warn", fix: expect.stringMatching(/do-image validate --boot .*do-image boot/) });
    expect(loader.message).toMatch(/cannot follow it to the end/);
    const { code, json } = booted!;
    expect({ code, ok: json.ok, why: json.boot?.why, verdict: json.boot?.report.verdict }).toEqual({
      code: 0,
      ok: true,
      why: "the reading cannot decide boot-loader",
      verdict: "works",
    });
    expect(json.checks.find((x) => x.id === "boot-loader")!.status).toBe("warn");
  });
});

// Every image of boot-corpus.sh (cheap to build) and the sample of the wild corpus above; `make boot-matrix` holds
// every image of both to a real boot.
const AGREEMENT = [
  ...listCorpus("boot-corpus.sh"),
  ...CASES.map((c) => c.name).filter((n) => !listCorpus("boot-corpus.sh").includes(n)),
  UNMODELED,
  ...VALIDATED_ONLY,
];

describeWithCorpus("validate on corpus images agrees with how they boot", AGREEMENT, (corpus) => {
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
