// The entry points: "do-image" (the core) and the CLI load with Pulumi and CDKTF absent; "do-image/pulumi" has the resources.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");
const SAMPLE = join(ROOT, "examples", "images", "debian-12-sample.qcow2");

/** A preload that makes Pulumi and CDKTF unresolvable, as on a machine where only the core's dependencies are installed. */
function withoutFaces(): string {
  const file = join(mkdtempSync(join(tmpdir(), "no-faces-")), "block.js");
  writeFileSync(
    file,
    `const Module = require("module");
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (/^(@pulumi\\/|cdktf$|@cdktf\\/|constructs$)/.test(request)) { const e = new Error("Cannot find module '" + request + "'"); e.code = "MODULE_NOT_FOUND"; throw e; }
  return resolve.call(this, request, ...rest);
};`,
  );
  return file;
}

const node = (args: string[]) => spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });

test("the core entry loads and validates with @pulumi/pulumi and cdktf unresolvable, and loads none of them", () => {
  const block = withoutFaces();
  const script = `
    const core = require("./dist/provider/index.js");
    core.validateImage(${JSON.stringify(SAMPLE)}).then((r) => {
      const loaded = Object.keys(require.cache).filter((f) => /node_modules\\/(@pulumi|cdktf|@cdktf|constructs)\\//.test(f));
      console.log(JSON.stringify({ checks: r.checks.length, publish: typeof core.publishImage, loaded }));
    });`;
  const r = node(["-r", block, "-e", script]);
  expect(r.stderr).toBe("");
  expect(JSON.parse(r.stdout)).toEqual({ checks: 12, publish: "function", loaded: [] });
  // The blocker really blocks: the Pulumi entry cannot load.
  const pulumi = node(["-r", block, "-e", 'require("./dist/provider/pulumi/index.js")']);
  expect(pulumi.status).not.toBe(0);
  expect(pulumi.stderr).toMatch(/Cannot find module '@pulumi\/pulumi'/);
});

test("the CLI inspects with Pulumi and CDKTF unresolvable", () => {
  const r = node(["-r", withoutFaces(), "dist/provider/cli/main.js", "inspect", "--json", SAMPLE]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout).format).toBe("qcow2");
});

test("do-image 0.2's root exports of the Pulumi resources still resolve, with a deprecation warning", () => {
  const r = node([
    "-e",
    'const m = require("./dist/provider/index.js"); console.log(m.CustomImage === require("./dist/provider/pulumi/index.js").CustomImage)',
  ]);
  expect(r.stdout.trim()).toBe("true");
  expect(r.stderr).toMatch(/DeprecationWarning: importing CustomImage from "do-image" is deprecated: import it from "do-image\/pulumi"/);
});

test("the core entry exports what a user program calls; the building blocks are in do-image/internal", () => {
  const script = `
    const core = require("./dist/provider/index.js");
    const internal = require("./dist/provider/internal.js");
    console.log(JSON.stringify({ core: Object.keys(core).sort(), internal: Object.keys(internal).sort(),
      loaded: Object.keys(require.cache).filter((f) => /\\/boot\\/(boot|ssh|qemu|metadata|validate)\\.js|\\/(pulumi|cdktf)\\/|node_modules\\/ssh2\\//.test(f)).length }));`;
  const r = node(["-e", script]);
  expect(r.stderr).toBe("");
  const { core, internal, loaded } = JSON.parse(r.stdout) as { core: string[]; internal: string[]; loaded: number };
  // A name added here is a promise to users: add it on purpose, with its README entry.
  expect(core).toEqual(
    [
      ...["DoImageError", "UsageError", "EXIT", "ERROR_CODES", "exitCodeOf", "errorJson"],
      ...["ImageError", "openImage", "inspectImage", "validateImage", "writeCompressedQcow2", "CHECK_IDS"],
      ...["publishImage", "addRegions", "updateImage", "deleteImage", "checkInputs", "PublishError", "ValidationFailedError", "DISTRIBUTIONS"],
      ...["DigitalOceanClient", "DigitalOceanError", "ImportFailedError", "TransferFailedError", "WaitTimeoutError", "MissingTokenError"],
      ...["resolveApiSettings", "SpacesError", "MissingSpacesKeysError", "resolveSpacesSettings", "collectUnfinishedUploads"],
      ...["bootImage", "validateWithBoot", "startGuest"],
    ].sort(),
  );
  // Neither entry loads the boot layer's machinery (QEMU, SSH), a face, or ssh2 until a boot is asked for.
  expect(loaded).toBe(0);
  // The internal entry holds every non-boot name of the core, and the layers' building blocks besides.
  expect(core.filter((n) => !internal.includes(n))).toEqual(["bootImage", "startGuest", "validateWithBoot"]);
  expect(internal).toEqual(expect.arrayContaining(["objectKey", "HttpClient", "decideDatasources", "uploadObject", "sha256File", "RateLimiter"]));
});
