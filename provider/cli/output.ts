// The CLI's output, written straight to file descriptors 1 and 2, and its colours, by hand: process.stdout and
// process.stderr are streams whose set-up (Node's stream modules, and a TTY or pipe handle) cost a short command about
// a tenth of its start, and picocolors creates process.stdout as it loads, to ask whether it is a terminal.
import { fstatSync, statSync, writeSync } from "node:fs";

type Fd = 1 | 2;
/** Descriptors written through their stream from now on: one that would block (EAGAIN), so later text keeps its order. */
const streamed = new Set<Fd>();
const closed = new Set<Fd>();

const stream = (fd: Fd) => (fd === 1 ? process.stdout : process.stderr);

function write(fd: Fd, text: string): void {
  if (closed.has(fd)) return;
  const data = Buffer.from(text);
  let at = 0;
  if (!streamed.has(fd)) {
    try {
      while (at < data.length) at += writeSync(fd, data, at);
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      // The reader went away (`do-image ls | head -1`): what is left has no one to read it.
      if (code === "EPIPE") {
        closed.add(fd);
        return;
      }
      if (code !== "EAGAIN") throw err;
      streamed.add(fd);
      // The stream reports a reader going away as an 'error' event, which unheard would end the process.
      stream(fd).on("error", (e: NodeJS.ErrnoException) => {
        if (e.code !== "EPIPE") throw e;
        closed.add(fd);
      });
    }
  }
  stream(fd).write(data.subarray(at));
}

/** Writes to standard output. */
export const writeOut = (text: string): void => write(1, text);
/** Writes to standard error. */
export const writeErr = (text: string): void => write(2, text);

let nullDevice: bigint | undefined;
/**
 * Whether `fd` is a terminal. Only a character device other than /dev/null can be one, which two stats tell; for those
 * the tty module (which loads Node's network and stream modules) gives the answer.
 */
export function isTerminal(fd: Fd): boolean {
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isCharacterDevice()) return false;
    nullDevice ??= statSync("/dev/null", { bigint: true }).rdev;
    if (st.rdev === nullDevice) return false;
  } catch {
    return false;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require("node:tty") as typeof import("node:tty")).isatty(fd);
}

/**
 * Colour as picocolors decided it: never with NO_COLOR; always with FORCE_COLOR, on Windows or in CI (whose logs show
 * it); else when standard output is a terminal whose TERM is not "dumb".
 */
function colourWanted(): boolean {
  const { env } = process;
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR || process.platform === "win32" || env.CI) return true;
  return env.TERM !== "dumb" && isTerminal(1);
}

type Paint = (text: string | number) => string;
/** A style; where an inner style closes with the same code (red inside green, bold inside dim), `resume` goes on. */
function style(on: boolean, open: string, close: string, resume = open): Paint {
  if (!on) return (text) => String(text);
  return (text) => `${open}${String(text).split(close).join(resume)}${close}`;
}

let palette: { bold: Paint; dim: Paint; red: Paint; green: Paint; yellow: Paint } | undefined;
/** The colours, decided on first use (so a command that prints nothing coloured never asks). */
function colours() {
  if (!palette) {
    const on = colourWanted();
    palette = {
      bold: style(on, "\x1b[1m", "\x1b[22m", "\x1b[22m\x1b[1m"),
      dim: style(on, "\x1b[2m", "\x1b[22m", "\x1b[22m\x1b[2m"),
      red: style(on, "\x1b[31m", "\x1b[39m"),
      green: style(on, "\x1b[32m", "\x1b[39m"),
      yellow: style(on, "\x1b[33m", "\x1b[39m"),
    };
  }
  return palette;
}

export const colour = {
  bold: (text: string | number) => colours().bold(text),
  dim: (text: string | number) => colours().dim(text),
  red: (text: string | number) => colours().red(text),
  green: (text: string | number) => colours().green(text),
  yellow: (text: string | number) => colours().yellow(text),
};
