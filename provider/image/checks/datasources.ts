// Check `cloud-init-datasources`: which datasource cloud-init will use on a Droplet, decided as cloud-init decides it.
//
// Facts from cloud-init 22.x–24.x (tools/ds-identify, systemd/cloud-init-generator, cloudinit/settings.py):
// - Under systemd, cloud-init's generator runs ds-identify before boot. ds-identify reads `datasource_list` line by
//   line (the last `datasource_list: [ … ]` line in cloud.cfg, cloud.cfg.d/*.cfg; a block-style list reads as empty),
//   else its own default order; keeps only the datasources it finds on this machine, in that order; and writes
//   `datasource_list: [ found…, None ]` to /run/cloud-init/cloud.cfg, which overrides /etc. A list of one (or one and
//   None) is taken as is. When none is found, its x86 default policy disables cloud-init for the boot.
// - Without ds-identify, cloud-init tries the configured list (YAML merge, later file wins), else its built-in
//   default, in order; the first datasource whose data is present wins, and None means no SSH keys.
// - On a Droplet: ConfigDrive finds the config-2 drive, DigitalOcean the SMBIOS vendor "DigitalOcean"; NoCloud is
//   found only from a seed the image carries (or ds=nocloud on the kernel command line); MAAS from its config.
import type { Ext4 } from "../ext4";
import type { BootConfig } from "./bootconfig";
import type { AgentFound } from "./cloud-init";
import { whereSet, type CloudConfig } from "./cloud-config";
import type { Guest } from "./guest";
import { lines } from "./guest";
import { result, type CheckResult, type Evidence } from "./types";

/** cloud-init's built-in default (cloudinit/settings.py), used when nothing configures a list and ds-identify does not run. */
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

/** ds-identify's DI_DSLIST_DEFAULT, searched when no datasource_list line is configured. */
export const DS_IDENTIFY_DEFAULT = [
  "MAAS",
  "ConfigDrive",
  "NoCloud",
  "AltCloud",
  "Azure",
  "Bigstep",
  "CloudSigma",
  "CloudStack",
  "DigitalOcean",
  "Vultr",
  "AliYun",
  "Ec2",
  "GCE",
  "OpenNebula",
  "OpenStack",
  "OVF",
  "SmartOS",
  "Scaleway",
  "Hetzner",
  "IBMCloud",
  "Oracle",
  "Exoscale",
  "RbxCloud",
  "UpCloud",
  "VMware",
  "LXD",
  "NWCS",
];

const DROPLET_DATASOURCES = new Set(["ConfigDrive", "DigitalOcean"]);
const RECOMMENDED = "datasource_list: [ ConfigDrive, DigitalOcean, NoCloud, None ]";
const DS_IDENTIFY = "/usr/lib/cloud-init/ds-identify";
const GENERATORS = ["/usr/lib/systemd/system-generators/cloud-init-generator", "/lib/systemd/system-generators/cloud-init-generator"];

interface Found {
  name: string;
  /** Why it is found on a Droplet. */
  why: Evidence;
}

