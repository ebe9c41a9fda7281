// `bootImage`: starts an image in QEMU as DigitalOcean starts a Droplet, watches each stage, and logs in over SSH.
import { spawn, type ChildProcess } from "node:child_process";
import { randomInt, randomUUID } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "ssh2";
import { readCloudConfig, defaultUser } from "../image/checks/cloud-config";
import { findGuest } from "../image/checks/guest";
import { ImageError } from "../image/errors";
import { openImage, type OpenedImage } from "../image/open";
import { readPartitionTable } from "../image/partitions";
import { configDrive, RELAY_SCRIPT, startMetadataService, type DropletIdentity, type MetadataService } from "./metadata";
import { chooseAccelerator, findQemu, GUEST, qemuArgs, serconPort, type Accelerator } from "./qemu";
import { exec, freshKey, login, readBanner, type KeyPair, type Remote } from "./ssh";
import { classify, cleanLine, datasourceFrom, STAGES, type Stage, type StageReport } from "./stages";

export interface BootOptions {
  /** Seconds before an unfinished boot counts as failed at the stage it is in. @default 600 under TCG, 240 under KVM */
  timeoutSeconds?: number;
  /** Also write the whole serial console to this file. */
  keepConsole?: string;
  /** @default "auto": KVM when a probe guest runs under it, else TCG */
  accel?: "auto" | Accelerator;
  /** @default 1024 */
  memoryMiB?: number;
  /** @default 1 */
  cpus?: number;
  /** Directory for the config drive, sockets and QEMU's snapshot overlay. @default TMPDIR */
  scratchDir?: string;
  /** The hostname the config drive and metadata give the guest. @default do-image-boot-NNNN */
  hostname?: string;
  /** Progress lines, one per stage event, while the boot runs. */
  onProgress?: (message: string) => void;
}

export type BootVerdict = "works" | "fails";

export interface BootReport {
  file: string;
  verdict: BootVerdict;
  /** The first stage that failed, when the verdict is "fails". */
  failedStage?: Stage;
  accelerator: Accelerator;
  acceleratorNote?: string;
  seconds: number;
  stages: StageReport[];
  /** The user logged in as (cloud-init's default user, else root). */
  user: string;
  /** The hostname the config drive gave, and what the guest reports. */
  hostname: { given: string; reported?: string };
  /** The datasource cloud-init used, from its status or its final console message. */
  datasource?: string;
  /** Output of the commands run over SSH after the login. */
  remote: Remote[];
  /** Paths the guest fetched from the metadata service. */
  metadataRequests: string[];
  /** The last console lines, for context. */
  consoleTail: string[];
}

const TAIL = 40;
/** How long sshd may take to answer after the guest says the boot is over (a login prompt, multi-user, cloud-init done). */
const SETTLE_SECONDS = { tcg: 120, kvm: 45 };
/** How long after the firmware's jump to the boot code a guest may stay silent (no boot loader, no kernel, no SSH). */
const STALL_SECONDS = { tcg: 180, kvm: 60 };

interface StageState {
  status: "pass" | "fail" | "seen" | "pending";
  /** The first failure seen for this stage: the one that explains it. */
  failure?: string;
  at?: number;
  messages: string[];
  evidence: string[];
}

/** The path QEMU (another process) can open to read the disk: the file itself, or our decompressed scratch file. */
export function qemuPath(image: OpenedImage): string {
  const host = image.host;
  if (image.compression === "none") return image.file;
  if (process.platform !== "linux") {
    throw new ImageError(`${image.file} is ${image.compression}-compressed, and booting a compressed image needs Linux's /proc`, {
      file: image.file,
      fix: `decompress it first (${image.compression === "gzip" ? "gunzip -k" : "bunzip2 -k"} ${image.file}) and boot the result`,
      code: "boot-compressed",
    });
  }
  return `/proc/${process.pid}/fd/${host.fd}`;
}

