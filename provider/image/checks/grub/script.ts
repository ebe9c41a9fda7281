// GRUB's script language read into statements, written here from GRUB 2.06/2.12's grammar (grub-core/script/yylex.l, parser.y).
//
// What the lexer follows: blanks and newlines separate words, `;` and newlines end a command, `{` `}` are tokens
// anywhere, `#` starts a comment at a word's start; a word joins unquoted text (`\x` escapes x, `\` newline joins
// lines), 'single' quotes (literal), "double" quotes (where `\` escapes only `$ " \` and a newline, and `$var` is
// expanded) and `$name`, `${name}`, `$1`, `$#`, `$?`, `$@`, `$*`. Keywords (if then elif else fi for in do done while
// until function, and the commands menuentry and submenu with their `{ … }` body) count only where a command starts.
// `| & && || < > ;; [[ case select` are reserved words GRUB's parser refuses: they become an `unparsed` statement,
// and so does anything else this reading cannot follow, so that the interpreter can say where its reading stopped.

/** One piece of a word: text as written (after quoting), or a variable reference. */
export type Part = { text: string; quoted: boolean } | { variable: string; quoted: boolean };

export interface Word {
  parts: Part[];
}

export type Statement =
  | { kind: "command"; line: number; words: Word[] }
  | { kind: "if"; line: number; branches: { condition: Statement[]; body: Statement[] }[]; otherwise?: Statement[] }
  | { kind: "for"; line: number; variable: string; items: Word[]; body: Statement[] }
  | { kind: "loop"; line: number; until: boolean; condition: Statement[]; body: Statement[] }
  | { kind: "function"; line: number; name: string; body: Statement[] }
  | { kind: "menuentry"; line: number; submenu: boolean; words: Word[]; body: Statement[] }
  | { kind: "unparsed"; line: number; text: string; why: string };

type Token = { type: "word"; word: Word; raw: string; line: number } | { type: "op"; op: string; line: number };

