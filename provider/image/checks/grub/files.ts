// Files GRUB reads for itself: grubenv blocks (load_env) and the version order of Boot Loader Specification entries (blscfg).

/** A grubenv block's variables (grub-core/lib/envblk.c): `name=value` lines after the signature, `\` escapes. */
export function parseGrubenv(buf: Buffer): [string, string][] {
  const text = buf.toString("latin1");
  const sig = "# GRUB Environment Block\n";
  if (!text.startsWith(sig)) return [];
  const out: [string, string][] = [];
  for (const line of text.slice(sig.length).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) break;
    out.push([line.slice(0, eq), line.slice(eq + 1).replace(/\\(.)/g, "$1")]);
  }
  return out;
}

/** rpm's version comparison, as blscfg's vercmp: alphanumeric segments, numbers by value, `~` before all, numbers after letters. */
export function rpmVercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const skip = (s: string, k: number) => {
    while (k < s.length && !/[A-Za-z0-9~+]/.test(s[k])) k++;
    return k;
  };
  while (i < a.length || j < b.length) {
    i = skip(a, i);
    j = skip(b, j);
    if (a[i] === "~" || b[j] === "~") {
      if (a[i] !== "~") return 1;
      if (b[j] !== "~") return -1;
      i++;
      j++;
      continue;
    }
    if (i >= a.length || j >= b.length) break;
    const numeric = /[0-9]/.test(a[i]);
    const re = numeric ? /^[0-9]+/ : /^[A-Za-z]+/;
    const x = re.exec(a.slice(i))?.[0] ?? "";
    const y = re.exec(b.slice(j))?.[0] ?? "";
    if (y === "") return numeric ? 1 : -1;
    if (numeric) {
      const d =
        x.replace(/^0+/, "").length - y.replace(/^0+/, "").length ||
        (x.replace(/^0+/, "") < y.replace(/^0+/, "") ? -1 : x.replace(/^0+/, "") > y.replace(/^0+/, "") ? 1 : 0);
      if (d !== 0) return Math.sign(d);
    } else if (x !== y) return x < y ? -1 : 1;
    i += x.length;
    j += y.length;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}
