// The boot's verdict: every stage settled from what the console showed and what the login found, the first failure
// named, and what a later stage implies about the earlier ones.
import { ImageError } from "../image/errors";
import type { DropletIdentity } from "./metadata";
import { GUEST, type Accelerator } from "./qemu";
import type { Remote } from "./ssh";
import { datasourceFrom, STAGES, type Stage, type StageReport } from "./stages";
import type { StageState } from "./console";
import type { BootReport } from "./boot";

export interface Outcome {
  file: string;
  accel: Accelerator;
  note?: string;
  seconds: number;
  states: Map<Stage, StageState>;
  fatal?: { stage: Stage; message: string };
  deadlineHit: boolean;
  /** Seconds the guest stayed silent after the firmware's jump, when that ended the boot. */
  stalled?: number;
  /** Seconds the boot loader stayed silent with no kernel following, when that ended the boot. */
  loaderStalled?: number;
  timeoutSeconds: number;
  exited?: { code: number | null; stderr: string };
  bannerSeen: boolean;
  loginRejected?: string;
  user: string;
  id: DropletIdentity;
  remote: Remote[];
  metadata: string[];
  tail: string[];
  loggedIn: boolean;
}

/** Settles every stage: what was seen, what a later stage implies, the first failure and what was never reached. */
export function finish(o: Outcome): BootReport {
  const st = (s: Stage) => o.states.get(s)!;
  const fail = (s: Stage, message: string) => {
    st(s).status = "fail";
    st(s).failure ??= message;
    st(s).messages.push(message);
  };
  const datasource = o.states
    .get("cloud-init")!
    .messages.map((m) => /cloud-init used (DataSource\w+)/.exec(m)?.[1] ?? datasourceFrom(m))
    .filter(Boolean)
    .pop();

  // What the console showed settles stages a failed login leaves open: the datasource cloud-init used, the address.
  if (datasource && /ConfigDrive|DigitalOcean/.test(datasource) && st("cloud-init").status === "seen") st("cloud-init").status = "pass";
  if (st("network").messages.some((m) => m.includes(`with ${GUEST.address}`)) && st("network").status === "seen") st("network").status = "pass";

  if (!o.loggedIn && !o.fatal) {
    // No login and nothing fatal on the console: name the stage the evidence points at.
    if (o.exited && o.exited.code !== 0) {
      throw new ImageError(`QEMU stopped before the guest finished booting: ${o.exited.stderr.trim().split("\n").pop() ?? `exit ${o.exited.code}`}`, {
        file: o.file,
        fix: "check that the file is a disk image QEMU can open (qemu-img info FILE)",
        code: "qemu-failed",
      });
    }
    const ci = st("cloud-init");
    if (o.loginRejected && o.bannerSeen) {
      if (datasource && !/ConfigDrive|DigitalOcean/.test(datasource)) {
        fail("cloud-init", `cloud-init used ${datasource}, not ConfigDrive or DigitalOcean, so the Droplet's SSH keys were not installed`);
      } else if (ci.status === "pending") {
        fail("cloud-init", "cloud-init printed nothing on the console and the Droplet's key was not installed");
      }
    } else if (o.loaderStalled) {
      fail(
        "boot-loader",
        `the boot loader started, then printed nothing for ${o.loaderStalled} s and no kernel followed: it waits at a menu with no timeout, or at a prompt`,
      );
    } else if (!o.bannerSeen) {
      const sshd = st("sshd");
      if (st("init").status === "pending" && st("kernel").status === "pending" && st("boot-loader").status === "pending") {
        const fw = st("firmware");
        const stage: Stage = fw.status === "pending" ? "firmware" : "boot-loader";
        fail(
          stage,
          o.stalled
            ? `SeaBIOS jumped to the disk's boot code, then nothing: no boot loader, kernel or SSH within ${o.stalled} s (the MBR's boot code does not load anything)`
            : o.deadlineHit
              ? `nothing after the ${stage === "firmware" ? "firmware" : "firmware's hand-over"} appeared on the serial console within ${o.timeoutSeconds} s`
              : "the guest stopped before the kernel started",
        );
      } else if (sshd.status === "seen" && sshd.messages.some((m) => /started sshd$/.test(m))) {
        fail(
          "network",
          `sshd started in the guest but nothing answered at ${GUEST.address}:22: the guest did not take the address DHCP offers on its first NIC`,
        );
      } else if (st("init").status === "pass" || o.deadlineHit) {
        const stage: Stage = st("init").status === "pass" ? "sshd" : (firstPending(o.states) ?? "sshd");
        fail(
          stage,
          stage === "sshd"
            ? 'the boot finished but sshd never answered on port 22 (no "Started ssh.service" on the console)'
            : `not reached within ${o.timeoutSeconds} s`,
        );
      }
    }
    if (o.loginRejected && !st("login").messages.length) fail("login", `login as ${o.user} failed: ${o.loginRejected}`);
  }

  // Stages are in boot order: a later stage that passed implies the earlier ones did.
  let failedStage: Stage | undefined;
  const stages: StageReport[] = [];
  let reachedLater = false;
  for (let i = STAGES.length - 1; i >= 0; i--) {
    const s = st(STAGES[i]);
    if (s.status === "pass") reachedLater = true;
    else if (reachedLater && s.status !== "fail") s.status = "pass";
  }
  for (const stage of STAGES) {
    const s = st(stage);
    let status: StageReport["status"];
    let message: string;
    if (failedStage && s.status !== "pass") {
      status = "unknown";
      message = `not reached: ${failedStage} failed`;
    } else if (s.status === "fail") {
      status = "fail";
      failedStage = stage;
      // What the stage itself reported (GRUB's error lines, say) explains the failure best, after the failure.
      const reported = s.messages.filter((m) => / reported: /.test(m) && m !== s.failure);
      message = [s.failure ?? s.messages.filter((m) => !/^systemd started/.test(m)).pop() ?? "failed", ...new Set(reported)].join("; ");
    } else if (s.status === "pass") {
      status = "pass";
      message = s.messages.join("; ") || "implied: a later stage was reached (nothing on the serial console for this one)";
    } else {
      status = o.loggedIn ? "pass" : "unknown";
      message = s.messages.join("; ") || (o.loggedIn ? "implied by the login" : "nothing seen");
    }
    stages.push({ stage, status, at: status === "unknown" ? undefined : s.at, message, evidence: s.evidence });
  }
  if (o.fatal && !failedStage) failedStage = o.fatal.stage;
  const reported = o.remote.find((r) => r.command === "hostname")?.stdout;
  return {
    file: o.file,
    verdict: o.loggedIn ? "works" : "fails",
    failedStage: o.loggedIn ? undefined : (failedStage ?? firstPending(o.states) ?? "login"),
    accelerator: o.accel,
    acceleratorNote: o.note,
    seconds: o.seconds,
    stages,
    user: o.user,
    hostname: { given: o.id.hostname, reported },
    datasource,
    remote: o.remote,
    metadataRequests: o.metadata,
    consoleTail: o.tail,
  };
}

/** cloud-init's /run/cloud-init/result.json: { v1: { datasource, errors } }. */
export function parseResult(text: string): { datasource: string; errors: string[] } | undefined {
  try {
    const v1 = (JSON.parse(text) as { v1?: { datasource?: unknown; errors?: unknown } }).v1;
    if (!v1 || typeof v1.datasource !== "string") return undefined;
    return { datasource: v1.datasource, errors: Array.isArray(v1.errors) ? v1.errors.map(String) : [] };
  } catch {
    return undefined;
  }
}

export function firstPending(states: Map<Stage, StageState>): Stage | undefined {
  return STAGES.find((s) => states.get(s)!.status === "pending");
}
