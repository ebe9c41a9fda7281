// `make bench`: runs every benchmark and prints each figure as a ratio to a reference tool measured in the same run.
import { benchImage } from "./image";
import { benchLink } from "./link";
import { have, report, type Result } from "./support";
import { benchPulumi } from "./pulumi";
import { benchUpload } from "./upload";
import { benchStartup } from "./startup";
import { benchValidate } from "./validate";

async function main(): Promise<void> {
  const missing = ["qemu-img", "sgdisk", "mkfs.ext4"].filter((t) => !have(t));
  if (missing.length) {
    console.error(`bench: needs ${missing.join(", ")} (Debian: apt-get install qemu-utils gdisk e2fsprogs)`);
    process.exit(2);
  }
  const results: Result[] = [];
  const only = process.argv[2];
  if (!only || only === "startup") results.push(...benchStartup());
  if (!only || only === "image") results.push(...(await benchImage()));
  if (!only || only === "validate") results.push(...benchValidate());
  if (!only || only === "upload") results.push(...(await benchUpload()));
  if (!only || only === "link") results.push(...(await benchLink()));
  if (!only || only === "pulumi") results.push(...(await benchPulumi()));
  report(results, process.env.BENCH_JSON);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
