// validate --boot: when the reading asks for a boot, and how the boot's verdict and the reading combine (no QEMU here).
import { bootReason, judgeWithBoot, type BootReport } from "../../provider/boot";
import { CHECK_IDS, type CheckStatus, type ValidationReport } from "../../provider/image";

function report(statuses: Partial<Record<(typeof CHECK_IDS)[number], CheckStatus>>): ValidationReport {
  const checks = CHECK_IDS.map((id) => ({ id, status: statuses[id] ?? ("pass" as CheckStatus), message: id, evidence: [], fix: null }));
  return { file: "x.qcow2", ok: !checks.some((c) => c.status === "fail"), checks };
}

const boot = (verdict: "works" | "fails", failedStage?: BootReport["failedStage"]) => ({ verdict, failedStage }) as BootReport;

test.each([
  ["every check decides: no boot", {}, "auto", undefined],
  ["boot-loader warns", { "boot-loader": "warn" }, "auto", /cannot decide boot-loader/],
  ["a decisive check cannot judge", { sshd: "unknown" }, "auto", /cannot decide sshd/],
  ["an import rule warns (size): no boot", { size: "warn" }, "auto", undefined],
  ["never", { "boot-loader": "warn" }, "never", undefined],
  ["always", {}, "always", /always/],
  ["an unreadable file is never booted", { format: "fail", "boot-loader": "warn" }, "always", undefined],
] as const)("%s", (_name, statuses, when, want) => {
  const why = bootReason(report(statuses), when);
  if (want === undefined) expect(why).toBeUndefined();
  else expect(why).toMatch(want);
});

test("a boot that works decides the checks that predict it; DigitalOcean's import rules still stand", () => {
  const warned = judgeWithBoot(report({ "boot-loader": "warn" }), "w", boot("works"));
  expect({ ok: warned.ok, disagrees: warned.boot?.disagrees }).toEqual({ ok: true, disagrees: [] });
  const tooBig = judgeWithBoot(report({ size: "fail", "boot-loader": "warn" }), "w", boot("works"));
  expect(tooBig.ok).toBe(false);
  // The reading failed a check the boot shows to be wrong: the boot decides, and the disagreement is reported.
  const contradicted = judgeWithBoot(report({ fstab: "fail" }), "w", boot("works"));
  expect({ ok: contradicted.ok, disagrees: contradicted.boot?.disagrees }).toEqual({ ok: true, disagrees: ["fstab"] });
});

test("a boot that fails refuses the image whatever the reading said", () => {
  const r = judgeWithBoot(report({ "boot-loader": "warn" }), "w", boot("fails", "boot-loader"));
  expect(r.ok).toBe(false);
  expect(r.checks.find((c) => c.id === "boot-loader")?.status).toBe("warn");
});
