// The CDKTF example as a user runs it: the real cdktf-cli's `cdktf synth` in examples/cdktf, with no machine paths in
// what it writes.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");
const EXAMPLE = join(ROOT, "examples", "cdktf");

test("cdktf synth in examples/cdktf validates the image and writes relative paths only", () => {
  rmSync(join(EXAMPLE, "cdktf.out"), { recursive: true, force: true });
  const tfConfig = join(mkdtempSync(join(tmpdir(), "tfrc-")), "empty.tfrc");
  writeFileSync(tfConfig, "");
  const r = spawnSync(join(ROOT, "node_modules", ".bin", "cdktf"), ["synth"], {
    cwd: EXAMPLE,
    encoding: "utf8",
    // No telemetry or update checks (no network here), and a Terraform CLI config that exists.
    env: { ...process.env, CHECKPOINT_DISABLE: "1", CDKTF_DISABLE_TELEMETRY: "true", TF_CLI_CONFIG_FILE: tfConfig, CI: "1" },
    timeout: 300_000,
  });
  expect({ status: r.status, stderr: r.status === 0 ? "" : `${r.stdout}\n${r.stderr}` }).toEqual({ status: 0, stderr: "" });
  const text = readFileSync(join(EXAMPLE, "cdktf.out", "stacks", "do-image-example", "cdk.tf.json"), "utf8");
  const object = Object.values(JSON.parse(text).resource.digitalocean_spaces_bucket_object)[0] as { source: string; etag: string };
  expect(object.source).toBe("../../../../images/debian-12-sample.qcow2");
  expect(object.etag).toBe('${filemd5("../../../../images/debian-12-sample.qcow2")}');
  expect(text).not.toContain(ROOT);
  rmSync(join(EXAMPLE, "cdktf.out"), { recursive: true, force: true });
}, 300_000);
