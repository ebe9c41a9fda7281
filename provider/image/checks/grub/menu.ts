// GRUB's menu rules (grub-core/normal/menu.c): which entry `default` and `fallback` name, and the timeout as GRUB reads it.
import type { Evidence } from "../types";
import type { Statement } from "./script";

export interface Entry {
  title: string;
  id: string;
  submenu: boolean;
  args: string[];
  body: Statement[];
  at: Evidence;
}

/** grub_strtoul with base 0 on a whole value: undefined when it holds no number. */
export function strtoul(s: string): number | undefined {
  const m = /^\s*(-?)(0x[0-9a-f]+|[0-9]+)/i.exec(s);
  if (!m) return undefined;
  return (m[1] ? -1 : 1) * Number(m[2]);
}

/** menuentry_eq: does the entry's title or id equal SPEC up to its first unescaped `>` (`>>` is a literal `>`)? */
export function menuentryEq(id: string, spec: string): boolean {
  let i = 0;
  let j = 0;
  for (;;) {
    if (spec[j] === ">" && spec[j + 1] !== ">" && i === id.length) return true;
    if (spec[j] === ">" && spec[j + 1] !== ">") return false;
    if (spec[j] === ">") j++;
    if (id[i] !== spec[j]) return false;
    if (i === id.length) return true;
    i++;
    j++;
  }
}

export function afterFirstArrow(def: string): string | undefined {
  for (let i = 0; i < def.length; i++) {
    if (def[i] === ">" && def[i + 1] === ">") {
      i++;
      continue;
    }
    if (def[i] === ">") return def.slice(i + 1) || undefined;
  }
  return undefined;
}

/** get_entry_number: a number, else a title or id; out of range or not found is the first entry (or -1 for fallback). */
export function entryNumber(menu: Entry[], value: string | undefined, strict = false): number {
  if (value === undefined) return strict ? -1 : 0;
  const m = /^\s*(0x[0-9a-f]+|[0-9]+)/i.exec(value);
  let n = -1;
  if (m) n = Number(m[1]);
  else n = menu.findIndex((e) => menuentryEq(e.title, value) || menuentryEq(e.id, value));
  if (n < 0 || n >= menu.length) return strict ? -1 : 0;
  return n;
}

/** A `menuentry` or `submenu` as GRUB registers it: its title (the first word that is no option) and its `--id`. */
export function menuEntry(args: { text: string }[], s: Extract<Statement, { kind: "menuentry" }>, at: Evidence): Entry {
  let title: string | undefined;
  let id: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i].text;
    if (["--class", "--users", "--hotkey", "--id", "--source"].includes(a)) {
      if (a === "--id") id = args[i + 1]?.text;
      i++;
    } else if (/^--(class|users|hotkey|id)=/.test(a)) {
      if (a.startsWith("--id=")) id = a.slice(5);
    } else if (a === "--unrestricted") continue;
    else title ??= a;
  }
  return {
    title: title ?? "",
    id: id ?? title ?? "",
    submenu: s.submenu,
    args: args.map((a) => a.text),
    body: s.body,
    at: { ...at, text: `${s.submenu ? "submenu" : "menuentry"} '${title ?? ""}'` },
  };
}