async function guestUser(image: OpenedImage): Promise<string> {
  try {
    const table = await readPartitionTable(image.disk, image.disk.name);
    const guest = await findGuest(image.disk, table);
    if (!guest.root) return "root";
    return defaultUser(await readCloudConfig(guest.root.ext));
  } catch (err) {
    if (err instanceof ImageError) return "root";
    throw err;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A guest left running after a boot that works: where its sshd answers, and how to stop it. */
export interface RunningGuest {
  report: BootReport;
  /** Host and port on this machine that reach the guest's port 22. */
  ssh: { host: string; port: number };
  stop(): Promise<void>;
}

/** Boots the image, reports, and stops the guest. */
export async function bootImage(path: string, options: BootOptions = {}): Promise<BootReport> {
  const r = await boot(path, options, false);
  return r.report;
}

/**
 * Boots the image as `bootImage` does and, when the boot works, leaves the guest running (the local DigitalOcean's
 * Droplets); `extraKeys` are installed as well as the boot's own key. A boot that fails is stopped at once.
 */
export async function startGuest(
  path: string,
  options: BootOptions & { extraKeys?: string[] } = {},
): Promise<RunningGuest | { report: BootReport; ssh?: undefined; stop?: undefined }> {
  return boot(path, options, true);
}

async function boot(
  path: string,
  options: BootOptions & { extraKeys?: string[] },
  keepRunning: boolean,
): Promise<RunningGuest | { report: BootReport; ssh?: undefined; stop?: undefined }> {
  const progress = options.onProgress ?? (() => undefined);
  const qemu = await findQemu();
  const image = await openImage(path, { scratchDir: options.scratchDir });
  const dir = await mkdtemp(join(options.scratchDir ?? tmpdir(), "do-image-boot-"));
  let child: ChildProcess | undefined;
  const servers: Server[] = [];
  let metadata: MetadataService | undefined;
  let consoleFile: WriteStream | undefined;
  let ssh: Client | undefined;
  let sshPortUsed = 0;
  let keep = false;
  const killChild = () => child?.kill("SIGKILL");
  process.once("exit", killChild);
  const cleanup = async () => {
    process.removeListener("exit", killChild);
    ssh?.end();
    if (child && child.exitCode === null && child.signalCode === null) {
      const c = child;
      await new Promise<void>((resolve) => {
        c.once("exit", () => resolve());
        c.kill("SIGKILL");
      });
    }
    for (const server of servers) server.close();
    await metadata?.close();
    await new Promise<void>((resolve) => (consoleFile ? consoleFile.end(() => resolve()) : resolve()));
    await rm(dir, { recursive: true, force: true });
    await image.close();
  };
  try {
    const diskPath = qemuPath(image);
    const user = await guestUser(image);
    const choice = await chooseAccelerator(qemu, dir, options.accel ?? "auto");
    const accel = choice.accel;
    progress(`accelerator: ${accel}${choice.note ? ` (${choice.note})` : ""}`);
    const timeout = (options.timeoutSeconds ?? (accel === "kvm" ? 240 : 600)) * 1000;

    const key: KeyPair = freshKey("do-image-boot");
    const mac = `52:54:00:${[0, 0, 0].map(() => randomInt(256).toString(16).padStart(2, "0")).join(":")}`;
    const id: DropletIdentity = {
      uuid: randomUUID(),
      dropletId: randomInt(100_000_000, 999_999_999),
      hostname: options.hostname ?? `do-image-boot-${randomInt(1000, 9999)}`,
      region: "nyc3",
      publicKeys: [key.publicKey, ...(options.extraKeys ?? [])],
      mac,
      userData: "#cloud-config\n{}\n",
    };
    metadata = await startMetadataService(id);
    const files = {
      configDrive: join(dir, "config-2.iso"),
      relay: join(dir, "metadata-relay.js"),
      serial: join(dir, "serial.sock"),
      firmware: join(dir, "firmware.sock"),
      sercon: join(dir, "sercon-port"),
    };
    await writeFile(files.configDrive, configDrive(id));
    await writeFile(files.relay, RELAY_SCRIPT);
    await writeFile(files.sercon, serconPort());
    if (options.keepConsole) consoleFile = createWriteStream(options.keepConsole);

    const started = Date.now();
    const elapsed = () => Math.round((Date.now() - started) / 100) / 10;
    const states = new Map<Stage, StageState>(STAGES.map((s) => [s, { status: "pending", messages: [], evidence: [] }]));
    const tail: string[] = [];
    let fatal: { stage: Stage; message: string } | undefined;
    let endOfBoot: number | undefined; // when the guest said the boot is over (login prompt or multi-user)
    let handedOver: number | undefined; // when SeaBIOS jumped to the disk's boot code
    let cloudInitDone = false;
    let wake: () => void = () => undefined;

    const note = (stage: Stage, status: "pass" | "fail" | "seen", message: string, line?: string) => {
      const st = states.get(stage)!;
      if (line !== undefined) {
        // The first lines a stage printed and its most recent ones: a failure comes last, after menus and banners.
        const text = line.replace(/\s{3,}/g, "  ");
        st.evidence.push(text.length > 240 ? `${text.slice(0, 239)}…` : text);
        if (st.evidence.length > 12) st.evidence.splice(4, 1);
      }
      if (!st.messages.includes(message)) {
        st.messages.push(message);
        progress(`${elapsed().toFixed(1).padStart(6)} s  ${stage}: ${message}`);
      }
      if (status === "fail") st.failure ??= message;
      if (status === "fail" || (status === "pass" && st.status !== "fail") || (status === "seen" && st.status === "pending")) {
        st.status = status;
        st.at ??= elapsed();
      }
    };

    const onLine = (raw: string) => {
      const line = cleanLine(raw);
      if (!line.trim()) return;
      tail.push(line);
      if (tail.length > TAIL) tail.shift();
      const s = classify(line);
      if (!s) return;
      note(s.stage, s.status, s.message, line);
      if (s.fatal) fatal ??= { stage: s.stage, message: s.message };
      if (s.stage === "cloud-init" && /finished with/.test(s.message)) cloudInitDone = true;
      if (s.stage === "init" && s.status === "pass") endOfBoot ??= Date.now();
      wake();
    };

    // The serial console and SeaBIOS's debug log arrive on Unix sockets QEMU connects to; lines are split here.
    const listen = async (path: string, onData: (d: Buffer) => void) => {
      const server = createNetServer((sock: Socket) => sock.on("data", onData));
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(path, () => resolve());
      });
    };
    // Lines are split on bytes and decoded as UTF-8 each, so GRUB's box drawing and systemd's bullets read right.
    let serialBuf = Buffer.alloc(0);
    let lastOutput = Date.now();
    await listen(files.serial, (d) => {
      consoleFile?.write(d);
      lastOutput = Date.now();
      serialBuf = Buffer.concat([serialBuf, d]);
      let nl: number;
      while ((nl = serialBuf.indexOf(0x0a)) >= 0) {
        onLine(serialBuf.subarray(0, nl).toString("utf8"));
        serialBuf = serialBuf.subarray(nl + 1);
      }
      // GRUB and getty leave prompts without a newline; a console that never sends one is cut at 64 KiB.
      const pending = serialBuf.toString("utf8");
      if (/(login: ?|grub> ?|grub rescue> ?)$/.test(pending) || serialBuf.length > 65536) {
        onLine(pending);
        serialBuf = Buffer.alloc(0);
      }
    });
    let firmwareBuf = "";
    await listen(files.firmware, (d) => {
      firmwareBuf += d.toString("latin1");
      const parts = firmwareBuf.split("\n");
      firmwareBuf = parts.pop()!;
      for (const p of parts) {
        const m = /^Booting from (0000:7c00|Hard Disk)/.exec(p.trim());
        if (m && handedOver === undefined) {
          handedOver = Date.now();
          note("firmware", "pass", "SeaBIOS jumped to the disk's boot code", `firmware log: ${p.trim()}`);
          wake();
        }
      }
    });

    const sshPort = await freePort();
    sshPortUsed = sshPort;
    const args = qemuArgs({
      accel,
      image: diskPath,
      format: image.disk.format,
      configDrive: files.configDrive,
      mac,
      sshPort,
      metadataCommand: `${process.execPath} ${files.relay} ${metadata.port}`,
      serialSocket: files.serial,
      firmwareSocket: files.firmware,
      serconFile: files.sercon,
      memoryMiB: options.memoryMiB ?? 1024,
      cpus: options.cpus ?? 1,
      serial: `do-image-${id.dropletId}`,
    });
    let exited: { code: number | null; stderr: string } | undefined;
    let stderr = "";
    child = spawn(qemu, args, {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, TMPDIR: dir },
    });
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => {
      exited = { code, stderr };
      wake();
    });
    progress(`qemu: ${image.disk.format} disk ${path}, config drive config-2, ssh on 127.0.0.1:${sshPort}, metadata service for ${GUEST.metadata}`);

    const remote: Remote[] = [];
    let loginRejected: string | undefined;
    let bannerSeen = false;
    let deadlineHit = false;
    let stalled = false;
    let loaderStalled = false;

    // Waits for the next console line or process exit, or `ms` at most, whichever comes first.
    const nextEvent = (ms: number) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });

    // The guest said its boot is over; past this, a missing banner or key will not come any more.
    const settled = () => endOfBoot !== undefined && Date.now() - endOfBoot > (cloudInitDone ? 30 : SETTLE_SECONDS[accel]) * 1000;
    const deadline = started + timeout;
    while (!fatal && !exited) {
      if (Date.now() > deadline) {
        deadlineHit = true;
        break;
      }
      // Boot code that goes nowhere (an empty MBR behind a valid signature) prints nothing and hangs: a Droplet shows a
      // black console. Judged only when nothing at all followed the jump, long after a serial-less image would answer SSH.
      if (handedOver !== undefined && !bannerSeen && ["boot-loader", "kernel", "init"].every((x) => states.get(x as Stage)!.status === "pending")) {
        if (Date.now() - handedOver > STALL_SECONDS[accel] * 1000) {
          stalled = true;
          break;
        }
      }
      // A boot loader that started, then went quiet with no kernel following: a menu waiting for a key (no timeout)
      // or a prompt. A countdown redraws every second, so only a loader that waits for ever stays silent this long.
      const loaderOnly = states.get("boot-loader")!.status !== "pending" && ["kernel", "init"].every((x) => states.get(x as Stage)!.status === "pending");
      if (!bannerSeen && loaderOnly && Date.now() - lastOutput > STALL_SECONDS[accel] * 1000) {
        loaderStalled = true;
        break;
      }
      // Try sshd whenever the kernel is up: the banner is the only proof it answers at the Droplet's address.
      const kernelUp = states.get("kernel")!.status !== "pending" || states.get("init")!.status !== "pending";
      if (kernelUp || Date.now() - started > 60_000) {
        const banner = await readBanner(sshPort, 3000);
        if (banner) {
          if (!bannerSeen) {
            note("network", "pass", `the guest answered at ${GUEST.address} (DHCP) through the forwarded port`);
            note("sshd", "pass", `sshd answered: ${banner}`, banner);
            bannerSeen = true;
          }
          const r = await login(sshPort, user, key, 30_000);
          if (r.ok) {
            ssh = r.client;
            note("login", "pass", `logged in as ${user} with the key from the config drive`);
            break;
          }
          loginRejected = r.reason;
          // Keys are installed by cloud-init before sshd starts, but give it until cloud-init reports it is done.
          if (r.authRejected && (cloudInitDone || settled())) {
            note("login", "fail", `the key from the config drive was refused for ${user}: ${r.reason}`);
            break;
          }
        } else if (settled()) {
          break; // the guest finished booting long ago and nothing answers on port 22
        }
      }
      await nextEvent(kernelUp ? 3000 : 10_000);
    }

    if (ssh) {
      const run = async (command: string, ms = 60_000) => {
        const r = await exec(ssh!, command, ms);
        remote.push(r);
        return r;
      };
      const host = await run("hostname");
      await run("cloud-init status --long --wait", 300_000);
      await run("systemctl is-system-running --wait", 120_000);
      const result = await run("cat /run/cloud-init/result.json");
      await run("cat /proc/cmdline");
      const v1 = parseResult(result.stdout);
      if (v1) {
        const ds = /^(DataSource\w+)/.exec(v1.datasource)?.[1] ?? v1.datasource;
        const good = /ConfigDrive|DigitalOcean/.test(ds);
        note(
          "cloud-init",
          good ? "pass" : "seen",
          `cloud-init used ${v1.datasource}`,
          `/run/cloud-init/result.json: ${JSON.stringify({ datasource: v1.datasource })}`,
        );
        for (const e of v1.errors.slice(0, 3)) note("cloud-init", "seen", `cloud-init reported an error: ${e.split("\n")[0]}`);
      }
      if (host.stdout === id.hostname) note("cloud-init", "pass", `hostname ${host.stdout} came from the config drive`);
    }

    const report = finish({
      file: path,
      accel,
      note: choice.note,
      seconds: elapsed(),
      states,
      fatal,
      deadlineHit,
      stalled: stalled ? STALL_SECONDS[accel] : undefined,
      loaderStalled: loaderStalled ? STALL_SECONDS[accel] : undefined,
      timeoutSeconds: timeout / 1000,
      exited,
      bannerSeen,
      loginRejected,
      user,
      id,
      remote,
      metadata: metadata.requests,
      tail,
      loggedIn: ssh !== undefined,
    });
    progress(`verdict: ${report.verdict}${report.failedStage ? ` (failed at ${report.failedStage})` : ""} after ${report.seconds} s`);
    if (keepRunning && report.verdict === "works") {
      keep = true;
      ssh?.end();
      ssh = undefined;
      return { report, ssh: { host: "127.0.0.1", port: sshPortUsed }, stop: cleanup };
    }
    return { report };
  } finally {
    if (!keep) await cleanup();
  }
}

interface Outcome {
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
function finish(o: Outcome): BootReport {
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
function parseResult(text: string): { datasource: string; errors: string[] } | undefined {
  try {
    const v1 = (JSON.parse(text) as { v1?: { datasource?: unknown; errors?: unknown } }).v1;
    if (!v1 || typeof v1.datasource !== "string") return undefined;
    return { datasource: v1.datasource, errors: Array.isArray(v1.errors) ? v1.errors.map(String) : [] };
  } catch {
    return undefined;
  }
}

function firstPending(states: Map<Stage, StageState>): Stage | undefined {
  return STAGES.find((s) => states.get(s)!.status === "pending");
}
