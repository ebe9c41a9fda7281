// GRUB's normal mode run over a guest's files: which kernel a Droplet's BIOS GRUB boots, or why it stops (GRUB 2.06/2.12).
//
// Follows grub-core/normal/main.c, menu.c and script/execute.c: the config is a script whose top-level commands run
// in order (`linux`, `initrd` and `boot` there boot at once, with no menu); `menuentry`/`submenu` add entries; when
// the script ends with entries, the default is chosen as get_entry_number does (`default` as an index, a title or an
// `--id`, `>` paths into submenus, `>>` for a literal `>`), GRUB waits `timeout` seconds (unset or negative: forever,
// so a Droplet never boots), runs the entry in a new scope and boots implicitly when a kernel is loaded and its last
// command succeeded, else tries `fallback`. With no entries, normal mode ends at the `grub>` prompt. `configfile` and
// `normal` run a file with a fresh menu and only exported variables; `source` runs it in place; `load_env` reads
// grubenv; `search` resolves against the image's partitions; `[`/`test` as test.c. A condition our reading cannot
// decide (a value or file it cannot know) is followed both ways, and each way gives its own outcome; the caller
// decides only when they agree. Anything else it cannot follow is an `unknown` outcome naming the file and line.
import type { Evidence } from "../types";
import {
  blscfg,
  HARMLESS,
  initrd,
  INITRD,
  linux,
  LINUX,
  loadEnv,
  OTHER_LOADERS,
  probe,
  include,
  search,
  UNKNOWN_STATUS,
  type Loaded,
  type Scope,
  type WalkState,
} from "./commands";
import { afterFirstArrow, entryNumber, menuEntry, strtoul, type Entry } from "./menu";
import { expandWords, literal, parseScript, type Expanded, type Statement, type Word } from "./script";
import { evaluateTest, type Truth } from "./test-command";
import { GRUB_LIMITS, REGENERATE, type GrubMachine, type GrubOutcome, type GrubStartAt } from "./types";

const FEATURES = [
  "feature_chainloader_bpb",
  "feature_ntldr",
  "feature_platform_search_hint",
  "feature_default_font_path",
  "feature_all_video_module",
  "feature_menuentry_id",
  "feature_menuentry_options",
  "feature_200_final",
  "feature_nativedisk_cmd",
  "feature_timeout_style",
];

class Finished {
  constructor(readonly outcome: GrubOutcome) {}
}
class Return {
  constructor(readonly status: Truth) {}
}

/** One walk through the config, along the choices given for conditions it cannot decide. */
export class Walk implements WalkState {
  scope: Scope;
  menu: Entry[] = [];
  loaded?: Loaded;
  private readonly functions = new Map<string, Statement[]>();
  readonly via: Evidence[] = [];
  file: { partition: number; path: string };
  private positional: string[] = [];
  private steps = 0;
  depth = 0;
  private choice = 0;

  constructor(
    readonly machine: GrubMachine,
    private readonly choices: number[],
    readonly reader: (partition: number, path: string) => Promise<Buffer | null | "unknown">,
    start: GrubStartAt,
  ) {
    this.file = { partition: start.partition, path: start.path };
    const dev = this.deviceName(start.partition);
    const dir = start.path.replace(/\/[^/]*$/, "");
    const vars = new Map<string, string>([
      ["root", start.root ?? dev],
      ["prefix", start.prefix ?? `(${dev})${dir}`],
      ["grub_platform", "pc"],
      ["grub_cpu", "i386"],
      ...FEATURES.map((f): [string, string] => [f, "y"]),
    ]);
    this.scope = { vars, unknown: new Set(), exported: new Set(["root", "prefix", "grub_platform", "grub_cpu", ...FEATURES]) };
  }

  deviceName(partition: number): string {
    return `hd0,${this.machine.scheme}${partition}`;
  }

  /** Which way a condition our reading cannot decide goes on this walk; new choices start with "true". */
  private decide(): boolean {
    if (this.choice >= this.choices.length) this.choices.push(0);
    return this.choices[this.choice++] === 0;
  }

  private here(line: number, text?: string): Evidence {
    return { partition: this.file.partition, path: this.file.path, line, ...(text ? { text } : {}) };
  }