/** ds-identify's parse_yaml_array: strip brackets, split on commas, trim and unquote. */
function flowList(value: string): string[] {
  return value
    .replace(/^\s*\[/, "")
    .replace(/\]\s*$/, "")
    .split(",")
    .map((s) => s.trim().replace(/^["']|["']$/g, ""))
    .filter(Boolean);
}

/** ds-identify's check_config: the last line in cloud.cfg, cloud.cfg.d/*.cfg whose key is `key`, comments cut. */
function lastConfigLine(cfg: CloudConfig, key: string): (Evidence & { value: string }) | undefined {
  let found: (Evidence & { value: string }) | undefined;
  for (const f of cfg.files) {
    for (const l of lines(f.text)) {
      const t = l.text.replace(/#.*/, "").trim();
      if (t === `${key}:` || t.startsWith(`${key}: `)) found = { path: f.path, line: l.line, text: l.text.trim(), value: t.slice(key.length + 1).trim() };
    }
  }
  return found;
}

async function seed(fs: Ext4, dir: string): Promise<Evidence | undefined> {
  for (const base of ["/var/lib/cloud/seed", "/writable/system-data/var/lib/cloud/seed"]) {
    const d = `${base}/${dir}`;
    if ((await fs.type(`${d}/meta-data`)) === "file" && (await fs.type(`${d}/user-data`)) === "file")
      return { path: `${d}/meta-data`, text: `NoCloud seed (${d}/meta-data and user-data)` };
  }
  return undefined;
}

/** Whether ds-identify's check for `name` succeeds on a Droplet booted from this image. */
async function foundOnDroplet(name: string, guest: Guest, cfg: CloudConfig, cmdline: string): Promise<Found | undefined> {
  const fs = guest.root!.ext;
  switch (name) {
    case "ConfigDrive":
      return { name, why: { text: "DigitalOcean attaches a config drive labelled config-2" } };
    case "DigitalOcean":
      return { name, why: { text: 'a Droplet\'s SMBIOS system vendor is "DigitalOcean"' } };
    case "NoCloud": {
      if (/(^|\s)ds=nocloud/.test(cmdline)) return { name, why: { text: `kernel command line: ${cmdline}` } };
      for (const d of ["nocloud", "nocloud-net"]) {
        const s = await seed(fs, d);
        if (s) return { name, why: s };
      }
      const labelled = guest.partitions.find((p) => /^cidata$/i.test(p.label ?? ""));
      if (labelled) return { name, why: { partition: labelled.number, text: `a filesystem labelled ${labelled.label} (a NoCloud seed) is inside the image` } };
      const nc = lastConfigLine(cfg, "NoCloud");
      if (nc && lastConfigLine(cfg, "user-data") && lastConfigLine(cfg, "meta-data"))
        return { name, why: { ...nc, text: `NoCloud seed data in config: ${nc.text}` } };
      return undefined;
    }
    case "MAAS": {
      const m = lastConfigLine(cfg, "MAAS");
      return m ? { name, why: { ...m, text: `MAAS configuration: ${m.text}` } } : undefined;
    }
    case "OpenNebula":
      return (await fs.type("/var/lib/cloud/seed/opennebula")) === "dir"
        ? { name, why: { path: "/var/lib/cloud/seed/opennebula", text: "OpenNebula seed" } }
        : undefined;
    default:
      return undefined;
  }
}

/** Whether cloud-init's systemd generator runs ds-identify on this image. */
async function dsIdentifyRuns(fs: Ext4, init: string): Promise<Evidence | undefined> {
  if (init !== "systemd") return undefined;
  if ((await fs.type(DS_IDENTIFY)) !== "file") return undefined;
  for (const g of GENERATORS) if ((await fs.type(g)) === "file") return { path: g, text: `runs ${DS_IDENTIFY} before boot` };
  return undefined;
}

/** ds-identify's policy mode from /etc/cloud/ds-identify.cfg or ci.di.policy= (default: search). */
async function dsIdentifyMode(fs: Ext4, cmdline: string): Promise<{ mode: string; notfound: string; evidence?: Evidence }> {
  let policy = "";
  let evidence: Evidence | undefined;
  const text = (await fs.readFile("/etc/cloud/ds-identify.cfg"))?.toString("utf8");
  for (const l of text ? lines(text) : []) {
    const m = /^\s*policy:\s*(\S+)/.exec(l.text.replace(/#.*/, ""));
    if (m) {
      policy = m[1];
      evidence = { path: "/etc/cloud/ds-identify.cfg", line: l.line, text: l.text.trim() };
    }
  }
  const k = /(?:^|\s)ci\.di\.policy=(\S+)/.exec(cmdline);
  if (k) {
    policy = k[1];
    evidence = { text: `kernel command line: ci.di.policy=${k[1]}` };
  }
  let mode = "search";
  let notfound = "disabled";
  for (const tok of policy.split(",")) {
    if (["enabled", "disabled", "search", "report"].includes(tok)) mode = tok;
    else if (tok.startsWith("notfound=")) notfound = tok.slice(9);
  }
  return { mode, notfound, evidence };
}

export interface DatasourceDecision {
  /** The list cloud-init ends up trying, in order. */
  tried: string[];
  /** The datasource that will provide the Droplet's data, if any. */
  used?: Found;
  /** The configured list and where it came from. */
  configured?: { list: string[]; where: Evidence };
  dsIdentify?: Evidence;
  /** cloud-init will not run at all (ds-identify found nothing). */
  disabled?: string;
  evidence: Evidence[];
}

export async function decideDatasources(guest: Guest, cfg: CloudConfig, boot: BootConfig | undefined, init: string): Promise<DatasourceDecision> {
  const fs = guest.root!.ext;
  const part = guest.root!.number;
  const cmdline = boot?.entry?.cmdline ?? "";
  const evidence: Evidence[] = [];
  // Each datasource's check reads the image (seeds, labels, config) once, though ds-identify and cloud-init both ask.
  const checked = new Map<string, Promise<Found | undefined>>();
  const found = (name: string) => {
    if (!checked.has(name)) checked.set(name, foundOnDroplet(name, guest, cfg, cmdline));
    return checked.get(name)!;
  };
  // The list as cloud-init's YAML reader sees it.
  const yamlSet = whereSet(cfg, "datasource_list");
  const yamlList = yamlSet && Array.isArray(yamlSet.value) ? yamlSet.value.map(String) : undefined;
  let configured: { list: string[]; where: Evidence } | undefined =
    yamlList && yamlSet ? { list: yamlList, where: { partition: part, path: yamlSet.path, line: yamlSet.line, text: yamlSet.text } } : undefined;
  const kernelDs = /(?:^|\s)ci\.(?:ds|datasource)=(\S+)/.exec(cmdline)?.[1];
  const ccList = /cc:.*datasource_list[^[]*\[([^\]]*)\]/.exec(cmdline)?.[1];
  if (ccList) configured = { list: flowList(ccList), where: { text: `kernel command line: ${cmdline}` } };
  if (configured) evidence.push(configured.where);

  const ds = await dsIdentifyRuns(fs, init);
  let order: string[];
  let forced = false;
  let disabledWhy: string | undefined;
  if (ds) {
    evidence.push({ partition: part, ...ds });
    const policy = await dsIdentifyMode(fs, cmdline);
    if (policy.evidence) evidence.push({ partition: part, ...policy.evidence });
    if (policy.mode === "disabled") disabledWhy = "ds-identify's policy is disabled";
    if (kernelDs) {
      order = [kernelDs];
      forced = true;
      evidence.push({ text: `kernel command line names the datasource: ci.ds=${kernelDs}` });
    } else if (ccList) {
      order = configured!.list;
    } else {
      // ds-identify reads lines, not YAML: a block-style list reads as empty and its own default order applies.
      const line = lastConfigLine(cfg, "datasource_list");
      const list = line ? flowList(line.value) : [];
      if (line && list.length === 0) {
        evidence.push({ partition: part, ...line, text: `${line.text} (block-style list: ds-identify reads it as empty and searches its own default order)` });
      } else if (line && (!configured || line.path !== configured.where.path || line.line !== configured.where.line)) {
        evidence.push({ partition: part, path: line.path, line: line.line, text: `${line.text} (the line ds-identify reads)` });
      }
      order = list.length > 0 ? list : DS_IDENTIFY_DEFAULT;
      if (list.length === 0) evidence.push({ text: `ds-identify's default order: [ ${DS_IDENTIFY_DEFAULT.slice(0, 4).join(", ")}, … ]` });
    }
    const real = order.filter((d) => d !== "None");
    if (policy.mode === "enabled") {
      // ds-identify leaves the configured list alone.
      order = configured?.list ?? BUILTIN_DATASOURCES;
    } else if (forced || real.length <= 1) {
      if (!forced) evidence.push({ text: `a list of one datasource (${order.join(", ")}) is used as it is` });
      forced = true;
    } else {
      const present: string[] = [];
      for (const d of order) if (await found(d)) present.push(d);
      if (present.length === 0 && policy.mode === "search" && policy.notfound === "disabled")
        disabledWhy = `ds-identify finds none of [ ${order.join(", ")} ] on a Droplet, so it disables cloud-init for the boot`;
      order = [...present, "None"];
    }
  } else {
    order = configured?.list ?? BUILTIN_DATASOURCES;
    if (!configured)
      evidence.push({ text: "no file sets datasource_list and ds-identify does not run: cloud-init's built-in default applies (NoCloud first)" });
  }
  // cloud-init tries each in order; a forced single datasource is tried even where its data is missing.
  let used: Found | undefined;
  for (const d of order) {
    if (d === "None") break;
    const f = await found(d);
    if (f) {
      used = f;
      break;
    }
  }
  if (used) evidence.push(used.why.path ? { partition: part, ...used.why } : used.why);
  return { tried: order, used, configured, dsIdentify: ds, disabled: disabledWhy, evidence };
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

const shown = (list: string[]) => `[ ${list.slice(0, 6).join(", ")}${list.length > 6 ? ", …" : ""} ]`;

export async function checkDatasources(
  guest: Guest,
  agent: AgentFound | null,
  cfg: CloudConfig | undefined,
  boot: BootConfig | undefined,
  init: string,
): Promise<CheckResult> {
  const id = "cloud-init-datasources";
  if (!guest.root || !cfg) return result(id, "unknown", "the root filesystem could not be read, so cloud-init's datasources were not checked");
  if (!agent) return result(id, "unknown", "no cloud-init installed, so there is no datasource list to check");
  if (agent.agent !== "cloud-init") return result(id, "pass", `${agent.agent} does not use cloud-init's datasource_list`);
  const d = await decideDatasources(guest, cfg, boot, init);
  const evidence = [...d.evidence, ...cfg.problems.map((p) => ({ partition: guest.root!.number, ...p }))];
  const fixFile = overrideFileName(cfg.files.map((f) => f.path));
  const how = d.dsIdentify ? "ds-identify" : "cloud-init";
  if (d.disabled) {
    return result(
      id,
      "fail",
      `${d.disabled}; the Droplet would get no SSH keys, hostname or network from its metadata`,
      evidence,
      `add ${fixFile} to the image containing the line: ${RECOMMENDED}`,
    );
  }
  if (!d.used || !DROPLET_DATASOURCES.has(d.used.name)) {
    const seedFix =
      d.used?.name === "NoCloud" && d.used.why.path ? `remove the NoCloud seed ${d.used.why.path.replace(/\/meta-data$/, "")} from the image, or ` : "";
    const what = d.used
      ? `use ${d.used.name} (${d.used.why.text}) before ConfigDrive or DigitalOcean`
      : "find none of them on a Droplet, so it falls back to None";
    return result(
      id,
      "fail",
      `on a Droplet, cloud-init (${how}) would try ${shown(d.tried)} and ${what}: the Droplet's SSH keys, hostname and user data would not be applied`,
      evidence,
      `${seedFix}add ${fixFile} to the image containing the line: ${RECOMMENDED}`,
    );
  }
  const list = d.configured?.list;
  const nocloudFirst =
    list &&
    list.indexOf("NoCloud") >= 0 &&
    list.indexOf("NoCloud") < Math.min(...["ConfigDrive", "DigitalOcean"].map((x) => (list.includes(x) ? list.indexOf(x) : Infinity)));
  if (nocloudFirst && d.configured) {
    return result(
      id,
      "warn",
      `datasource_list ${shown(list)} (${d.configured.where.path ?? "kernel command line"}${d.configured.where.line ? ` line ${d.configured.where.line}` : ""}) puts NoCloud first, which DigitalOcean's documentation warns about; no NoCloud seed is in the image, so cloud-init (${how}) would use ${d.used.name} and the Droplet works`,
      evidence,
      `add ${fixFile} to the image containing the line: ${RECOMMENDED}, so a NoCloud seed added later cannot take over`,
    );
  }
  return result(id, "pass", `on a Droplet, cloud-init (${how}) would try ${shown(d.tried)} and use ${d.used.name}`, evidence);
}
