// The guest's cloud-init configuration merged as cloud-init merges it: cloud.cfg, then cloud.cfg.d/*.cfg; later wins.
import { isMap, LineCounter, parseDocument, type Document } from "yaml";
import type { Ext4 } from "../ext4";
import type { Evidence } from "./types";

export interface ConfigFile {
  path: string;
  text: string;
  doc: Document;
  lines: LineCounter;
}

export interface CloudConfig {
  /** The files read, in merge order. */
  files: ConfigFile[];
  /** Files cloud-init would fail to parse, with the parser's first message. */
  problems: Evidence[];
  /** The merged configuration: mappings merge key by key, anything else is replaced by the later file. */
  merged: Record<string, unknown>;
}

/** cloud.cfg, then cloud.cfg.d/*.cfg in byte order (Python's sorted glob). */
async function configPaths(fs: Ext4): Promise<string[]> {
  const files = (await fs.type("/etc/cloud/cloud.cfg")) === "file" ? ["/etc/cloud/cloud.cfg"] : [];
  const dir = (await fs.readdir("/etc/cloud/cloud.cfg.d")) ?? [];
  const names = dir.map((e) => e.name).filter((n) => n.endsWith(".cfg"));
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return [...files, ...names.map((n) => `/etc/cloud/cloud.cfg.d/${n}`)];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isRecord(out[k]) && isRecord(v) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  return out;
}

export async function readCloudConfig(fs: Ext4): Promise<CloudConfig> {
  const cfg: CloudConfig = { files: [], problems: [], merged: {} };
  for (const path of await configPaths(fs)) {
    const buf = await fs.readFile(path);
    if (!buf) continue;
    const text = buf.toString("utf8");
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines });
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      cfg.problems.push({ path, line: e.linePos?.[0].line, text: `YAML error: ${e.message.split("\n")[0]}` });
      continue;
    }
    cfg.files.push({ path, text, doc, lines });
    if (isMap(doc.contents)) {
      const value = doc.toJSON() as unknown;
      if (isRecord(value)) cfg.merged = deepMerge(cfg.merged, value);
    }
  }
  return cfg;
}

/** The last file (in merge order) that sets top-level `key`, with the line it is set on. */
export function whereSet(cfg: CloudConfig, key: string): (Evidence & { node: unknown }) | undefined {
  let found: (Evidence & { node: unknown }) | undefined;
  for (const f of cfg.files) {
    if (!isMap(f.doc.contents)) continue;
    const pair = f.doc.contents.items.find((p) => (p.key as { value?: unknown })?.value === key);
    if (!pair) continue;
    const line = f.lines.linePos((pair.key as { range: [number, number, number] }).range[0]).line;
    found = { path: f.path, line, text: f.text.split("\n")[line - 1].trim(), node: pair.value };
  }
  return found;
}

/** The user cloud-init installs the Droplet's SSH keys for: system_info.default_user.name, else root. */
export function defaultUser(cfg: CloudConfig): string {
  const sys = cfg.merged.system_info;
  const du = isRecord(sys) ? sys.default_user : undefined;
  const name = isRecord(du) ? du.name : undefined;
  const users = cfg.merged.users;
  const usesDefault = users === undefined || (Array.isArray(users) && users.some((u) => u === "default"));
  return typeof name === "string" && name && usesDefault ? name : "root";
}
