// cloud-init's YAML reader is PyYAML's safe_load: what it accepts, what it resolves plain words to, and the lines the
// evidence cites.
import { readCloudConfig, whereSet } from "../../../provider/image/checks/cloud-config";
import { readYaml, YamlSyntaxError } from "../../../provider/image/checks/yaml";
import type { Ext4 } from "../../../provider/image/ext4";

test("plain words resolve as PyYAML resolves them (YAML 1.1 without y and n), and a repeated key keeps the last value", () => {
  const text = ["a: yes", "b: Off", "c: y", "d: n", "e: 0755", "f: ~", "g: 1_000", "a: no", ""].join("\n");
  expect(readYaml(text).value).toEqual({ a: false, b: false, c: "y", d: "n", e: 493, f: null, g: 1000 });
  // The line of a repeated key is where the value that counts is set.
  expect(readYaml(text).keyLines.get("a")).toBe(8);
});

test("merge keys merge, as PyYAML's do", () => {
  const text = "base: &b {name: debian, shell: /bin/bash}\nsystem_info:\n  default_user:\n    <<: *b\n    name: admin\n";
  expect(readYaml(text).value).toEqual({ base: { name: "debian", shell: "/bin/bash" }, system_info: { default_user: { name: "admin", shell: "/bin/bash" } } });
});

test("the lines of the top-level keys, whatever their style, and none from nested mappings", () => {
  const text = [
    "# to update this file, run dpkg-reconfigure cloud-init",
    "datasource_list: [ NoCloud, ConfigDrive ]",
    "network:",
    "  config: disabled",
    "'quoted key': 1",
    "",
    "users:",
    "  - default",
    "long: |",
    "  datasource_list: not a key",
    "",
  ].join("\n");
  expect([...readYaml(text).keyLines]).toEqual([
    ["datasource_list", 2],
    ["network", 3],
    ["quoted key", 5],
    ["users", 7],
    ["long", 9],
  ]);
  // A document that is not a mapping has no keys.
  expect(readYaml("- a\n- b\n").keyLines.size).toBe(0);
});

test("text PyYAML refuses is an error with the line it is on; so is a second document", () => {
  const refused = (text: string) => {
    try {
      readYaml(text);
    } catch (err) {
      expect(err).toBeInstanceOf(YamlSyntaxError);
      return { line: (err as YamlSyntaxError).line, reason: (err as YamlSyntaxError).reason };
    }
    throw new Error("no error");
  };
  expect(refused("datasource_list: [ NoCloud\nnetwork: x\n")).toEqual({ line: 2, reason: expect.any(String) });
  expect(refused("a: 1\n\tb: 2\n").line).toBe(2);
  expect(refused("a: 1\n---\nb: 2\n").reason).toMatch(/single document/);
  expect(readYaml("").value).toBeUndefined();
});

/** The three calls readCloudConfig makes of the root filesystem, over files held in memory. */
function fakeRoot(files: Record<string, string>): Ext4 {
  return {
    type: async (p: string) => (p in files ? "file" : undefined),
    readdir: async (dir: string) =>
      Object.keys(files)
        .filter((p) => p.startsWith(`${dir}/`))
        .map((p) => ({ name: p.slice(dir.length + 1) })),
    readFile: async (p: string) => (p in files ? Buffer.from(files[p]) : undefined),
  } as unknown as Ext4;
}

test("cloud.cfg.d files merge in byte order, a broken one is left out with its line, and the evidence names the file and line that counts", async () => {
  const cfg = await readCloudConfig(
    fakeRoot({
      "/etc/cloud/cloud.cfg": "users:\n  - default\nsystem_info:\n  default_user:\n    name: debian\n",
      "/etc/cloud/cloud.cfg.d/90_dpkg.cfg": "# dpkg\ndatasource_list: [ NoCloud, None ]\n",
      "/etc/cloud/cloud.cfg.d/95_digitalocean.cfg": "datasource_list:\n  - ConfigDrive\n  - None\ndatasource_list: [ ConfigDrive, DigitalOcean ]\n",
      "/etc/cloud/cloud.cfg.d/99_broken.cfg": "network: {config: disabled\n",
    }),
  );
  expect(cfg.files.map((f) => f.path)).toEqual(["/etc/cloud/cloud.cfg", "/etc/cloud/cloud.cfg.d/90_dpkg.cfg", "/etc/cloud/cloud.cfg.d/95_digitalocean.cfg"]);
  expect(cfg.problems).toEqual([{ path: "/etc/cloud/cloud.cfg.d/99_broken.cfg", line: 2, text: expect.stringMatching(/^YAML error: /) }]);
  expect(cfg.merged).toMatchObject({ datasource_list: ["ConfigDrive", "DigitalOcean"], system_info: { default_user: { name: "debian" } } });
  expect(whereSet(cfg, "datasource_list")).toEqual({
    path: "/etc/cloud/cloud.cfg.d/95_digitalocean.cfg",
    line: 4,
    text: "datasource_list: [ ConfigDrive, DigitalOcean ]",
    value: ["ConfigDrive", "DigitalOcean"],
  });
  expect(whereSet(cfg, "network")).toBeUndefined();
});
