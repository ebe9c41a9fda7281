// GRUB's `test` / `[` command, as grub-core/commands/test.c evaluates it (GRUB 2.06/2.12), over values that may be unknown.
//
// Operators: `-e -f -d -s` (a file exists, is a regular file, a directory, is not empty), `-z -n`, `= == !=`, `< <= > >=`
// (strings), `-eq -ne -lt -le -gt -ge` (numbers), `!`, `-a`, `-o`, `(` `)`; a lone word is true when not empty.
// A file's answer comes from the caller, and may be unknown (a filesystem our reading cannot open).

/** true, false, or unknown: a value or a file our reading cannot know. */
export type Truth = boolean | "unknown";

export interface TestArg {
  text: string;
  /** The word's value depends on something unknown. */
  unknown: boolean;
}

export type FileProbe = (op: "-e" | "-f" | "-d" | "-s", path: string) => Promise<Truth>;

const not = (t: Truth): Truth => (t === "unknown" ? t : !t);
const and = (a: Truth, b: Truth): Truth => (a === false || b === false ? false : a === "unknown" || b === "unknown" ? "unknown" : true);
const or = (a: Truth, b: Truth): Truth => (a === true || b === true ? true : a === "unknown" || b === "unknown" ? "unknown" : false);

const FILE_OPS = new Set(["-e", "-f", "-d", "-s"]);
const BINARY = new Set(["=", "==", "!=", "<", "<=", ">", ">=", "-eq", "-ne", "-lt", "-le", "-gt", "-ge", "-pgt", "-plt", "-nt", "-ot"]);

function compare(op: string, a: string, b: string): Truth {
  switch (op) {
    case "=":
    case "==":
      return a === b;
    case "!=":
      return a !== b;
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
  }
  // GRUB compares numbers with grub_strtol; text that is no number reads as 0.
  const n = (s: string) => Number.parseInt(s, 10) || 0;
  switch (op) {
    case "-eq":
      return n(a) === n(b);
    case "-ne":
      return n(a) !== n(b);
    case "-lt":
      return n(a) < n(b);
    case "-le":
      return n(a) <= n(b);
    case "-gt":
      return n(a) > n(b);
    case "-ge":
      return n(a) >= n(b);
  }
  // Version and file-time comparisons: not modeled.
  return "unknown";
}

const num = (s: string) => {
  // grub_strtosl with base 0: decimal, 0x hex or 0 octal; what is no number reads as 0.
  const m = /^\s*([+-]?)(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)/i.exec(s);
  return m ? (m[1] === "-" ? -1 : 1) * Number(m[2].startsWith("0") && !/^0x/i.test(m[2]) && m[2].length > 1 ? Number.parseInt(m[2], 8) : m[2]) : 0;
};

/**
 * Evaluates `test ARGS` (or `[ ARGS ]`, the caller drops the `]`) as test_parse does: at each position a
 * three-word test first, then a two-word one, then `(`, `)`, `!`, `-a`, `-o`, else a word that is true when not empty;
 * `-a` binds tighter than `-o` by keeping an AND and an OR of what came before.
 */
export async function evaluateTest(args: TestArg[], probe: FileProbe, depth = 0): Promise<Truth> {
  let at = 0;
  const run = async (): Promise<Truth> => {
    let anyOr: Truth = false;
    let all: Truth = true;
    let invert = false;
    const update = (v: Truth) => {
      all = and(all, invert ? not(v) : v);
      invert = false;
    };
    while (at < args.length) {
      const a = args[at];
      const op = args[at + 1];
      if (at + 2 < args.length && op && BINARY.has(op.text)) {
        const b = args[at + 2];
        at += 3;
        update(a.unknown || b.unknown || op.unknown ? "unknown" : compareWith(op.text, a.text, b.text));
        continue;
      }
      if (at + 1 < args.length && (FILE_OPS.has(a.text) || a.text === "-z" || a.text === "-n")) {
        at += 2;
        if (a.unknown || op.unknown) update("unknown");
        else if (a.text === "-z") update(op.text === "");
        else if (a.text === "-n") update(op.text !== "");
        else update(await probe(a.text as "-e" | "-f" | "-d" | "-s", op.text));
        continue;
      }
      at++;
      if (a.unknown) update("unknown");
      else if (a.text === ")") return or(anyOr, all);
      else if (a.text === "(") update(depth > 100 ? "unknown" : await run());
      else if (a.text === "!") invert = !invert;
      else if (a.text === "-a") continue;
      else if (a.text === "-o") {
        anyOr = or(anyOr, all);
        all = true;
      } else update(a.text !== "");
    }
    return or(anyOr, all);
  };
  return run();
}

function compareWith(op: string, a: string, b: string): Truth {
  if (op.startsWith("-") && ["-eq", "-ne", "-lt", "-le", "-gt", "-ge"].includes(op)) return compare(op, String(num(a)), String(num(b)));
  return compare(op, a, b);
}
