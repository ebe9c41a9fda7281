// The command line's grammar as data (commands, their arguments and flags), read with node:util's parseArgs; the usage
// errors and the help text are written here. A parser library with help built in (commander, before) was about a
// fifth of the code V8 loaded for `do-image inspect` (its code cache went from 253 KB to 208 KB without it).
import { parseArgs } from "node:util";
import { UsageError } from "../errors";
import { isTerminal } from "./output";

export interface FlagSpec {
  /** The long name without dashes; "no-x" is a switch that sets `x` to false (true when absent). */
  name: string;
  /** One letter, for `-t`. */
  short?: string;
  /** The value's placeholder, as `<slug>`; a flag without one is a switch. */
  value?: string;
  /** The value a bare `--flag` stands for; any other value is given as `--flag=VALUE`. */
  bare?: string;
  description: string;
  /** The value when the flag is absent (shown in the help unless `hideDefault`). */
  default?: unknown;
  hideDefault?: boolean;
  choices?: readonly string[];
  /** Turns the text into the value, throwing an Error that says what is wrong; a repeated flag gets its previous value. */
  parse?: (text: string, previous: unknown) => unknown;
  required?: boolean;
  /** An environment variable that stands in for the flag when it is absent. */
  env?: string;
}

export interface ArgSpec {
  name: string;
  description: string;
  /** Takes every remaining positional argument (one or more). */
  variadic?: boolean;
  parse?: (text: string) => unknown;
  choices?: readonly string[];
}

export type Opts = Record<string, unknown>;

export interface CommandSpec {
  name: string;
  description: string;
  args?: ArgSpec[];
  flags?: FlagSpec[];
  commands?: CommandSpec[];
  /** The command's body: its arguments parsed, and its flags merged with the global ones, by camel-cased name. */
  run?: (args: unknown[], opts: Opts) => Promise<void>;
}

export type Parsed =
  { kind: "run"; command: CommandSpec; path: string[]; args: unknown[]; opts: Opts } | { kind: "help"; text: string; toStderr: boolean } | { kind: "version" };

const HELP: FlagSpec = { name: "help", short: "h", description: "show this help" };

const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const keyOf = (f: FlagSpec) => camel(f.name.startsWith("no-") ? f.name.slice(3) : f.name);
const label = (f: FlagSpec) => `--${f.name}${f.value ? (f.bare !== undefined ? `[=${f.value}]` : ` ${f.value}`) : ""}`;

function helpHint(path: string[]): string {
  return path.length ? `do-image help ${path.join(" ")} lists what it takes` : "do-image help lists the commands and global flags";
}

/** The closest of `known` to `word` within two edits, for "did you mean". */
function closest(word: string, known: string[]): string | undefined {
  const distance = (a: string, b: string) => {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const row = [i];
      for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row;
    }
    return prev[b.length];
  };
  const best = known.map((k) => ({ k, d: distance(word, k) })).sort((x, y) => x.d - y.d)[0];
  return best && best.d <= 2 ? best.k : undefined;
}

function usage(message: string, path: string[], field: string, suggestion?: string): UsageError {
  return new UsageError(suggestion ? `${message} (did you mean ${suggestion}?)` : message, { fix: helpHint(path), field });
}

/**
 * Reads `argv` (without node and the script) against the command tree `root`, whose own flags are global: they may
 * stand anywhere. Throws a UsageError naming the flag or argument at fault.
 */