  finish(kind: "stop" | "unknown", message: string, at?: Evidence, fix = REGENERATE): never {
    const via = at ? [...this.via, at] : [...this.via];
    throw new Finished(kind === "stop" ? { kind, message, fix, via } : { kind, message, via });
  }

  /** The errors GRUB printed since the entry being run started, for messages: the first is the cause. */
  errors: string[] = [];
  error(at: Evidence, what: string): void {
    this.errors.push(what);
    this.via.push({ ...at, text: `${at.text ?? ""} (GRUB: error: ${what})` });
  }

  async run(): Promise<GrubOutcome> {
    try {
      await this.normal(this.file, true);
      return { kind: "unknown", message: "our reading of GRUB ended without an outcome", via: this.via };
    } catch (err) {
      if (err instanceof Finished) return err.outcome;
      throw err;
    }
  }

  /** Reads a config file and runs it as normal mode does, then its menu; at top level, the prompt when nothing booted. */
  async normal(file: { partition: number; path: string }, top: boolean): Promise<void> {
    const body = await this.load(file);
    const saved = this.file;
    this.file = file;
    this.set("config_file", `(${this.deviceName(file.partition)})${file.path}`, true);
    this.set("config_directory", `(${this.deviceName(file.partition)})${file.path.replace(/\/[^/]*$/, "")}`, true);
    await this.block(body);
    if (this.menu.length > 0) await this.showMenu(this.menu, false);
    this.file = saved;
    if (top)
      this.finish(
        "stop",
        `GRUB ran ${file.path} to its end without booting${this.loaded ? ` (it loaded ${this.loaded.kernel.as} at top level, but no boot command followed)` : ""}: no menu entry was added, so it stops at its grub> prompt`,
        this.here(body.length ? body[body.length - 1].line : 1),
        this.loaded ? `end ${file.path} with the command boot after linux and initrd, or put them in a menuentry and set timeout=1` : REGENERATE,
      );
  }

  async load(file: { partition: number; path: string }): Promise<Statement[]> {
    const buf = await this.reader(file.partition, file.path);
    if (buf === "unknown") this.finish("unknown", `GRUB reads ${file.path} on partition ${file.partition}, a filesystem our reading cannot open`);
    if (buf === null) return [];
    return parseScript(buf.subarray(0, GRUB_LIMITS.fileBytes).toString("latin1"));
  }

  set(name: string, value: string, exported = false): void {
    this.scope.vars.set(name, value);
    this.scope.unknown.delete(name);
    if (exported) this.scope.exported.add(name);
  }

  /** Expands words as GRUB does (script.ts), with this walk's variables and positional parameters. */
  private expand(words: Word[]): Expanded[] {
    return expandWords(words, (name) => {
      if (/^[0-9]+$/.test(name)) return { value: this.positional[Number(name) - 1] ?? "", unknown: false };
      if (name === "#") return { value: String(this.positional.length), unknown: false };
      return { value: this.scope.vars.get(name) ?? "", unknown: this.scope.unknown.has(name) || name === "?" || name === "@" || name === "*" };
    });
  }

  async block(stmts: Statement[]): Promise<Truth> {
    let status: Truth = true;
    for (const s of stmts) status = await this.statement(s);
    return status;
  }

  private async statement(s: Statement): Promise<Truth> {
    if (++this.steps > GRUB_LIMITS.statements) this.finish("unknown", `GRUB's config runs more than ${GRUB_LIMITS.statements} statements`, this.here(s.line));
    switch (s.kind) {
      case "unparsed":
        return this.finish(
          "unknown",
          `${this.file.path} line ${s.line} is a construct our reading of GRUB's script does not follow (${s.why})`,
          this.here(s.line, s.text),
        );
      case "if": {
        for (const b of s.branches) {
          const c = await this.block(b.condition);
          const taken = c === "unknown" ? this.decide() : c;
          if (taken) return this.block(b.body);
        }
        return s.otherwise ? this.block(s.otherwise) : true;
      }
      case "for": {
        let status: Truth = true;
        const items = this.expand(s.items);
        if (items.some((i) => i.unknown)) this.finish("unknown", `a for loop over values our reading does not know`, this.here(s.line));
        for (const i of items) {
          this.set(s.variable, i.text);
          status = await this.block(s.body);
        }
        return status;
      }
      case "loop":
        return this.finish("unknown", `a ${s.until ? "until" : "while"} loop, which our reading of GRUB's script does not follow`, this.here(s.line));
      case "function":
        this.functions.set(s.name, s.body);
        return true;
      case "menuentry":
        return this.addEntry(s);
      case "command":
        return this.command(s);
    }
  }

