// Benchmarks of the image readers: inspect against `qemu-img info`, full-disk reads against `qemu-img convert` to its null driver.
import { join } from "node:path";
import { openImage } from "do-image";
import { largeQcow2, timeAsync, timeCommand, type Result } from "./support";

const cli = join(__dirname, "..", "provider", "cli", "bin.js"); // the executable a user runs

export async function benchImage(): Promise<Result[]> {
  const qcow2 = largeQcow2();
  const results: Result[] = [];

  const ours = timeCommand(process.execPath, [cli, "inspect", qcow2], 7);
  const ref = timeCommand("qemu-img", ["info", qcow2], 7);
  const floor = timeCommand(process.execPath, ["-e", "0"], 7);
  results.push({
    name: "do-image inspect vs qemu-img info (node start-up included)",
    ours: `${(ours * 1000).toFixed(0)} ms (of which bare \`node -e 0\` is ${(floor * 1000).toFixed(0)} ms, itself ${(floor / ref).toFixed(1)}× the reference)`,
    reference: `${(ref * 1000).toFixed(0)} ms`,
    ratio: ours / ref,
    target: "≤ 5×",
    pass: ours / ref <= 5,
  });

  // Medians of 7: on this shared machine a run of either side can take twice as long as the next.
  const chunk = 8 * 1024 * 1024;
  let size = 0;
  const read = await timeAsync(async () => {
    const image = await openImage(qcow2);
    size = image.disk.size;
    // Into one buffer, as `convert` and push's conversion read (qemu-img too reuses its buffers).
    const buffer = Buffer.allocUnsafe(chunk);
    for (let off = 0; off < size; off += chunk) await image.disk.readInto(buffer, 0, Math.min(chunk, size - off), off);
    await image.close();
  }, 7);
  // qemu-img reading the same and writing nothing (its null driver): a file target would add the writing of 2 GiB.
  const convert = timeCommand("qemu-img", ["convert", "-n", qcow2, "--target-image-opts", `driver=null-co,size=${size}`], 7);
  const mbps = (t: number) => `${(size / t / 1e6).toFixed(0)} MB/s`;
  results.push({
    name: "qcow2 full-disk read throughput (8 MiB reads into one buffer) vs qemu-img convert to its null driver",
    ours: mbps(read),
    reference: mbps(convert),
    ratio: convert / read,
    target: "≥ 0.8×",
    pass: convert / read >= 0.8,
  });
  return results;
}
