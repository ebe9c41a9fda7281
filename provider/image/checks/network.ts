// Check `network`: the guest will bring up a Droplet's first NIC by DHCP, through cloud-init or its own network config.
//
// From cloud-init 20.4–25.x (cloudinit/cmd/main.py and stages.py: the local stage renders the datasource's network
// config, `network: {config: disabled}` stops it) and from the stacks that then bring the NIC up: ifupdown 0.8
// (interfaces(5): auto/allow-hotplug, source, source-directory), netplan 0.106–1.1, systemd-networkd (.network [Match]
// Name= globs), NetworkManager (its default DHCP on every wired NIC). Under sysvinit (Debian's initscripts and
// cloud-init's sysvinit scripts), the order of the rc links decides whether cloud-init's config is brought up at all.
// Interface names follow systemd's udev predictable names: a Droplet's NIC is ens3-like unless net.ifnames=0 makes it eth0.
import type { Ext4 } from "../ext4";
import type { AgentFound } from "./cloud-init";
import { whereSet, type CloudConfig } from "./cloud-config";
import { lines, type Guest } from "./guest";
import { sysvStarts } from "./systemd";
import { result, type CheckResult, type Evidence } from "./types";
import { readYaml, YamlSyntaxError } from "./yaml";

const DHCP_FIX =
  "configure DHCP on the first NIC in the image: let cloud-init write it (remove `network: {config: disabled}`), or e.g. `allow-hotplug eth0` + `iface eth0 inet dhcp` in /etc/network/interfaces with net.ifnames=0, a netplan `dhcp4: true`, or a systemd-networkd .network with `DHCP=yes` and `Name=en* eth*`";

interface Stanza {
  name: string;
  dhcp: boolean;
  evidence: Evidence;
}

