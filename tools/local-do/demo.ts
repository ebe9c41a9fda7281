// `make demo`: the whole job on the bundled sample image with no account: validate, then the example stack's
// preview, up and destroy through the test runner against the local DigitalOcean emulator and S3 server.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalDigitalOcean } from "./emulator";
import { packageRoot } from "./root";
import { runStack } from "./runner/client";

const ROOT = packageRoot();
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

async function main(): Promise<void> {
  const t0 = Date.now();
  const sample = join(ROOT, "examples", "images", "debian-12-sample.qcow2");
  console.log(bold("\n1. Validate the sample image locally (no upload yet)\n"));
  console.log("   The sample is a skeleton: a guest tree with cloud-init and sshd, but no kernel and no boot loader. Its");
  console.log("   boot-loader and kernel checks can only fail, so they are accepted here (--skip), and the example stack");
  console.log("   accepts the same two for the sample. `make boot-matrix` boots real Debian systems instead.\n");
  spawnSync(process.execPath, [join(ROOT, "dist", "provider", "cli", "main.js"), "validate", "--skip", "boot-loader,kernel", sample], { stdio: "inherit" });

  console.log(bold("\n2. Start a local DigitalOcean (API emulator + S3 server standing in for Spaces)\n"));
  const local = await startLocalDigitalOcean({ api: { timings: { importMs: 1500, transferMs: 2000, bootMs: 1000 } }, s3: { buckets: ["do-image-demo"] } });
  console.log(`   API ${local.api.url}   Spaces ${local.s3.url}`);
  const opts = {
    program: join(ROOT, "dist", "examples", "pulumi", "index.js"),
    project: "do-image-example",
    stack: "demo",
    stateFile: join(mkdtempSync(join(tmpdir(), "do-image-demo-")), "state.json"),
    env: { ...process.env, DO_IMAGE_CACHE: mkdtempSync(join(tmpdir(), "do-image-demo-cache-")), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    config: {
      ...local.stackConfig,
      "do-image-example:bucket": "do-image-demo",
      "do-image-example:sshKeys": JSON.stringify(["3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa"]),
      "do-image-example:regions": JSON.stringify(["nyc3", "sfo3"]),
    },
  };
  const print = (line: string) => console.log(`   ${line}`);
  try {
    console.log(bold("\n3. Preview the example stack (examples/pulumi): the plan\n"));
    await runStack("preview", opts, print);
    console.log(bold("\n4. Up: validate, upload, import, copy to the second region, boot a Droplet in each\n"));
    const up = await runStack("up", opts, print);
    console.log(bold("\n   Outputs\n"));
    for (const [k, v] of Object.entries(up.outputs)) console.log(`   ${k.padEnd(13)} ${JSON.stringify(v)}`);
    console.log(bold("\n5. Up again: nothing to do\n"));
    const again = await runStack("up", opts, print);
    console.log(`   ${again.ops.filter((o) => o.op !== "same").length} changes`);
    console.log(bold("\n6. Destroy: Droplets, image and uploaded objects removed\n"));
    await runStack("destroy", opts, print);
    const left = await local.s3.contents("do-image-demo");
    console.log(
      `   left behind: ${local.api.state.images.length} images, ${local.api.state.droplets.length} Droplets, ${left.objects.length} objects, ${left.uploads.length} unfinished uploads`,
    );
  } finally {
    await local.close();
  }
  console.log(bold(`\nDone in ${((Date.now() - t0) / 1000).toFixed(1)} s. With a real account: see "Pulumi" in README.md.\n`));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
