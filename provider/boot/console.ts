// The guest's console, read: the serial bytes split into lines (prompts without a newline included), SeaBIOS's log
// watched for the hand-over to the disk, and each line classified into the boot stage it shows (stages.ts) and kept
// as that stage's evidence: the first failure, the first lines and the latest ones.
import { classify, cleanLine, STAGES, type Stage } from "./stages";

export interface StageState {
  status: "pass" | "fail" | "seen" | "pending";
  /** The first failure seen for this stage: the one that explains it. */
  failure?: string;
  at?: number;
  messages: string[];
  evidence: string[];
}

/** Console lines kept for the report's tail. */
const TAIL = 40;
/** Evidence lines kept per stage: the first four, then the latest. */
const EVIDENCE = 12;
/** A console that never sends a newline is cut into lines this long. */
const MAX_LINE_BYTES = 65536;

/**
 * Splits the serial console's bytes into lines, each decoded as UTF-8 once whole (GRUB's box drawing and systemd's
 * bullets span chunks). GRUB and getty leave their prompts without a newline: a prompt is a line as it stands.
 */
export function serialLines(onLine: (line: string) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    let nl: number;
    while ((nl = buf.indexOf(0x0a)) >= 0) {
      onLine(buf.subarray(0, nl).toString("utf8"));
      buf = buf.subarray(nl + 1);
    }
    const pending = buf.toString("utf8");
    if (/(login: ?|grub> ?|grub rescue> ?)$/.test(pending) || buf.length > MAX_LINE_BYTES) {
      onLine(pending);
      buf = Buffer.alloc(0);
    }
  };
}

/** Watches SeaBIOS's debug log for its jump to the disk's boot code; calls `onHandover` once, with the log line. */
export function firmwareHandover(onHandover: (line: string) => void): (chunk: Buffer) => void {
  let buf = "";
  let seen = false;
  return (chunk) => {
    buf += chunk.toString("latin1");
    const parts = buf.split("\n");
    buf = parts.pop()!;
    for (const p of parts) {
      if (!seen && /^Booting from (0000:7c00|Hard Disk)/.test(p.trim())) {
        seen = true;
        onHandover(p.trim());
      }
    }
  };
}

/** Each stage's state as the console shows it, and what the probe loop waits on: a fatal line, the end of the boot. */
export class StageTracker {
  readonly states = new Map<Stage, StageState>(STAGES.map((s) => [s, { status: "pending", messages: [], evidence: [] }]));
  readonly tail: string[] = [];
  fatal?: { stage: Stage; message: string };
  /** When the guest said its boot is over (a login prompt, or multi-user), by `now`. */
  endOfBoot?: number;
  cloudInitDone = false;

  constructor(
    /** One progress line per new stage message. */
    private readonly progress: (line: string) => void,
    /** Seconds since the boot started, for the report. */
    private readonly elapsed: () => number,
    /** Called after every line that may end a wait. */
    private readonly wake: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  get(stage: Stage): StageState {
    return this.states.get(stage)!;
  }

  /** Records what a stage showed: a failure sticks (the first explains it), a pass does not undo a failure. */
  note(stage: Stage, status: "pass" | "fail" | "seen", message: string, line?: string): void {
    const st = this.get(stage);
    if (line !== undefined) {
      // The first lines a stage printed and its most recent ones: a failure comes last, after menus and banners.
      const text = line.replace(/\s{3,}/g, "  ");
      st.evidence.push(text.length > 240 ? `${text.slice(0, 239)}…` : text);
      if (st.evidence.length > EVIDENCE) st.evidence.splice(4, 1);
    }
    if (!st.messages.includes(message)) {
      st.messages.push(message);
      this.progress(`${this.elapsed().toFixed(1).padStart(6)} s  ${stage}: ${message}`);
    }
    if (status === "fail") st.failure ??= message;
    if (status === "fail" || (status === "pass" && st.status !== "fail") || (status === "seen" && st.status === "pending")) {
      st.status = status;
      st.at ??= this.elapsed();
    }
  }

  /** One console line: kept in the tail, classified, and noted against its stage. */
  line(raw: string): void {
    const line = cleanLine(raw);
    if (!line.trim()) return;
    this.tail.push(line);
    if (this.tail.length > TAIL) this.tail.shift();
    const s = classify(line);
    if (!s) return;
    this.note(s.stage, s.status, s.message, line);
    if (s.fatal) this.fatal ??= { stage: s.stage, message: s.message };
    if (s.stage === "cloud-init" && /finished with/.test(s.message)) this.cloudInitDone = true;
    if (s.stage === "init" && s.status === "pass") this.endOfBoot ??= this.now();
    this.wake();
  }
}
