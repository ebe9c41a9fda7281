// `do-image push`, `ls`, `regions add` and `rm`: the publish pipeline and image management with progress on a terminal.
import { Presets, SingleBar } from "cli-progress";
import type { Image, PublishEvent, PublishResult } from "../digitalocean";
import { bytes, colour as c } from "./format";

/** Renders publish events: a progress bar for hashing and uploading on a terminal, one line per step otherwise. */
export function progressPrinter(out: NodeJS.WriteStream = process.stderr): { onEvent: (e: PublishEvent) => void; stop: () => void } {
  let bar: SingleBar | null = null;
  let phase = "";
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
        const p = e.progress;
        if (!out.isTTY) {
          if (p.phase !== phase) out.write(`${p.phase === "hash" ? "hashing" : "uploading"} ${bytes(p.total)}…\n`);
          phase = p.phase;
          return;
        }
        if (p.phase !== phase || !bar) {
          bar?.stop();
          phase = p.phase;
          bar = new SingleBar(
            {
              format: `${p.phase === "hash" ? "hashing  " : "uploading"} [{bar}] {percentage}% | {done} of {all} | {speed}/s | ETA {eta_formatted}`,
              stream: out,
              hideCursor: true,
              clearOnComplete: false,
            },
            Presets.shades_classic,
          );
          bar.start(p.total, 0, { done: "0 B", all: bytes(p.total), speed: "–" });
        }
        bar.update(p.bytes, { done: bytes(p.bytes), all: bytes(p.total), speed: bytes(p.rate) });
        break;
      }
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
      case "importing":
        if (lastStatus.get("import") !== e.status) line(`  import of image ${e.image.id}: ${e.status} (${Math.round(e.elapsedMs / 1000)} s)`);
        lastStatus.set("import", e.status);
        break;
      case "imported":
        line(`${c.green("✓")} image ${e.image.id} is available in ${e.image.regions.join(", ")}`);
        break;
      case "transferring":
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

export function imageJson(image: Image) {
  return {
    id: image.id,
    name: image.name,
    status: image.status,
    regions: image.regions,
    distribution: image.distribution,
    description: image.description ?? "",
    tags: image.tags,
    sizeGigabytes: image.size_gigabytes,
    minDiskSize: image.min_disk_size,
    createdAt: image.created_at,
    ...(image.error_message ? { errorMessage: image.error_message } : {}),
  };
}

export function renderPushed(r: PublishResult): string {
  return `${c.bold(String(r.image.id))}  ${r.image.name}  ${r.image.regions.join(",")}`;
}
