// The guest's cloud-init configuration merged as cloud-init merges it: cloud.cfg, then cloud.cfg.d/*.cfg; later wins.
//
// From cloud-init 20.4–25.x (cloudinit/util.py: read_conf_with_confd, read_conf_d, mergemanydict; cloudinit/mergers,
// DEF_MERGE_TYPE "list()+dict()+str()"): the files of cloud.cfg.d ending in .cfg are sorted by name and merged with
// the later file winning, over cloud.cfg; mappings merge key by key, a list or scalar is replaced whole. A file that
// fails to parse is logged and counts as empty; a document that is not a mapping counts as empty. Not followed: a
// `conf_d` key naming another directory, `merge_how` in a file, and /run/cloud-init/cloud.cfg or the kernel command
// line (neither exists in an image).
import type { Ext4 } from "../ext4";
import type { Evidence } from "./types";
import { readYaml, YamlSyntaxError } from "./yaml";

export interface ConfigFile {
  path: string;
  text: string;
  /** The file's value, as PyYAML loads it. */
  value: unknown;
  /** The line each top-level key is set on. */
  keyLines: Map<string, number>;
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
    let doc;
    try {
      doc = readYaml(text, path);
    } catch (err) {
      // cloud-init logs the error and reads the file as empty.
      if (!(err instanceof YamlSyntaxError)) throw err;
      cfg.problems.push({ path, line: err.line, text: `YAML error: ${err.reason}` });
      continue;
    }
    cfg.files.push({ path, text, ...doc });
    // cloud-init takes only a mapping from a config file; anything else counts as empty.
    if (isRecord(doc.value)) cfg.merged = deepMerge(cfg.merged, doc.value);
  }
  return cfg;
}

/** The last file (in merge order) that sets top-level `key`, with the line it is set on and the value it sets. */
export function whereSet(cfg: CloudConfig, key: string): (Evidence & { value: unknown }) | undefined {
  let found: (Evidence & { value: unknown }) | undefined;
  for (const f of cfg.files) {
    if (!isRecord(f.value) || !Object.hasOwn(f.value, key)) continue;
    // A key that came in through a merge key (`<<`) has no line of its own: the file is the evidence.
    const line = f.keyLines.get(key);
    const text = line !== undefined ? f.text.split("\n")[line - 1].trim() : `${key}: ${JSON.stringify(f.value[key])}`;
    found = { path: f.path, line, text, value: f.value[key] };
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