  private addEntry(s: Extract<Statement, { kind: "menuentry" }>): Truth {
    this.menu.push(menuEntry(this.expand(s.words), s, this.here(s.line)));
    return true;
  }

  private async command(s: Extract<Statement, { kind: "command" }>): Promise<Truth> {
    const words = this.expand(s.words);
    if (words.length === 0) return true;
    const [name, ...rest] = words;
    const args = rest.map((w) => w.text);
    const at = this.here(s.line, literal(s.words[0]) !== undefined ? [name.text, ...args].join(" ") : undefined);
    if (name.unknown) this.finish("unknown", `a command whose name our reading does not know`, at);
    const cmd = name.text;
    // `name=value` on its own is an assignment.
    const assign = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(cmd);
    if (assign && !this.functions.has(cmd)) {
      this.assign(assign[1], assign[2], name.unknown);
      return true;
    }
    const fn = this.functions.get(cmd);
    if (fn) return this.call(fn, args, at);
    switch (cmd) {
      case "set": {
        for (const w of rest) {
          const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(w.text);
          if (m) this.assign(m[1], m[2], w.unknown);
        }
        return true;
      }
      case "unset":
        for (const a of args) {
          this.scope.vars.delete(a);
          this.scope.unknown.delete(a);
        }
        return true;
      case "export":
        for (const a of args) this.scope.exported.add(a);
        return true;
      case "[":
      case "test": {
        const list = cmd === "[" && args[args.length - 1] === "]" ? rest.slice(0, -1) : rest;
        return evaluateTest(list, (op, p) => probe(this, op, p));
      }
      case "true":
        return true;
      case "false":
        return false;
      case "return":
        throw new Return(args[0] === undefined || args[0] === "0");
      case "search":
      case "search.fs_uuid":
      case "search.fs_label":
      case "search.file":
        return search(this, cmd, rest, at);
      case "load_env":
        return loadEnv(this, rest, at);
      case "configfile":
      case "normal":
      case "source":
        return include(this, cmd, rest, at);
      case "boot":
        if (!this.loaded) return false;
        return this.boot(this.loaded, undefined, at);
      case "reboot":
      case "halt":
        return this.finish("stop", `GRUB runs ${cmd} before booting a kernel`, at, `remove ${cmd} from the config, or ${REGENERATE}`);
      case "blscfg":
        return blscfg(this, rest, at);
    }
    if (LINUX.has(cmd)) return linux(this, rest, at);
    if (INITRD.has(cmd)) return initrd(this, rest, at);
    if (OTHER_LOADERS.has(cmd)) this.finish("unknown", `GRUB runs ${cmd}, a loader our reading does not follow`, at);
    if (HARMLESS.has(cmd)) return true;
    if (UNKNOWN_STATUS.has(cmd)) return "unknown";
    // A command we do not know: what it sets (`--set=VAR`, `-s VAR`) becomes unknown, and so does its success.
    for (let i = 0; i < args.length; i++) {
      const m = /^--set(?:=(.*))?$/.exec(args[i]);
      if (m) this.scope.unknown.add(m[1] ?? "root");
      else if (args[i] === "-s" && args[i + 1]) this.scope.unknown.add(args[i + 1]);
    }
    return "unknown";
  }

  private assign(name: string, value: string, unknown: boolean): void {
    // A value that doubles itself (set a=$a$a) would grow without bound: past the cap our reading stops knowing it.
    const tooLong = value.length > GRUB_LIMITS.valueBytes;
    this.scope.vars.set(name, tooLong ? "" : value);
    if (unknown || tooLong) this.scope.unknown.add(name);
    else this.scope.unknown.delete(name);
  }

  private async call(body: Statement[], args: string[], at: Evidence): Promise<Truth> {
    if (++this.depth > GRUB_LIMITS.depth) this.finish("unknown", `functions or included files nested more than ${GRUB_LIMITS.depth} deep`, at);
    const saved = this.positional;
    this.positional = args;
    try {
      return await this.block(body);
    } catch (err) {
      if (err instanceof Return) return err.status;
      throw err;
    } finally {
      this.positional = saved;
      this.depth--;
    }
  }

