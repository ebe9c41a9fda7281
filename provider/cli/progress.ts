// Publish progress for `push` and `regions add`: a bar on a terminal, a line every 5 s or 5 % elsewhere (CI logs).
import { Presets, SingleBar } from "cli-progress";
import type { PublishEvent, PublishResult } from "../publish";
import type { Progress } from "../spaces";
import { bytes, colour as c } from "./format";

/** Progress phases as a log names them; "converting" reads the disk, compresses and uploads at once. */
const LABEL: Record<Progress["phase"], string> = {
  hash: "hashing",
  upload: "uploading",
  convert: "converting",
};

/** Renders publish events: a progress bar for hashing and uploading on a terminal, one line per step otherwise. */
export function progressPrinter(out: NodeJS.WriteStream = process.stderr): { onEvent: (e: PublishEvent) => void; stop: () => void } {
  let bar: SingleBar | null = null;
  let phase = "";
  let lastPct = -5;
  let lastAt = 0;
  const lastStatus = new Map<string, string>();
  const line = (s: string) => {
    bar?.stop();
    bar = null;
    out.write(`${s}\n`);
  };
  const onEvent = (e: PublishEvent) => {
    switch (e.type) {
      case "validated":
        line(
          `${c.green("✓")} validated: ${e.report.checks.filter((k) => k.status === "pass").length} checks pass${e.report.checks.some((k) => k.status === "warn") ? `, ${e.report.checks.filter((k) => k.status === "warn").length} warn` : ""}`,
        );
        break;
      case "progress": {
        if (e.progress.phase !== phase) lastPct = -5;
        const p = e.progress;
        if (!out.isTTY) {
          // A log gets a line when the phase starts, then every 5 % or 5 s, whichever comes first, and at the end.
          const pct = Math.floor((p.bytes / Math.max(1, p.total)) * 100);
          const now = Date.now();
          if (p.phase !== phase || pct >= lastPct + 5 || now - lastAt >= 5000 || (p.bytes === p.total && lastPct < 100)) {
            out.write(`${LABEL[p.phase]} ${pct}% (${bytes(p.bytes)} of ${bytes(p.total)}${p.rate > 0 ? `, ${bytes(p.rate)}/s` : ""})\n`);
            lastPct = pct;
            lastAt = now;
          }
          phase = p.phase;
          return;
        }
        if (p.phase !== phase || !bar) {
          bar?.stop();
          phase = p.phase;
          bar = new SingleBar(
            {
              format: `${LABEL[p.phase].padEnd(10)} [{bar}] {percentage}% | {done} of {all} | {speed}/s | {eta_text}`,
              stream: out,
              hideCursor: true,
              clearOnComplete: false,
            },
            Presets.shades_classic,
          );
          bar.start(p.total, 0, { done: "0 B", all: bytes(p.total), speed: "–", eta_text: "" });
          // cli-progress shows "ETA NFs" until it has a rate; say nothing until there is one.
        }
        bar.update(p.bytes, {
          done: bytes(p.bytes),
          all: bytes(p.total),
          speed: bytes(p.rate),
          eta_text: p.rate > 0 && Number.isFinite(p.etaSeconds) ? `ETA ${Math.ceil(p.etaSeconds)} s` : "",
        });
        break;
      }
      case "sending-as":
        line(`  sending it ${e.format === "qcow2" ? "as a compressed qcow2" : e.format === "gzip" ? "gzip-compressed" : "as it is"}: ${e.reason}`);
        break;
      case "converted":
        line(
          e.format === "qcow2"
            ? `${c.green("✓")} converted to a compressed qcow2: ${bytes(e.bytes)} for a ${bytes(e.virtualSize)} disk (${e.dataClusters} clusters of data)`
            : `${c.green("✓")} gzip-compressed: ${bytes(e.bytes)} for a ${bytes(e.fileSize)} file`,
        );
        break;
      case "uploaded":
        line(
          e.upload.reused
            ? `${c.green("✓")} already in ${e.upload.bucket}: ${e.upload.key} (nothing uploaded)`
            : `${c.green("✓")} uploaded ${bytes(e.upload.bytesUploaded)} to ${e.upload.bucket}/${e.upload.key}${e.upload.partsReused ? ` (resumed: ${e.upload.partsReused} parts were already there)` : ""}`,
        );
        break;
      case "adopted":
        line(`${c.green("✓")} found image ${e.image.id} from an earlier attempt (status ${e.image.status}); carrying on with it`);
        break;
      case "waiting":
        line(`  waiting for another do-image on this machine that is pushing the same content (lock ${e.lock})`);
        break;
      case "duplicate-removed":
        line(`${c.green("✓")} another push created image ${e.image.id} of the same content first; deleted this push's duplicate ${e.duplicate}`);
        break;
      case "updated":
        line(`${c.green("✓")} updated image ${e.image.id} in place: ${e.changed.join(", ")}`);
        break;
      case "importing":
        if (!out.isTTY && Date.now() - lastAt >= 5000 && lastStatus.get("import") === e.status) {
          line(`  import of image ${e.image.id}: still ${e.status} (${Math.round(e.elapsedMs / 1000)} s)`);
          lastAt = Date.now();
        }
        if (lastStatus.get("import") !== e.status) line(`  import of image ${e.image.id}: ${e.status} (${Math.round(e.elapsedMs / 1000)} s)`);
        lastStatus.set("import", e.status);
        break;
      case "imported":
        line(`${c.green("✓")} image ${e.image.id} is available in ${e.image.regions.join(", ")}`);
        break;
      case "transferring":
        if (!out.isTTY && Date.now() - lastAt >= 5000 && lastStatus.get(e.region) === e.status) {
          line(`  transfer to ${e.region}: still ${e.status} (${Math.round(e.elapsedMs / 1000)} s)`);
          lastAt = Date.now();
        }
        if (lastStatus.get(e.region) !== e.status) line(`  transfer to ${e.region}: ${e.status} (${Math.round(e.elapsedMs / 1000)} s)`);
        lastStatus.set(e.region, e.status);
        break;
      case "transferred":
        line(`${c.green("✓")} transferred to ${e.region}`);
        break;
      case "cleaned":
        line(`${c.green("✓")} deleted the uploaded object ${e.what}`);
        break;
    }
  };
  return { onEvent, stop: () => bar?.stop() };
}

export function renderPushed(r: PublishResult): string {
  return `${c.bold(String(r.image.id))}  ${r.image.name}  ${r.image.regions.join(",")}`;
}
