// `make boot-matrix`: boots every corpus image through `do-image boot`, validates it, and prints where they agree.
// Exits 1 when validate disagrees with a boot, or a boot disagrees with what the corpus says the variant does.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { validateImage } from "../../provider/image";
import { bootCorpus, bootWithCli, CHECK_FOR_STAGE, pool } from "../support/corpus";

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const corpus = bootCorpus(only);
  if (!corpus.dir) throw new Error(`boot corpus unavailable: ${corpus.reason}`);
  const images = corpus.images.filter((i) => only.length === 0 || only.includes(i.name));
  // BOOT_MATRIX_KEEP=DIR keeps each image's console and JSON report there.
  const keep = process.env.BOOT_MATRIX_KEEP;
  if (keep) mkdirSync(keep, { recursive: true });
  process.stderr.write(`booting ${images.length} images, two at a time (TCG on 2 cores takes 1–3 minutes each)\n`);
  const rows = await pool(images, 2, async (img) => {
    const t0 = Date.now();
    const boot = await bootWithCli(img.path, keep ? join(keep, `${img.name}.console`) : undefined);
    if (keep) writeFileSync(join(keep, `${img.name}.json`), JSON.stringify(boot.report, null, 2));
    const v = await validateImage(img.path);
    const failing = v.checks.filter((c) => c.status === "fail").map((c) => c.id);
    const warned = v.checks.filter((c) => c.status === "warn").map((c) => c.id);
    const works = boot.report.verdict === "works";
    const predicted = !works && boot.report.failedStage ? failing.some((id) => CHECK_FOR_STAGE[boot.report.failedStage!]?.includes(id)) : true;
    const agree = v.ok === works && predicted;
    const asDesigned = (img.expect === "works") === works && (works || img.stage === boot.report.failedStage);
    process.stderr.write(
      `  ${img.name}: ${boot.report.verdict}${works ? "" : ` at ${boot.report.failedStage}`} in ${Math.round((Date.now() - t0) / 1000)} s\n`,
    );
    return { img, boot, failing, warned, agree, asDesigned, validateOk: v.ok };
  });
  const header = ["image", "boot", "failed stage", "boot s", "datasource", "validate", "failing / warned checks", "agree"];
  const table = rows.map((r) => [
    r.img.name,
    r.boot.report.verdict,
    r.boot.report.failedStage ?? "",
    r.boot.report.seconds.toFixed(0),
    r.boot.report.datasource?.replace(/^DataSource/, "") ?? "",
    r.validateOk ? "ok" : "fails",
    [...r.failing, ...r.warned.map((w) => `(${w})`)].join(" "),
    r.agree && r.asDesigned ? "yes" : r.agree ? "yes (not as designed)" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const t of table) console.log(line(t));
  const bad = rows.filter((r) => !r.agree || !r.asDesigned);
  console.log(`\n${rows.length - bad.length} passed, ${bad.length} failed`);
  if (bad.length > 0) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 2;
});
