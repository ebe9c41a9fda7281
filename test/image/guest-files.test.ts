// Hostile guest files: what is inside an image is untrusted input too. Each case changes one file of the sample guest
// (good-gpt.raw, made by build.sh) with debugfs and holds two things: the check that owns the file says what it is
// (warn, naming it), and every other check keeps the verdict it has on the unchanged image. Bounded: the YAML reader
// counts what aliases expand to, and cloud.cfg.d's files are read within a byte bound.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateImage, type ValidationReport } from "../../provider/image";
import { describeWithFixtures } from "../support/fixtures";
import { requireTools } from "../support/require";

/** A "billion laughs": 9^16 strings through 16 levels of aliases, in 1.5 KB; its keys are ones the checks read. */
function laughs(): string {
  const lines = [`a: &a [${Array(9).fill('"lol"').join(", ")}]`];
  let prev = "a";
  for (const c of "bcdefghijklmnop") {
    lines.push(`${c}: &${c} [${Array(9).fill(`*${prev}`).join(", ")}]`);
    prev = c;
  }
  return [...lines, `network: {config: *${prev}}`, `datasource_list: *${prev}`, ""].join("\n");
}

interface Case {
  name: string;
  /** debugfs requests on the root filesystem; files from `files` are at $DIR/<name>. */
  requests: string[];
  files?: Record<string, string>;
  /** The checks that own the changed file, with the status and message each must give. */
  owners: Record<string, { status: string; message: RegExp }>;
}

const CASES: Case[] = [
  {
    name: "/etc/fstab is a FIFO",
    requests: ["rm /etc/fstab", "cd /etc", "mknod fstab p"],
    owners: { fstab: { status: "warn", message: /\/etc\/fstab is a FIFO, not a file/ } },
  },
  {
    name: "/etc/fstab is a character device",
    requests: ["rm /etc/fstab", "cd /etc", "mknod fstab c 1 3"],
    owners: { fstab: { status: "warn", message: /\/etc\/fstab is a character device/ } },
  },
  {
    name: "/etc/fstab is a symlink to itself",
    requests: ["rm /etc/fstab", "symlink /etc/fstab /etc/fstab"],
    owners: { fstab: { status: "warn", message: /\/etc\/fstab is a symlink loop/ } },
  },
  {
    // cloud-init's read_conf_d keeps what os.path.isfile says is a file: a loop is skipped, and nothing changes
    name: "a cloud.cfg.d file is a symlink to itself",
    requests: ["symlink /etc/cloud/cloud.cfg.d/99-loop.cfg /etc/cloud/cloud.cfg.d/99-loop.cfg"],
    owners: {},
  },
  {
    name: "/etc/cloud/cloud.cfg.d is a symlink loop",
    requests: ["cd /etc/cloud", "unlink cloud.cfg.d", "symlink cloud.cfg.d /etc/cloud/cloud.cfg.d"],
    owners: {
      // without its config files, cloud-init uses its built-in datasource list: still the config drive on a Droplet
      "cloud-init-datasources": { status: "pass", message: /ConfigDrive/ },
    },
  },
  {
    name: "a billion laughs in cloud.cfg.d",
    files: { "laughs.cfg": laughs() },
    requests: ["write $DIR/laughs.cfg /etc/cloud/cloud.cfg.d/99-laughs.cfg"],
    owners: {
      "cloud-init": { status: "warn", message: /99-laughs.cfg was not read to the end \(its aliases expand to more than 100000 values/ },
      "cloud-init-datasources": { status: "warn", message: /the datasource_list or datasource it may set is not known here/ },
      network: { status: "warn", message: /the network it may set is not known here/ },
    },
  },
  {
    name: "a cloud.cfg.d file of 2 MiB",
    files: { "big.cfg": `# ${"x".repeat(2 * 1024 * 1024)}\n` },
    requests: ["write $DIR/big.cfg /etc/cloud/cloud.cfg.d/99-big.cfg"],
    owners: {
      "cloud-init": { status: "warn", message: /99-big.cfg was not read to the end \(it is larger than 1048576 bytes\)/ },
      "cloud-init-datasources": { status: "warn", message: /not known here/ },
      network: { status: "warn", message: /not known here/ },
    },
  },
];

const statuses = (r: ValidationReport) => Object.fromEntries(r.checks.map((c) => [c.id, c.status]));
const missing = requireTools(["debugfs", "sgdisk"]);

const NAME = "a hostile guest file stays with the check that reads it";
if (missing && process.env.REQUIRE_TOOLS !== "1") {
  console.warn(`skipped "${NAME}": ${missing}`);
  test.skip(NAME, () => undefined);
} else
  describeWithFixtures(NAME, (fx) => {
    const dir = mkdtempSync(join(tmpdir(), "guest-files-"));
    let offset = 0;
    let baseline: ReturnType<typeof statuses>;
    beforeAll(async () => {
      const sample = fx.path("good-gpt.raw");
      offset = 512 * Number(/First sector: (\d+)/.exec(execFileSync("sgdisk", ["-i", "3", sample], { encoding: "utf8" }))![1]);
      baseline = statuses(await validateImage(sample));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test.each(CASES.map((c) => [c.name, c]))("%s", async (_n, c) => {
      const img = join(dir, "guest.raw");
      copyFileSync(fx.path("good-gpt.raw"), img);
      for (const [name, text] of Object.entries(c.files ?? {})) writeFileSync(join(dir, name), text);
      writeFileSync(join(dir, "requests"), c.requests.map((r) => r.replace("$DIR", dir)).join("\n") + "\n");
      execFileSync("debugfs", ["-w", "-f", join(dir, "requests"), `${img}?offset=${offset}`], { stdio: "ignore" });
      const r = await validateImage(img);
      const got = statuses(r);
      for (const [id, want] of Object.entries(c.owners)) {
        const check = r.checks.find((x) => x.id === id)!;
        expect({ id, status: check.status }).toEqual({ id, status: want.status });
        expect(check.message).toMatch(want.message);
      }
      const others = Object.keys(baseline).filter((id) => !(id in c.owners));
      expect(Object.fromEntries(others.map((id) => [id, got[id]]))).toEqual(Object.fromEntries(others.map((id) => [id, baseline[id]])));
    });
  });
