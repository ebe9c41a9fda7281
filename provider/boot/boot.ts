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
import type { Stage, StageReport } from "./stages";
import { firmwareHandover, serialLines, StageTracker } from "./console";
import { finish, parseResult } from "./verdict";

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

/** How long sshd may take to answer after the guest says the boot is over (a login prompt, multi-user, cloud-init done). */
const SETTLE_SECONDS = { tcg: 120, kvm: 45 };
/** How long after the firmware's jump to the boot code a guest may stay silent (no boot loader, no kernel, no SSH). */
const STALL_SECONDS = { tcg: 180, kvm: 60 };

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
    let wake: () => void = () => undefined;
    const tracker = new StageTracker(progress, elapsed, () => wake());
    const states = tracker.states;
    let handedOver: number | undefined; // when SeaBIOS jumped to the disk's boot code

    // The serial console and SeaBIOS's debug log arrive on Unix sockets QEMU connects to; lines are split in console.ts.
    const listen = async (path: string, onData: (d: Buffer) => void) => {
      const server = createNetServer((sock: Socket) => sock.on("data", onData));
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(path, () => resolve());
      });
    };
    let lastOutput = Date.now();
    const serial = serialLines((line) => tracker.line(line));
    await listen(files.serial, (d) => {
      consoleFile?.write(d);
      lastOutput = Date.now();
      serial(d);
    });
    await listen(
      files.firmware,
      firmwareHandover((line) => {
        handedOver = Date.now();
        tracker.note("firmware", "pass", "SeaBIOS jumped to the disk's boot code", `firmware log: ${line}`);
        wake();
      }),
    );

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
    const settled = () => tracker.endOfBoot !== undefined && Date.now() - tracker.endOfBoot > (tracker.cloudInitDone ? 30 : SETTLE_SECONDS[accel]) * 1000;
    const deadline = started + timeout;
    while (!tracker.fatal && !exited) {
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
            tracker.note("network", "pass", `the guest answered at ${GUEST.address} (DHCP) through the forwarded port`);
            tracker.note("sshd", "pass", `sshd answered: ${banner}`, banner);
            bannerSeen = true;
          }
          const r = await login(sshPort, user, key, 30_000);
          if (r.ok) {
            ssh = r.client;
            tracker.note("login", "pass", `logged in as ${user} with the key from the config drive`);
            break;
          }
          loginRejected = r.reason;
          // Keys are installed by cloud-init before sshd starts, but give it until cloud-init reports it is done.
          if (r.authRejected && (tracker.cloudInitDone || settled())) {
            tracker.note("login", "fail", `the key from the config drive was refused for ${user}: ${r.reason}`);
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
        tracker.note(
          "cloud-init",
          good ? "pass" : "seen",
          `cloud-init used ${v1.datasource}`,
          `/run/cloud-init/result.json: ${JSON.stringify({ datasource: v1.datasource })}`,
        );
        for (const e of v1.errors.slice(0, 3)) tracker.note("cloud-init", "seen", `cloud-init reported an error: ${e.split("\n")[0]}`);
      }
      if (host.stdout === id.hostname) tracker.note("cloud-init", "pass", `hostname ${host.stdout} came from the config drive`);
    }

    const report = finish({
      file: path,
      accel,
      note: choice.note,
      seconds: elapsed(),
      states,
      fatal: tracker.fatal,
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
      tail: tracker.tail,
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
