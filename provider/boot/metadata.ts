// What a Droplet is given at boot: the config drive (OpenStack layout, label config-2) and the metadata service, same data.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { buildIso9660 } from "./iso9660";
import { GUEST } from "./qemu";

export interface DropletIdentity {
  /** Instance id (config drive `uuid`). */
  uuid: string;
  dropletId: number;
  hostname: string;
  region: string;
  /** OpenSSH public key lines to install for the default user. */
  publicKeys: string[];
  mac: string;
  userData: string;
}

function openstackMetadata(id: DropletIdentity) {
  return {
    uuid: id.uuid,
    hostname: id.hostname,
    name: id.hostname,
    availability_zone: id.region,
    launch_index: 0,
    public_keys: Object.fromEntries(id.publicKeys.map((k, i) => [`do-image-${i}`, k])),
    meta: {},
  };
}

function networkData(id: DropletIdentity) {
  return {
    links: [{ id: "eth0", type: "phy", ethernet_mac_address: id.mac, mtu: 1500 }],
    networks: [{ id: "network0", type: "ipv4_dhcp", link: "eth0", network_id: "do-image-boot" }],
    services: [{ type: "dns", address: GUEST.dns }],
  };
}

/** DigitalOcean's /metadata/v1.json, shaped as its documentation shows it, with this boot's addresses. */
function dropletMetadata(id: DropletIdentity) {
  return {
    droplet_id: id.dropletId,
    hostname: id.hostname,
    user_data: id.userData,
    vendor_data: "#cloud-config\n{}\n",
    public_keys: id.publicKeys,
    auth_key: "",
    region: id.region,
    interfaces: {
      public: [
        {
          ipv4: { ip_address: GUEST.address, netmask: "255.255.0.0", gateway: GUEST.host },
          mac: id.mac,
          type: "public",
        },
      ],
    },
    floating_ip: { ipv4: { active: false } },
    reserved_ip: { ipv4: { active: false } },
    dns: { nameservers: [GUEST.dns] },
    tags: [],
    features: { dhcp_enabled: true },
  };
}

export function configDrive(id: DropletIdentity): Buffer {
  const json = (v: unknown) => Buffer.from(`${JSON.stringify(v, null, 2)}\n`);
  return buildIso9660("config-2", [
    { path: "openstack/latest/meta_data.json", data: json(openstackMetadata(id)) },
    { path: "openstack/latest/network_data.json", data: json(networkData(id)) },
    { path: "openstack/latest/vendor_data.json", data: json({}) },
    { path: "openstack/latest/user_data", data: Buffer.from(id.userData) },
  ]);
}

export interface MetadataService {
  port: number;
  /** Paths the guest asked for, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Serves /metadata/v1.json and the /metadata/v1/… keys on 127.0.0.1; QEMU's guestfwd relays 169.254.169.254:80 here. */
export async function startMetadataService(id: DropletIdentity): Promise<MetadataService> {
  const md = dropletMetadata(id);
  const paths: Record<string, string> = {
    "/metadata/v1.json": JSON.stringify(md),
    "/metadata/v1/id": String(md.droplet_id),
    "/metadata/v1/hostname": md.hostname,
    "/metadata/v1/user-data": md.user_data,
    "/metadata/v1/vendor-data": md.vendor_data,
    "/metadata/v1/public-keys": md.public_keys.join("\n"),
    "/metadata/v1/region": md.region,
    "/metadata/v1/interfaces/public/0/mac": id.mac,
    "/metadata/v1/interfaces/public/0/ipv4/address": GUEST.address,
    "/metadata/v1/": "id\nhostname\nuser-data\nvendor-data\npublic-keys\nregion\ninterfaces/\n",
  };
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    requests.push(path);
    const body = paths[path];
    res.writeHead(body === undefined ? 404 : 200, { "content-type": path.endsWith(".json") ? "application/json" : "text/plain", connection: "close" });
    res.end(body ?? "not found\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A relay QEMU runs per guest connection (guestfwd cmd:): stdin/stdout to the metadata service's TCP port. */
export const RELAY_SCRIPT = `// do-image boot: relays one guest connection to the metadata service
const s = require("node:net").connect(Number(process.argv[2]), "127.0.0.1");
process.stdin.pipe(s);
s.pipe(process.stdout);
s.on("error", () => process.exit(0));
s.on("close", () => process.exit(0));
`;