export function parseCommandLine(root: CommandSpec, argv: string[]): Parsed {
  const globals = [...(root.flags ?? []), HELP];
  const spec = (flags: FlagSpec[]) =>
    Object.fromEntries(
      flags.map((f) => [
        f.name,
        { type: f.value && f.bare === undefined ? ("string" as const) : ("boolean" as const), multiple: true, ...(f.short ? { short: f.short } : {}) },
      ]),
    );
  // First pass, global flags only: the first words that are not flags or their values name the command.
  const first = parseArgs({ args: argv, options: spec(globals), strict: false, allowPositionals: true, tokens: true }).tokens;
  let command = root;
  const path: string[] = [];
  const commandWords = new Set<number>();
  for (const t of first) {
    if (t.kind === "option-terminator") break;
    // Before the command's name only global flags can stand: its own flags are not known yet.
    if (t.kind === "option" && command === root && !globals.some((f) => f.name === t.name)) {
      throw usage(
        `unknown option '${t.rawName}'`,
        path,
        t.rawName,
        closest(
          t.rawName,
          globals.map((f) => `--${f.name}`),
        ),
      );
    }
    if (t.kind !== "positional" || !command.commands) continue;
    if (command === root && t.value === "help") {
      return { kind: "help", text: helpFor(root, argv.slice(t.index + 1)), toStderr: false };
    }
    const next = command.commands.find((c) => c.name === t.value);
    if (!next) {
      const names = command.commands.map((c) => c.name);
      throw usage(`unknown command '${t.value}'`, path, t.value, closest(t.value, names));
    }
    command = next;
    path.push(next.name);
    commandWords.add(t.index);
  }
  const flags = [...(command === root ? [] : (command.flags ?? [])), ...globals];
  const tokens = parseArgs({
    args: argv.filter((_, i) => !commandWords.has(i)),
    options: spec(flags),
    strict: false,
    allowPositionals: true,
    tokens: true,
  }).tokens;
  if (tokens.some((t) => t.kind === "option" && t.name === "help")) return { kind: "help", text: helpText(root, path), toStderr: false };
  if (tokens.some((t) => t.kind === "option" && t.name === "version")) return { kind: "version" };
  const opts: Opts = {};
  const positionals: string[] = [];
  for (const t of tokens) {
    if (t.kind === "positional") positionals.push(t.value);
    if (t.kind !== "option") continue;
    const flag = flags.find((f) => f.name === t.name);
    if (!flag) {
      const names = flags.map((f) => `--${f.name}`);
      throw usage(`unknown option '${t.rawName}'`, path, t.rawName, closest(t.rawName, names));
    }
    if (flag.bare !== undefined) {
      opts[keyOf(flag)] = flagValue(flag, t.inlineValue && t.value !== undefined ? t.value : flag.bare, opts[keyOf(flag)], path);
      continue;
    }
    if (!flag.value) {
      if (t.inlineValue) throw usage(`option '${label(flag)}' takes no value, but was given '${t.value}'`, path, `--${flag.name}`);
      opts[keyOf(flag)] = !flag.name.startsWith("no-");
      continue;
    }
    // `--skip --json` would take "--json" as the list of checks: a value that looks like a flag must be written --skip=-x.
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith("-"))) {
      throw usage(`option '${label(flag)}' needs a value`, path, `--${flag.name}`);
    }
    opts[keyOf(flag)] = flagValue(flag, t.value, opts[keyOf(flag)], path);
  }
  // A command that only groups others (`regions`), or none at all: its help, as an error.
  if (!command.run) return { kind: "help", text: helpText(root, path), toStderr: true };
  for (const f of flags) {
    const key = keyOf(f);
    if (key in opts) continue;
    const fromEnv = f.env ? process.env[f.env] : undefined;
    if (fromEnv) opts[key] = flagValue(f, fromEnv, undefined, path);
    else if (f.required) throw usage(`required option '${label(f)}' not given`, path, `--${f.name}`);
    else if (f.default !== undefined) opts[key] = f.default;
    else if (f.name.startsWith("no-")) opts[key] = true;
  }
  return { kind: "run", command, path, args: positionalArgs(command, positionals, path), opts };
}

function flagValue(flag: FlagSpec, text: string, previous: unknown, path: string[]): unknown {
  if (flag.choices && !flag.choices.includes(text)) {
    throw usage(`option '${label(flag)}': '${text}' is not one of ${flag.choices.join(", ")}`, path, `--${flag.name}`);
  }
  if (!flag.parse) return text;
  try {
    return flag.parse(text, previous);
  } catch (err) {
    throw usage(`option '${label(flag)}': ${(err as Error).message}`, path, `--${flag.name}`);
  }
}

