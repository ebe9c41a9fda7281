// Check `cloud-init-datasources`: the datasource_list cloud-init ends up with, merged as cloud-init merges its config.
import { isMap, isSeq, LineCounter, parseDocument } from "yaml";
import type { Ext4 } from "../ext4";
import type { AgentFound } from "./cloud-init";
import type { Guest } from "./guest";
import { result, type CheckResult, type Evidence } from "./types";

/** cloud-init's built-in default (cloudinit/settings.py): NoCloud first, the case DigitalOcean warns about. */
export const BUILTIN_DATASOURCES = [
  "NoCloud",
  "ConfigDrive",
  "LXD",
  "OpenNebula",
  "DigitalOcean",
  "Azure",
  "AltCloud",
  "OVF",
  "MAAS",
  "GCE",
  "OpenStack",
  "AliYun",
  "Vultr",
  "Ec2",
  "CloudSigma",
  "CloudStack",
  "SmartOS",
  "Bigstep",
  "Scaleway",
  "Hetzner",
  "IBMCloud",
  "Oracle",
  "Exoscale",
  "RbxCloud",
  "UpCloud",
  "VMware",
  "NWCS",
  "None",
];
const RECOMMENDED = "datasource_list: [ ConfigDrive, DigitalOcean, NoCloud, None ]";

export interface DatasourceSetting {
  list: string[];
  /** The file and line that set it; undefined for the built-in default. */
  source?: Evidence;
  /** Files cloud-init would fail to parse. */
  problems: Evidence[];
  /** The config files read, in merge order. */
  files: string[];
}

/** The config files in cloud-init's merge order: cloud.cfg, then cloud.cfg.d/*.cfg in lexical order; later files win. */
async function configFiles(fs: Ext4): Promise<string[]> {
  const files = (await fs.type("/etc/cloud/cloud.cfg")) === "file" ? ["/etc/cloud/cloud.cfg"] : [];
  const dir = (await fs.readdir("/etc/cloud/cloud.cfg.d")) ?? [];
  const names = dir.map((e) => e.name).filter((n) => n.endsWith(".cfg"));
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // byte order, as Python's sorted(glob) uses
  return [...files, ...names.map((n) => `/etc/cloud/cloud.cfg.d/${n}`)];
}

export async function effectiveDatasources(fs: Ext4): Promise<DatasourceSetting> {
  const files = await configFiles(fs);
  const setting: DatasourceSetting = { list: BUILTIN_DATASOURCES, problems: [], files };
  for (const path of files) {
    const text = await fs.readFile(path);
    if (!text) continue;
    const lc = new LineCounter();
    const doc = parseDocument(text.toString("utf8"), { lineCounter: lc });
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      setting.problems.push({ path, line: e.linePos?.[0].line, text: `YAML error: ${e.message.split("\n")[0]}` });
      continue;
    }
    if (!isMap(doc.contents)) continue;
    const pair = doc.contents.items.find((p) => (p.key as { value?: unknown })?.value === "datasource_list");
    if (!pair) continue;
    const line = lc.linePos((pair.key as { range: [number, number, number] }).range[0]).line;
    const lineText = text.toString("utf8").split("\n")[line - 1];
    if (!isSeq(pair.value)) {
      setting.problems.push({ path, line, text: `datasource_list is not a list: ${lineText.trim()}` });
      continue;
    }
    setting.list = (pair.value.toJSON() as unknown[]).map(String);
    setting.source = { path, line, text: lineText.trim() };
  }
  return setting;
}

/** A file name that sorts after every existing one, so that it is the last word on datasource_list. */
export function overrideFileName(files: string[]): string {
  let name = "99_digitalocean.cfg";
  const last =
    files
      .filter((f) => f.startsWith("/etc/cloud/cloud.cfg.d/"))
      .map((f) => f.split("/").pop()!)
      .sort()
      .pop() ?? "";
  while (name <= last) name = `z${name}`;
  return `/etc/cloud/cloud.cfg.d/${name}`;
}

export async function checkDatasources(guest: Guest, agent: AgentFound | null): Promise<CheckResult> {
  if (!guest.root) return result("cloud-init-datasources", "unknown", "the root filesystem could not be read, so cloud-init's datasources were not checked");
  if (!agent) return result("cloud-init-datasources", "unknown", "no cloud-init installed, so there is no datasource list to check");
  if (agent.agent !== "cloud-init") return result("cloud-init-datasources", "pass", `${agent.agent} does not use cloud-init's datasource_list`);
  const part = guest.root.number;
  const s = await effectiveDatasources(guest.root.ext);
  const evidence: Evidence[] = [
    s.source
      ? { partition: part, ...s.source }
      : { partition: part, text: `no file sets datasource_list (read: ${s.files.join(", ") || "none"}); cloud-init's built-in default applies` },
    ...s.problems.map((p) => ({ partition: part, ...p })),
  ];
  const shown = `[ ${s.list.slice(0, 6).join(", ")}${s.list.length > 6 ? ", …" : ""} ]`;
  const fixFile = overrideFileName(s.files);
  const fix = `add ${fixFile} to the image containing the line: ${RECOMMENDED}`;
  const first = s.list.find((d) => d === "NoCloud" || d === "ConfigDrive" || d === "DigitalOcean");
  if (first === "NoCloud") {
    const where = s.source ? `${s.source.path} line ${s.source.line}` : "cloud-init's built-in default";
    return result(
      "cloud-init-datasources",
      "fail",
      `datasource_list ${shown} from ${where} puts NoCloud before ${s.list.includes("ConfigDrive") ? "ConfigDrive" : "DigitalOcean"}; DigitalOcean's requirements warn that Droplets may then not get their network, SSH keys or user data`,
      evidence,
      fix,
    );
  }
  if (!first) {
    return result(
      "cloud-init-datasources",
      "warn",
      `datasource_list ${shown} lists neither ConfigDrive nor DigitalOcean, so cloud-init will not read DigitalOcean's metadata`,
      evidence,
      fix,
    );
  }
  return result("cloud-init-datasources", "pass", `datasource_list ${shown} tries ${first} before NoCloud`, evidence);
}
