// Benchmarks of `do-image validate`: against qemu-img info (uncompressed), gzip -dc and lbzip2 -dc -n2 on the same files.
import { join } from "node:path";
import { compressed, have, largeQcow2, timeCommand, type Result } from "./support";

const cli = join(__dirname, "..", "provider", "cli", "bin.js"); // the executable a user runs

export function benchValidate(): Result[] {
  const qcow2 = largeQcow2();
  const results: Result[] = [];
  const validate = (file: string, runs: number) => timeCommand(process.execPath, [cli, "validate", "--json", file], runs);
  const ms = (t: number) => `${(t * 1000).toFixed(0)} ms`;

  const ours = validate(qcow2, 7);
  const info = timeCommand("qemu-img", ["info", qcow2], 7);
  const floor = timeCommand(process.execPath, ["-e", "0"], 7);
  results.push({
    name: "validate qcow2 (2 GiB virtual) vs qemu-img info",
    ours: `${ms(ours)} (bare node start-up ${ms(floor)})`,
    reference: ms(info),
    ratio: ours / info,
    target: "≤ 5×",
    pass: ours / info <= 5,
  });

  const gz = compressed(qcow2, "gz");
  const oursGz = validate(gz, 3);
  const gunzip = timeCommand("bash", ["-c", `gzip -dc ${gz} >/dev/null`], 3);
  results.push({
    name: "validate qcow2.gz vs gzip -dc >/dev/null",
    ours: ms(oursGz),
    reference: ms(gunzip),
    ratio: oursGz / gunzip,
    target: "≤ 1.0×",
    pass: oursGz / gunzip <= 1.0,
  });

  if (have("lbzip2")) {
    const bz2 = compressed(qcow2, "bz2");
    const oursBz = validate(bz2, 3);
    const lbzip2 = timeCommand("bash", ["-c", `lbzip2 -dc -n2 ${bz2} >/dev/null`], 3);
    results.push({
      name: "validate qcow2.bz2 vs lbzip2 -dc -n2 >/dev/null",
      ours: ms(oursBz),
      reference: ms(lbzip2),
      ratio: oursBz / lbzip2,
      target: "≤ 2×",
      pass: oursBz / lbzip2 <= 2,
    });
  } else console.error("bench: lbzip2 not installed (apt-get install lbzip2); skipping the bzip2 figure");
  return results;
}
