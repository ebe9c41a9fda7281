// Benchmarks of the Pulumi provider through Pulumi's own host: adding 4 regions vs one transfer time, and check + diff cost.
import { join } from "node:path";
import { CustomImage } from "do-image/pulumi";
import { startLocalDigitalOcean } from "../tools/local-do/emulator";
import { serializeWithMocks, startProviderHost } from "../tools/local-do/pulumi-host";
import { largeQcow2, median, type Result } from "./support";

const SAMPLE = join(__dirname, "..", "..", "examples", "images", "debian-12-sample.qcow2");
const T = 10_000;

export async function benchPulumi(): Promise<Result[]> {
  const local = await startLocalDigitalOcean({ api: { timings: { importMs: 100, transferMs: T, bootMs: 100 } }, s3: { buckets: ["images"] } });
  // The sample is a skeleton with no kernel or boot loader: its two boot checks are accepted, as the example stack does.
  const inputs = await serializeWithMocks(() => [
    new CustomImage("app", { file: SAMPLE, regions: ["nyc3"], spaces: { bucket: "images" }, validation: { skip: ["boot-loader", "kernel"] } }),
  ]);
  const base = inputs.get("app")!;
  const host = await startProviderHost();
  try {
    await host.configure(local.stackConfig);
    const checked = await host.check({}, { ...base, file: SAMPLE });
    const created = await host.create(checked.inputs);
    const more = await host.check(created.properties, { ...base, file: SAMPLE, regions: ["nyc3", "sfo3", "ams3", "lon1", "fra1"] });
    const t0 = Date.now();
    await host.update(created.id, created.properties, more.inputs);
    const fourRegions = Date.now() - t0;

    // check + diff of an unchanged large image, as every `pulumi preview` (and every reconciliation) does.
    const big = largeQcow2();
    const first = await host.check({}, { ...base, file: big });
    const state = { ...created.properties, ...first.inputs };
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = process.hrtime.bigint();
      const c = await host.check(state, { ...base, file: big });
      await host.diff(created.id, state, c.inputs);
      times.push(Number(process.hrtime.bigint() - s) / 1e9);
    }
    const checkDiff = median(times);
    return [
      {
        name: `add 4 regions with a transfer time T = ${T / 1000} s (Terraform and Packer transfer one at a time: 4T)`,
        ours: `${(fourRegions / 1000).toFixed(1)} s`,
        reference: `T = ${T / 1000} s`,
        ratio: fourRegions / T,
        target: "≤ 1.3×",
        pass: fourRegions / T <= 1.3,
      },
      {
        name: "check + diff on an unchanged 2 GiB image, over gRPC",
        ours: `${(checkDiff * 1000).toFixed(0)} ms`,
        reference: "0.2 s budget",
        ratio: checkDiff / 0.2,
        target: "≤ 1.0 (≤ 0.2 s)",
        pass: checkDiff <= 0.2,
      },
    ];
  } finally {
    await host.close();
    await local.close();
  }
}