/** How deep if/for/while/function/menuentry blocks may nest; GRUB's own configs nest three or four deep. */
const MAX_NESTING = 64;
const RESERVED_OPS = ["&&", "||", ";;", "|", "&", "<", ">"];
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const SPECIAL = /^(?:[0-9]+|[?#*@])/;

/** Splits a script into tokens; the source line of each token is kept for evidence. */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  while (i < src.length) {
    const c = src[i];
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c === "\\" && src[i + 1] === "\n") {
      i += 2;
      line++;
      continue;
    }
    if (c === "#") {
      while (i < src.length && src[i] !== "\n") i++;
      continue;
    }
    if (c === "\n" || c === ";" || c === "{" || c === "}") {
      if (c === ";" && src[i + 1] === ";") {
        out.push({ type: "op", op: ";;", line });
        i += 2;
        continue;
      }
      out.push({ type: "op", op: c === "\n" ? "newline" : c, line });
      if (c === "\n") line++;
      i++;
      continue;
    }
    const op = RESERVED_OPS.find((o) => src.startsWith(o, i));
    if (op) {
      out.push({ type: "op", op, line });
      i += op.length;
      continue;
    }
    // A word: runs until an unquoted blank, newline or special character.
    const start = i;
    const startLine = line;
    const parts: Part[] = [];
    const text = (t: string, quoted: boolean) => {
      const last = parts[parts.length - 1];
      if (last && "text" in last && last.quoted === quoted) last.text += t;
      else parts.push({ text: t, quoted });
    };
    const variable = (quoted: boolean): boolean => {
      // At a `$`: ${name}, $name, $1, $?, …; a `$` followed by nothing of these is text.
      const rest = src.slice(i + 1, i + 200);
      const braced = /^\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+|[?#*@])\}/.exec(rest);
      const bare = braced ? null : (NAME.exec(rest) ?? SPECIAL.exec(rest));
      const m = braced ?? bare;
      if (!m) return false;
      parts.push({ variable: braced ? braced[1] : m[0], quoted });
      i += 1 + m[0].length;
      return true;
    };
    while (i < src.length) {
      const d = src[i];
      if (" \t\r\n;{}|&<>".includes(d)) break;
      if (d === "\\") {
        if (src[i + 1] === "\n") {
          i += 2;
          line++;
        } else if (i + 1 < src.length) {
          text(src[i + 1], true);
          i += 2;
        } else i++;
      } else if (d === "'") {
        const end = src.indexOf("'", i + 1);
        const stop = end < 0 ? src.length : end;
        text(src.slice(i + 1, stop), true);
        line += (src.slice(i + 1, stop).match(/\n/g) ?? []).length;
        i = stop + 1;
      } else if (d === '"' || (d === "$" && src[i + 1] === '"')) {
        i += d === "$" ? 2 : 1;
        while (i < src.length && src[i] !== '"') {
          const e = src[i];
          if (e === "\\" && '$"\\\n'.includes(src[i + 1] ?? "")) {
            if (src[i + 1] === "\n") line++;
            else text(src[i + 1], true);
            i += 2;
          } else if (e === "$" && variable(true)) {
            continue;
          } else {
            if (e === "\n") line++;
            text(e, true);
            i++;
          }
        }
        i++;
        if (parts.length === 0) text("", true);
      } else if (d === "$" && variable(false)) {
        continue;
      } else {
        text(d, false);
        i++;
      }
    }
    out.push({ type: "word", word: { parts }, raw: src.slice(start, i), line: startLine });
  }
  return out;
}

/** The word's text when it is plain (no variables), else undefined. */
export function literal(w: Word): string | undefined {
  let s = "";
  for (const p of w.parts) {
    if (!("text" in p)) return undefined;
    s += p.text;
  }
  return s;
}

const bare = (t: Token | undefined): string | undefined =>
  t?.type === "word" && t.word.parts.length === 1 && "text" in t.word.parts[0] && !t.word.parts[0].quoted ? t.word.parts[0].text : undefined;

class ParseError extends Error {
  constructor(
    readonly line: number,
    readonly why: string,
  ) {
    super(why);
  }
}

class Parser {
  private at = 0;
  private depth = 0;
  constructor(
    private readonly toks: Token[],
    private readonly lines: string[],
  ) {}

  private peek(): Token | undefined {
    return this.toks[this.at];
  }
  private isOp(op: string): boolean {
    const t = this.peek();
    return t?.type === "op" && t.op === op;
  }
  private skipSeparators(): void {
    while (this.isOp("newline") || this.isOp(";")) this.at++;
  }
  private expectKeyword(k: string): void {
    this.skipSeparators();
    if (bare(this.peek()) !== k) throw new ParseError(this.peek()?.line ?? this.lastLine(), `expected "${k}"`);
    this.at++;
  }
  private lastLine(): number {
    return this.toks[this.toks.length - 1]?.line ?? 1;
  }

  /** Statements until one of the keywords (at a command's start) or a `}`, or the end. */
  statements(stops: string[]): Statement[] {
    // A guest's config is untrusted: nesting is bounded before it can exhaust the stack.
    if (++this.depth > MAX_NESTING) throw new ParseError(this.peek()?.line ?? this.lastLine(), `blocks nested more than ${MAX_NESTING} deep`);
    try {
      return this.statementsAt(stops);
    } finally {
      this.depth--;
    }
  }

  private statementsAt(stops: string[]): Statement[] {
    const out: Statement[] = [];
    for (;;) {
      this.skipSeparators();
      const t = this.peek();
      if (!t) return out;
      if (t.type === "op" && t.op === "}") return out;
      const k = bare(t);
      if (k !== undefined && stops.includes(k)) return out;
      out.push(this.statement());
    }
  }

  private statement(): Statement {
    const t = this.peek()!;
    if (t.type === "op") throw new ParseError(t.line, `"${t.op}" where a command should start`);
    const k = bare(t);
    const line = t.line;
    if (k === "if") {
      this.at++;
      const branches: { condition: Statement[]; body: Statement[] }[] = [];
      let otherwise: Statement[] | undefined;
      let condition = this.statements(["then"]);
      for (;;) {
        this.expectKeyword("then");
        const body = this.statements(["elif", "else", "fi"]);
        branches.push({ condition, body });
        this.skipSeparators();
        const next = bare(this.peek());
        this.at++;
        if (next === "elif") condition = this.statements(["then"]);
        else if (next === "else") {
          otherwise = this.statements(["fi"]);
          this.expectKeyword("fi");
          break;
        } else if (next === "fi") break;
        else throw new ParseError(this.peek()?.line ?? this.lastLine(), 'expected "fi"');
      }
      return { kind: "if", line, branches, otherwise };
    }
    if (k === "for") {
      this.at++;
      const v = bare(this.peek());
      if (!v || !NAME.test(v)) throw new ParseError(line, "for without a variable name");
      this.at++;
      if (bare(this.peek()) !== "in") throw new ParseError(line, 'expected "in"');
      this.at++;
      const items: Word[] = [];
      for (let w = this.peek(); w?.type === "word"; w = this.peek()) {
        items.push(w.word);
        this.at++;
      }
      this.expectKeyword("do");
      const body = this.statements(["done"]);
      this.expectKeyword("done");
      return { kind: "for", line, variable: v, items, body };
    }
    if (k === "while" || k === "until") {
      this.at++;
      const condition = this.statements(["do"]);
      this.expectKeyword("do");
      const body = this.statements(["done"]);
      this.expectKeyword("done");
      return { kind: "loop", line, until: k === "until", condition, body };
    }
    if (k === "function") {
      this.at++;
      const name = bare(this.peek());
      if (!name) throw new ParseError(line, "function without a name");
      this.at++;
      return { kind: "function", line, name, body: this.block(line) };
    }
    const words: Word[] = [];
    for (let w = this.peek(); w?.type === "word"; w = this.peek()) {
      words.push(w.word);
      this.at++;
    }
    if (k === "menuentry" || k === "submenu") return { kind: "menuentry", line, submenu: k === "submenu", words: words.slice(1), body: this.block(line) };
    const end = this.peek();
    if (end?.type === "op" && !["newline", ";", "}"].includes(end.op)) throw new ParseError(end.line, `"${end.op}", which GRUB's parser does not accept here`);
    if (end?.type === "op" && end.op === "{") throw new ParseError(end.line, '"{" after a command that takes no block');
    return { kind: "command", line, words };
  }

  private block(line: number): Statement[] {
    while (this.isOp("newline")) this.at++;
    if (!this.isOp("{")) throw new ParseError(this.peek()?.line ?? line, 'expected "{"');
    this.at++;
    const body = this.statements([]);
    if (!this.isOp("}")) throw new ParseError(this.peek() ? this.peek()!.line : line, this.peek() ? 'expected "}"' : 'a "{" that is never closed');
    this.at++;
    return body;
  }

  /** The whole script, statement by statement; from one that cannot be parsed on, one `unparsed` statement. */
  script(): Statement[] {
    const out: Statement[] = [];
    try {
      for (;;) {
        this.skipSeparators();
        const t = this.peek();
        if (!t) return out;
        if (t.type === "op" && t.op === "}") throw new ParseError(t.line, '"}" with nothing to close');
        const k = bare(t);
        if (k !== undefined && ["then", "elif", "else", "fi", "do", "done"].includes(k)) throw new ParseError(t.line, `"${k}" with nothing to close`);
        out.push(this.statement());
      }
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      out.push({ kind: "unparsed", line: err.line, text: (this.lines[err.line - 1] ?? "").trim(), why: err.why });
      return out;
    }
  }
}

/** Parses a GRUB script. A construct GRUB's parser refuses, or this one cannot follow, ends it as an `unparsed` statement. */
export function parseScript(src: string): Statement[] {
  return new Parser(tokenize(src), src.split("\n")).script();
}

/** A word after expansion, and whether it depends on something our reading does not know. */
export interface Expanded {
  text: string;
  unknown: boolean;
}

/**
 * Expands words as GRUB's script_execute does: variables substituted, unquoted values split at blanks into more
 * words, an empty unquoted word dropped. GRUB expands unquoted wildcards against the disk (with the regexp module);
 * our reading does not, so such a word is unknown.
 */
export function expandWords(words: Word[], lookup: (name: string) => { value: string; unknown: boolean }): Expanded[] {
  const out: Expanded[] = [];
  for (const w of words) {
    let cur: Expanded | undefined;
    const push = (t: string, unknown: boolean) => {
      cur ??= { text: "", unknown: false };
      cur.text += t;
      cur.unknown ||= unknown;
    };
    let anyQuoted = false;
    for (const p of w.parts) {
      if ("text" in p) {
        push(p.text, !p.quoted && /[*?]|\[.*\]/.test(p.text) && p.text !== "[");
        anyQuoted ||= p.quoted;
        continue;
      }
      const { value, unknown } = lookup(p.variable);
      if (p.quoted) {
        anyQuoted = true;
        push(value, unknown);
        continue;
      }
      value.split(/[ \t\n]+/).forEach((f, i) => {
        if (i > 0 && cur) {
          out.push(cur);
          cur = undefined;
        }
        if (f !== "" || i === 0) push(f, unknown);
      });
    }
    if (cur && (cur.text !== "" || anyQuoted || cur.unknown)) out.push(cur);
  }
  return out;
}
