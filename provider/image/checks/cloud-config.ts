// The guest's cloud-init configuration merged as cloud-init merges it: cloud.cfg, then cloud.cfg.d/*.cfg; later wins.
//
// From cloud-init 20.4–25.x (cloudinit/util.py: read_conf_with_confd, read_conf_d, mergemanydict; cloudinit/mergers,
// DEF_MERGE_TYPE "list()+dict()+str()"): the files of cloud.cfg.d ending in .cfg are sorted by name and merged with
// the later file winning, over cloud.cfg; mappings merge key by key, a list or scalar is replaced whole. A file that
// fails to parse is logged and counts as empty; a document that is not a mapping counts as empty. Not followed: a
// `conf_d` key naming another directory, `merge_how` in a file, and /run/cloud-init/cloud.cfg or the kernel command
// line (neither exists in an image).
import { GUEST_LIMITS } from "../guest-limits";
import type { Ext4 } from "../ext4";
import type { Evidence } from "./types";
import { ImageError } from "../errors";
import { readYaml, YamlBoundError, YamlSyntaxError } from "./yaml";

/** Bounds on what a guest's cloud config may make us read. */
export const CLOUD_CONFIG_LIMITS = { fileBytes: GUEST_LIMITS.cloudConfigFileBytes, files: GUEST_LIMITS.cloudConfigFiles };

/** A config file our reading did not follow to the end (past a bound): which top-level keys it sets, and why. */
export interface Unfollowed {
  path: string;
  keys: string[];
  why: string;
}

/** A config file read: its path and text (ds-identify greps the text itself). Its value is merged, not kept. */
export interface ConfigFile {
  path: string;
  text: string;
}

/** Where a top-level key was last set, in merge order: the file, the line (none when it came through `<<`), the value. */
export interface KeySetting {
  path: string;
  line?: number;
  text: string;
  value: unknown;
}

export interface CloudConfig {
  /** The files read, in merge order. */
  files: ConfigFile[];
  /** Files cloud-init would fail to parse or skips, with the reason. */
  problems: Evidence[];
  /** Files past a bound of ours, which cloud-init may well read: what they set is not known here. */
  unfollowed: Unfollowed[];
  /** The merged configuration: mappings merge key by key, anything else is replaced by the later file. */
  merged: Record<string, unknown>;
  /** Each top-level key's last setting, recorded as the files merge: 100,000 files keep no value or map each. */
  lastSet: Map<string, KeySetting>;
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

/**
 * Merges `over` into `target` in place, later winning, mappings key by key: linear in what `over` holds, however many
 * files came before. Mappings taken from a file are copied on the way in, so merging never changes a file's value.
 */
function deepMergeInto(target: Record<string, unknown>, over: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(over)) {
    // defineProperty, not assignment: a key named __proto__ is an ordinary key to PyYAML
    if (isRecord(v)) {
      if (!isRecord(target[k])) Object.defineProperty(target, k, { value: {}, enumerable: true, writable: true, configurable: true });
      deepMergeInto(target[k] as Record<string, unknown>, v);
    } else Object.defineProperty(target, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
}

export async function readCloudConfig(fs: Ext4): Promise<CloudConfig> {
  const cfg: CloudConfig = { files: [], problems: [], unfollowed: [], merged: {}, lastSet: new Map() };
  let paths: string[];
  try {
    paths = await configPaths(fs);
  } catch (err) {
    if (err instanceof ImageError && err.code === "ext-directory-over-limit") {
      cfg.unfollowed.push({ path: "/etc/cloud/cloud.cfg.d", keys: ["*"], why: err.message });
      return cfg;
    }
    // os.path.isfile and os.path.isdir say no to a loop, and cloud-init reads no config there
    if (!(err instanceof ImageError) || err.code !== "ext-symlink-loop") throw err;
    cfg.problems.push({ path: "/etc/cloud", text: `${err.message}: cloud-init reads no config there` });
    return cfg;
  }
  if (paths.length > CLOUD_CONFIG_LIMITS.files) {
    cfg.unfollowed.push({
      path: "/etc/cloud/cloud.cfg.d",
      keys: ["*"],
      why: `it holds ${paths.length} .cfg files, more than the ${CLOUD_CONFIG_LIMITS.files} read here`,
    });
    return cfg;
  }
  for (const path of paths) {
    let buf: Buffer | null;
    try {
      buf = await fs.readFile(path, CLOUD_CONFIG_LIMITS.fileBytes + 1);
    } catch (err) {
      // read_conf_d keeps what os.path.isfile says is a file (a symlink loop is not), and read_conf logs an OSError
      // and goes on: either way the file counts as empty.
      if (!(err instanceof ImageError) || err.code !== "ext-symlink-loop") throw err;
      cfg.problems.push({ path, text: "a symlink loop: cloud-init skips it" });
      continue;
    }
    if (!buf) continue;
    if (buf.length > CLOUD_CONFIG_LIMITS.fileBytes) {
      cfg.unfollowed.push({ path, keys: ["*"], why: `it is larger than ${CLOUD_CONFIG_LIMITS.fileBytes} bytes` });
      continue;
    }
    const text = buf.toString("utf8");
    let doc;
    try {
      doc = readYaml(text, path);
    } catch (err) {
      if (err instanceof YamlBoundError) {
        cfg.unfollowed.push({ path, keys: err.keys, why: err.reason });
        continue;
      }
      // cloud-init logs the error and reads the file as empty.
      if (!(err instanceof YamlSyntaxError)) throw err;
      cfg.problems.push({ path, line: err.line, text: `YAML error: ${err.reason}` });
      continue;
    }
    cfg.files.push({ path, text });
    // cloud-init takes only a mapping from a config file; anything else counts as empty.
    if (isRecord(doc.value)) {
      deepMergeInto(cfg.merged, doc.value);
      let lines: string[] | undefined;
      for (const key of Object.keys(doc.value)) {
        const line = doc.keyLines.get(key);
        // A key that came in through a merge key (`<<`) has no line of its own: the file is the evidence.
        const shown = line !== undefined ? (lines ??= text.split("\n"))[line - 1].trim() : `${key}: ${JSON.stringify(doc.value[key])}`;
        cfg.lastSet.set(key, { path, line, text: shown, value: doc.value[key] });
      }
    }
  }
  return cfg;
}

/** The unfollowed files that may set top-level `key` (a file too large to read may set anything). */
export function unfollowedFor(cfg: CloudConfig, ...keys: string[]): Unfollowed[] {
  return cfg.unfollowed.filter((u) => u.keys.includes("*") || keys.some((k) => u.keys.includes(k)));
}

/** The last file (in merge order) that sets top-level `key`, with the line it is set on and the value it sets. */
export function whereSet(cfg: CloudConfig, key: string): (Evidence & { value: unknown }) | undefined {
  const s = cfg.lastSet.get(key);
  return s && { path: s.path, line: s.line, text: s.text, value: s.value };
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