  /** Ends the walk with GRUB booting what is loaded; `title` names the menu entry, `at` the boot command if one ran. */
  private boot(l: Loaded, title: string | undefined, at?: Evidence): never {
    throw new Finished({ kind: "boot", title, kernel: l.kernel, initrd: l.initrd, cmdline: l.cmdline, via: [...this.via, l.at, ...(at ? [at] : [])] });
  }

  /** GRUB's menu: the default entry after the timeout, then `fallback`; a stop when it would wait or every entry fails. */
  private async showMenu(menu: Entry[], autoBoot: boolean): Promise<void> {
    const where = this.here(menu[0].at.line ?? 1);
    if (!autoBoot) {
      if (this.scope.unknown.has("timeout")) this.finish("unknown", "GRUB's menu timeout comes from a value our reading does not know", where);
      const t = this.scope.vars.get("timeout");
      const seconds = t === undefined ? undefined : strtoul(t);
      if (seconds === undefined || seconds < 0)
        this.finish(
          "stop",
          `GRUB shows its menu and waits for a key forever (${t === undefined ? "timeout is not set" : `timeout=${t}`}); a Droplet's console has nobody to press one`,
          where,
          "set a timeout of 0 or more seconds: GRUB_TIMEOUT=1 in /etc/default/grub, then update-grub in the image (or set timeout=1 in the config)",
        );
    }
    if (this.scope.unknown.has("default")) this.finish("unknown", "GRUB's default entry comes from a value our reading does not know", where);
    const def = this.scope.vars.get("default");
    const index = entryNumber(menu, def);
    const tried = [index];
    this.via.push({ ...menu[index].at, text: `${menu[index].at.text} (the default entry${def !== undefined ? `: default=${def}` : ""})` });
    // An entry that boots ends the walk; one that returns did not boot.
    await this.execute(menu[index]);
    const cause = this.errors[0];
    for (const fb of (this.scope.vars.get("fallback") ?? "").split(/\s+/).filter(Boolean)) {
      const n = entryNumber(menu, fb, true);
      if (n < 0 || tried.includes(n)) continue;
      tried.push(n);
      this.via.push({ ...menu[n].at, text: `${menu[n].at.text} (a fallback entry)` });
      await this.execute(menu[n]);
    }
    this.finish(
      "stop",
      `GRUB's default entry "${menu[index].title}" does not boot${cause ? ` (${cause})` : ""}${tried.length > 1 ? ", nor do the fallback entries" : ""}, and GRUB returns to its menu with no timeout`,
      menu[index].at,
      `install the kernel the entry names, or ${REGENERATE}`,
    );
  }

  /** Runs a menu entry as grub_menu_execute_entry does: it boots (ending the walk), or returns having failed. */
  private async execute(entry: Entry): Promise<void> {
    const saved = this.scope;
    this.scope = { vars: new Map(saved.vars), unknown: new Set(saved.unknown), exported: new Set(saved.exported) };
    const def = saved.vars.get("default");
    if (def !== undefined) {
      const rest = afterFirstArrow(def);
      if (rest) this.set("default", rest);
    }
    const savedMenu = this.menu;
    if (entry.submenu) this.menu = [];
    this.loaded = undefined;
    this.errors = [];
    try {
      // grub_menu_execute_entry boots whatever is loaded once the entry's script ends: each failing command printed its
      // error and cleared grub_errno (grub_print_error), so an initrd that failed after the kernel loaded leaves a
      // kernel booted without it, as a boot of GRUB 2.06 shows (GRUB: "too deep nesting of symlinks", then the kernel
      // starts). Not followed yet: GRUB after 2.12 (commit 0c072808b, "normal/menu: Check return code of the script")
      // boots only when the script's last command succeeded; $prefix/i386-pc/modinfo.sh names the release.
      await this.call(entry.body, entry.args, entry.at);
      if (this.loaded) this.boot(this.loaded, entry.title);
      // A submenu chosen by the timeout runs with timeout 0 (auto_boot).
      if (entry.submenu && this.menu.length > 0) await this.showMenu(this.menu, true);
    } finally {
      this.scope = saved;
      this.menu = savedMenu;
    }
  }
}