function positionalArgs(command: CommandSpec, positionals: string[], path: string[]): unknown[] {
  const specs = command.args ?? [];
  const out: unknown[] = [];
  specs.forEach((a, i) => {
    const texts = a.variadic ? positionals.slice(i) : positionals.slice(i, i + 1);
    if (texts.length === 0) throw usage(`missing required argument '${a.name}'`, path, `<${a.name}>`);
    const values = texts.map((text) => {
      if (a.choices && !a.choices.includes(text)) throw usage(`argument '${a.name}': '${text}' is not one of ${a.choices.join(", ")}`, path, `<${a.name}>`);
      if (!a.parse) return text;
      try {
        return a.parse(text);
      } catch (err) {
        throw usage(`argument '${a.name}': ${(err as Error).message}`, path, `<${a.name}>`);
      }
    });
    out.push(a.variadic ? values : values[0]);
  });
  const taken = specs.some((a) => a.variadic) ? positionals.length : specs.length;
  if (positionals.length > taken) {
    const extra = positionals.slice(taken).map((p) => `'${p}'`);
    throw usage(
      `too many arguments for '${path.join(" ")}': it takes ${specs.length === 0 ? "none" : specs.map((a) => `<${a.name}>`).join(" ")}, and ${extra.join(", ")} is left over`,
      path,
      extra[0],
    );
  }
  return out;
}

/** `do-image help [command…]`: the help of the command the words name. */
function helpFor(root: CommandSpec, words: string[]): string {
  let command = root;
  const path: string[] = [];
  for (const w of words) {
    if (w.startsWith("-")) continue;
    const next = command.commands?.find((c) => c.name === w);
    if (!next)
      throw usage(
        `unknown command '${[...path, w].join(" ")}'`,
        path,
        w,
        closest(
          w,
          (command.commands ?? []).map((c) => c.name),
        ),
      );
    command = next;
    path.push(w);
  }
  return helpText(root, path);
}

/** Wraps `text` to `width` columns, every line after the first indented by `indent`. */
function wrap(text: string, width: number, indent: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width - indent) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${" ".repeat(indent)}`);
}

function section(title: string, rows: [string, string][], width: number, left: number): string {
  if (rows.length === 0) return "";
  const body = rows.map(([l, r]) => `  ${l.padEnd(left - 2)}${wrap(r, width, left)}`).join("\n");
  return `\n${title}:\n${body}\n`;
}

function flagRow(f: FlagSpec): [string, string] {
  const extras = [
    f.choices ? `choices: ${f.choices.join(", ")}` : "",
    f.default !== undefined && !f.hideDefault ? `default: ${Array.isArray(f.default) ? f.default.join(",") : String(f.default)}` : "",
    f.env ? `env: ${f.env}` : "",
  ].filter(Boolean);
  return [`${f.short ? `-${f.short}, ` : ""}${label(f)}`, `${f.description}${extras.length ? ` (${extras.join("; ")})` : ""}`];
}

const argLabel = (a: ArgSpec) => `<${a.name}${a.variadic ? "..." : ""}>`;

/** The help of the command at `path`: usage, description, arguments, flags, subcommands. */
export function helpText(root: CommandSpec, path: string[]): string {
  let command = root;
  for (const p of path) command = command.commands!.find((c) => c.name === p)!;
  const width = Math.max(60, Math.min((isTerminal(1) && process.stdout.columns) || 80, 100));
  const usageLine = [
    "Usage: do-image",
    ...path,
    command.commands ? "<command>" : "",
    command.flags?.length ? "[options]" : "",
    ...(command.args ?? []).map(argLabel),
  ]
    .filter(Boolean)
    .join(" ");
  const commands = (command.commands ?? []).map((c): [string, string] => [[c.name, ...(c.args ?? []).map(argLabel)].join(" "), c.description]);
  if (command === root) commands.push(["help [command]", "show the help of a command"]);
  const flags = [...(command.flags ?? []), HELP].map(flagRow);
  const args = (command.args ?? []).map((a): [string, string] => [a.name, a.description + (a.choices ? ` (choices: ${a.choices.join(", ")})` : "")]);
  // One left column for every section, so that descriptions line up down the page.
  const left = Math.max(...[...args, ...flags, ...commands].map(([l]) => l.length)) + 4;
  return [
    `${usageLine}\n\n${wrap(command.description, width, 0)}\n`,
    section("Arguments", args, width, left),
    section(command === root ? "Global options (before or after the command)" : "Options", flags, width, left),
    section("Commands", commands, width, left),
  ].join("");
}
