// The config drive's ISO 9660 writer, read back by genisoimage's isoinfo: the label, the names Linux shows, the bytes.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildIso9660 } from "../../provider/boot";
import { configDrive } from "../../provider/boot/metadata";
import { requireTools } from "../support/require";

const missing = requireTools(["isoinfo"]);
const maybe = missing && process.env.REQUIRE_TOOLS !== "1" ? describe.skip : describe;
if (missing) console.warn(`iso9660 read-back: ${missing}`);

maybe("ISO 9660 writer", () => {
  const isoinfo = (iso: string, ...args: string[]) => spawnSync("isoinfo", ["-i", iso, ...args], { encoding: "utf8" });
  const write = (buf: Buffer) => {
    const p = join(mkdtempSync(join(tmpdir(), "iso-")), "x.iso");
    writeFileSync(p, buf);
    return p;
  };

  test("the config drive: label config-2 and the OpenStack paths, with their bytes", () => {
    const iso = write(
      configDrive({
        uuid: "u-1",
        dropletId: 7,
        hostname: "h1",
        region: "nyc3",
        publicKeys: ["ssh-ed25519 AAAA k"],
        mac: "52:54:00:00:00:01",
        userData: "#cloud-config\n{}\n",
      }),
    );
    expect(isoinfo(iso, "-d").stdout).toMatch(/Volume id: config-2/);
    const files = isoinfo(iso, "-f").stdout.trim().split("\n").sort();
    expect(files).toEqual([
      "/OPENSTACK",
      "/OPENSTACK/LATEST",
      "/OPENSTACK/LATEST/META_DATA.JSON;1",
      "/OPENSTACK/LATEST/NETWORK_DATA.JSON;1",
      "/OPENSTACK/LATEST/USER_DATA.;1",
      "/OPENSTACK/LATEST/VENDOR_DATA.JSON;1",
    ]);
    const meta = JSON.parse(isoinfo(iso, "-x", "/OPENSTACK/LATEST/META_DATA.JSON;1").stdout);
    expect(meta).toMatchObject({ uuid: "u-1", hostname: "h1", public_keys: { "do-image-0": "ssh-ed25519 AAAA k" } });
    const net = JSON.parse(isoinfo(iso, "-x", "/OPENSTACK/LATEST/NETWORK_DATA.JSON;1").stdout);
    expect(net.networks[0]).toMatchObject({ type: "ipv4_dhcp", link: "eth0" });
    expect(net.links[0].ethernet_mac_address).toBe("52:54:00:00:00:01");
  });

  test("directories that need more than one sector, and files larger than one", () => {
    const files = Array.from({ length: 120 }, (_, i) => ({ path: `d/FILE_${String(i).padStart(3, "0")}.TXT`, data: Buffer.from(`file ${i}\n`) }));
    files.push({ path: "big.bin", data: Buffer.alloc(5000, 0x61) });
    const iso = write(buildIso9660("many", files));
    const listed = isoinfo(iso, "-f").stdout.trim().split("\n");
    expect(listed.filter((f) => f.startsWith("/D/FILE_"))).toHaveLength(120);
    expect(isoinfo(iso, "-x", "/D/FILE_119.TXT;1").stdout).toBe("file 119\n");
    expect(isoinfo(iso, "-x", "/BIG.BIN;1").stdout).toBe("a".repeat(5000));
  });

  test("names ISO 9660 cannot hold are refused, not mangled", () => {
    expect(() => buildIso9660("x", [{ path: "meta-data", data: Buffer.from("") }])).toThrow(/letters, digits and "_"/);
  });
});
