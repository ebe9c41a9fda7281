// The package users install: `npm pack`, installed into a fresh Pulumi TypeScript project that compiles against it.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");
const version = (pkg: string) =>
  JSON.parse(execFileSync("node", ["-p", `JSON.stringify(require("${pkg}/package.json").version)`], { cwd: ROOT, encoding: "utf8" }));

test("a fresh Pulumi project installs the packed package and compiles a program against its types", () => {
  const out = mkdtempSync(join(tmpdir(), "do-image-pack-"));
  execFileSync("npm", ["pack", "--silent", "--pack-destination", out], { cwd: ROOT, stdio: "pipe" });
  const tgz = readdirSync(out).find((f) => f.endsWith(".tgz"))!;
  const project = mkdtempSync(join(tmpdir(), "do-image-user-"));
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({
      name: "user-stack",
      private: true,
      dependencies: {
        "do-image": `file:${join(out, tgz)}`,
        "@pulumi/pulumi": version("@pulumi/pulumi"),
        "@pulumi/digitalocean": version("@pulumi/digitalocean"),
        typescript: version("typescript"),
        "@types/node": version("@types/node"),
      },
    }),
  );
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { strict: true, module: "commonjs", target: "ES2022", esModuleInterop: true, skipLibCheck: true, noEmit: true, types: ["node"] },
      files: ["index.ts"],
    }),
  );
  writeFileSync(
    join(project, "index.ts"),
    [
      'import { CustomImage, ImageDroplet } from "do-image/pulumi";',
      'import { validateImage, type ValidationReport } from "do-image";',
      'import * as legacy from "do-image";',
      'import { objectKey } from "do-image/internal";',
      'export const key: string = objectKey("0".repeat(64), "app.qcow2");',
      "export const judge: (f: string) => Promise<ValidationReport> = (f) => validateImage(f);",
      "// do-image 0.2's root exports still type-check for one release.",
      "export const Old: typeof legacy.CustomImage = legacy.CustomImage;",
      'const image = new CustomImage("app", { file: "build/app.qcow2", regions: ["nyc3", "sfo3"], spaces: { bucket: "images" } });',
      'const droplet = new ImageDroplet("web", { image, region: "nyc3", size: "s-1vcpu-1gb", sshKeys: ["aa:bb"] });',
      "export const id = image.imageId;",
      "export const ip = droplet.ipv4Address;",
      "// @ts-expect-error regions is a list, so a bare string does not type-check",
      'new CustomImage("bad", { url: "https://example.com/a.qcow2", regions: "nyc3" });',
    ].join("\n"),
  );
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], { cwd: project, stdio: "pipe", timeout: 240_000 });
  const tsc = spawnSync(process.execPath, [join(project, "node_modules", "typescript", "bin", "tsc"), "-p", project], { encoding: "utf8" });
  expect(tsc.stdout + tsc.stderr).toBe("");
  expect(tsc.status).toBe(0);
  // What the provider host loads by name, and the CLI, are in the package too.
  expect(execFileSync("node", ["-e", 'console.log(typeof require("do-image/pulumi-engine").create)'], { cwd: project, encoding: "utf8" }).trim()).toBe(
    "function",
  );
  const bin = join(project, "node_modules", ".bin", "do-image");
  expect(execFileSync(bin, ["--help"], { cwd: project, encoding: "utf8" })).toMatch(/validate/);
  // The installed executable runs the bundle (dist/cli), bzip2 workers included, and says what the modules say.
  expect(existsSync(join(project, "node_modules", "do-image", "dist", "cli", "main.js"))).toBe(true);
  expect(execFileSync(bin, ["--version"], { encoding: "utf8" }).trim()).toBe(version(ROOT));
  const sample = join(ROOT, "examples", "images", "debian-12-sample.raw.bz2");
  const modules = spawnSync(process.execPath, [join(ROOT, "dist", "provider", "cli", "main.js"), "validate", "--json", sample], { encoding: "utf8" });
  // The bundle runs through a code cache: the first run makes it, the second takes it, and both say the same.
  const env = { ...process.env, DO_IMAGE_CACHE: mkdtempSync(join(tmpdir(), "do-image-cache-")), NODE_DISABLE_COMPILE_CACHE: "" };
  for (const run of ["made", "hit"]) {
    const bundled = spawnSync(bin, ["validate", "--json", sample], { encoding: "utf8", env });
    expect({ run, status: bundled.status, report: JSON.parse(bundled.stdout) }).toEqual({ run, status: modules.status, report: JSON.parse(modules.stdout) });
    expect(readdirSync(join(env.DO_IMAGE_CACHE, "v8"))).toEqual([expect.stringMatching(/^validate-/)]);
  }
}, 300_000);