/** ifupdown: /etc/network/interfaces and the files it sources (source, source-directory), one level of globs. */
async function ifupdown(fs: Ext4, part: number): Promise<Stanza[]> {
  const out: Stanza[] = [];
  const seen = new Set<string>();
  const readOne = async (path: string, depth: number): Promise<void> => {
    if (seen.has(path) || depth > 3) return;
    seen.add(path);
    const text = (await fs.readFile(path))?.toString("utf8");
    if (text === undefined) return;
    for (const l of lines(text)) {
      const w = l.text.replace(/#.*/, "").trim().split(/\s+/);
      if (w[0] === "iface" && w[2] === "inet" && w[1] !== "lo") {
        out.push({ name: w[1], dhcp: w[3] === "dhcp", evidence: { partition: part, path, line: l.line, text: l.text.trim() } });
      } else if ((w[0] === "source" || w[0] === "source-directory") && w[1]) {
        const target = w[1].startsWith("/") ? w[1] : `/etc/network/${w[1]}`;
        const dirPart = w[0] === "source-directory" ? target : target.slice(0, target.lastIndexOf("/"));
        const glob = w[0] === "source-directory" ? "*" : target.slice(target.lastIndexOf("/") + 1);
        // source-directory takes the files run-parts would (interfaces(5)): names of letters, digits, _ and - only.
        const runParts = w[0] === "source-directory" ? /^[A-Za-z0-9_-]+$/ : /./;
        const re = new RegExp(
          `^${glob
            .replace(/[.+^${}()|[\]\\]/g, "\\$&")
            .replace(/\*/g, ".*")
            .replace(/\?/g, ".")}$`,
        );
        for (const e of (await fs.readdir(dirPart)) ?? []) if (re.test(e.name) && runParts.test(e.name)) await readOne(`${dirPart}/${e.name}`, depth + 1);
      }
    }
  };
  await readOne("/etc/network/interfaces", 0);
  return out;
}

async function netplan(fs: Ext4, part: number): Promise<Stanza[]> {
  const out: Stanza[] = [];
  for (const dir of ["/etc/netplan", "/run/netplan", "/lib/netplan"]) {
    for (const e of (await fs.readdir(dir)) ?? []) {
      if (!/\.ya?ml$/.test(e.name)) continue;
      const path = `${dir}/${e.name}`;
      let value: unknown;
      try {
        value = readYaml((await fs.readFile(path))?.toString("utf8") ?? "", path).value;
      } catch (err) {
        // netplan refuses a file it cannot parse, so it configures nothing.
        if (err instanceof YamlSyntaxError) continue;
        throw err;
      }
      const eth = (value as { network?: { ethernets?: Record<string, { dhcp4?: unknown; match?: { name?: string } }> } } | null)?.network?.ethernets;
      for (const [name, cfg] of Object.entries(eth ?? {})) {
        out.push({
          name: cfg?.match?.name ?? name,
          dhcp: cfg?.dhcp4 === true || cfg?.dhcp4 === "true" || cfg?.dhcp4 === "yes",
          evidence: { partition: part, path, text: `ethernets.${name}: dhcp4 ${String(cfg?.dhcp4 ?? "unset")}` },
        });
      }
    }
  }
  return out;
}

async function networkd(fs: Ext4, part: number): Promise<Stanza[]> {
  const out: Stanza[] = [];
  for (const dir of ["/etc/systemd/network", "/usr/lib/systemd/network"]) {
    for (const e of (await fs.readdir(dir)) ?? []) {
      if (!e.name.endsWith(".network")) continue;
      const path = `${dir}/${e.name}`;
      const text = (await fs.readFile(path))?.toString("utf8") ?? "";
      const names = /^\s*Name\s*=\s*(.+)$/m.exec(text)?.[1].trim() ?? "*";
      const dhcp = /^\s*DHCP\s*=\s*(yes|true|ipv4|both)\s*$/im.test(text);
      if (/^\s*Type\s*=\s*(?!ether)/m.test(text)) continue;
      out.push({ name: names, dhcp, evidence: { partition: part, path, text: `Name=${names}${dhcp ? " DHCP=yes" : " (no DHCP)"}` } });
    }
  }
  return out;
}

async function networkManager(fs: Ext4): Promise<Evidence | undefined> {
  if ((await fs.type("/usr/sbin/NetworkManager")) !== "file") return undefined;
  for (const dir of ["/etc/systemd/system/multi-user.target.wants", "/etc/systemd/system/network-online.target.wants"]) {
    if (await fs.exists(`${dir}/NetworkManager.service`, false)) {
      const conf = (await fs.readFile("/etc/NetworkManager/NetworkManager.conf"))?.toString("utf8") ?? "";
      if (/^\s*no-auto-default\s*=\s*\*/m.test(conf)) return undefined;
      return { path: `${dir}/NetworkManager.service`, text: "NetworkManager is enabled and configures every Ethernet NIC by DHCP by default" };
    }
  }
  return undefined;
}

/**
 * Under sysvinit, who brings the NIC up (cloud-init 22.4's cmd/main.py and stages.py, Debian's init scripts): a
 * Droplet's datasources (ConfigDrive, DigitalOcean) are found by cloud-init's local stage, which writes the network
 * config but brings nothing up (`_should_bring_up_interfaces` is false for --local), and its network stage does not
 * apply it again on the same boot (apply_network_config: not a new instance once the local stage ran). So ifupdown's
 * `networking` script must start after cloud-init-local, as systemd orders them (cloud-init-local.service is
 * Before=network-pre.target). Debian's /etc/init.d/cloud-init-local starts in runlevels 2-5, after rcS's networking.
 */
async function networkingBeforeCloudInit(fs: Ext4, part: number): Promise<CheckResult | undefined> {
  const starts = await sysvStarts(fs, ["networking", "cloud-init-local"]);
  const net = starts.get("networking");
  const local = starts.get("cloud-init-local");
  if (!net || !local || net.order > local.order) return undefined;
  return result(
    "network",
    "fail",
    "under sysvinit, ifupdown's networking script starts before cloud-init-local, so the DHCP configuration cloud-init writes from the config drive is not brought up at boot (cloud-init's local stage writes it without bringing it up, and its network stage does not apply it again): the Droplet would not be reachable",
    [
      { partition: part, path: net.path, text: "networking starts here" },
      { partition: part, path: local.path, text: "cloud-init-local starts here, later" },
    ],
    "start cloud-init-local in rcS before networking: in /etc/init.d/cloud-init-local's LSB header set `Required-Start: $local_fs`, `Default-Start: S` and `X-Start-Before: networking`, then run `update-rc.d cloud-init-local defaults` in the image (insserv reorders rcS.d); or boot the image with systemd",
  );
}

/** Whether an interface name (or pattern) in a config matches a Droplet's first NIC under the image's naming scheme. */
function matchesFirstNic(name: string, classicNames: boolean): "yes" | "maybe" | "no" {
  const patterns = name.split(/\s+/);
  const test = (n: string) => {
    if (n === "*" || n === "e*") return "yes";
    if (classicNames) return n === "eth0" || n === "eth*" ? "yes" : "no";
    if (["en*", "ens*", "enp*"].includes(n)) return "yes";
    if (/^en[sopx]/.test(n)) return "maybe"; // a predictable name: right only for the slot the Droplet's NIC sits in
    return "no";
  };
  const r = patterns.map(test);
  return r.includes("yes") ? "yes" : r.includes("maybe") ? "maybe" : "no";
}

export async function checkNetwork(
  guest: Guest,
  agent: AgentFound | null,
  cloudInitWorks: boolean,
  cfg: CloudConfig | undefined,
  cmdline: string,
  init: string,
): Promise<CheckResult> {
  const id = "network";
  if (!guest.root || !cfg) return result(id, "unknown", "the root filesystem could not be read, so the network configuration was not checked");
  const fs = guest.root.ext;
  const part = guest.root.number;
  const net = cfg.merged.network as { config?: unknown } | undefined;
  const disabledByCfg = typeof net === "object" && net !== null && net.config === "disabled";
  const disabledByCmdline = /(?:^|\s)network-config=disabled(?:\s|$)/.test(cmdline);
  const evidence: Evidence[] = [];
  if (agent?.agent === "cloud-init" && cloudInitWorks && !disabledByCfg && !disabledByCmdline) {
    const late = init === "sysvinit" ? await networkingBeforeCloudInit(fs, part) : undefined;
    if (late) return late;
    return result(id, "pass", "cloud-init writes the network configuration from the Droplet's metadata (DHCP on the first NIC)", [
      { partition: part, text: "no `network: {config: disabled}` in cloud-init's config" },
    ]);
  }
  if (disabledByCfg) {
    const w = whereSet(cfg, "network");
    evidence.push({
      partition: part,
      path: w?.path,
      line: w?.line,
      text: `${w?.text ?? "network: {config: disabled}"} (cloud-init leaves the network to the image)`,
    });
  }
  if (disabledByCmdline) evidence.push({ text: "kernel command line: network-config=disabled" });
  const classic = /(?:^|\s)net\.ifnames=0(?:\s|$)/.test(cmdline) || (await fs.readlink("/etc/udev/rules.d/80-net-setup-link.rules")) === "/dev/null";
  const stanzas = [...(await ifupdown(fs, part)), ...(await netplan(fs, part)), ...(await networkd(fs, part))];
  const nm = await networkManager(fs);
  const dhcp = stanzas.filter((s) => s.dhcp);
  const good = dhcp.find((s) => matchesFirstNic(s.name, classic) === "yes");
  const why =
    agent?.agent === "cloud-init" && cloudInitWorks ? "cloud-init's network configuration is disabled" : "cloud-init does not configure the network here";
  if (good) return result(id, "pass", `${why}; the image configures ${good.name} by DHCP`, [...evidence, good.evidence]);
  if (nm) return result(id, "pass", `${why}; ${nm.text}`, [...evidence, { partition: part, ...nm }]);
  const maybe = dhcp.find((s) => matchesFirstNic(s.name, classic) === "maybe");
  if (maybe) {
    return result(
      id,
      "warn",
      `${why}; the image configures ${maybe.name} by DHCP, a predictable name that matches the Droplet's NIC only if it sits in that PCI slot`,
      [...evidence, maybe.evidence],
      'match the NIC by pattern (netplan `match: {name: "en*"}`, networkd `Name=en*`) or boot with net.ifnames=0 and configure eth0',
    );
  }
  const other = stanzas.filter((s) => !s.dhcp || matchesFirstNic(s.name, classic) === "no");
  const named = other.map(
    (s) =>
      `${s.name}${s.dhcp ? " by DHCP (a name the Droplet's NIC will not have" + (classic ? ")" : ": without net.ifnames=0 it is named like ens3)") : " with a static address"}`,
  );
  return result(
    id,
    "fail",
    `${why}, and the image ${named.length ? `configures only ${named.join(", ")}` : "has no network configuration for an Ethernet NIC"}; a Droplet's first NIC needs DHCP, so the Droplet would not be reachable`,
    [...evidence, ...other.map((s) => s.evidence)],
    DHCP_FIX,
  );
}
