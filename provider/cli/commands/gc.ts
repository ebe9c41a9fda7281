// `do-image gc`: unfinished multipart uploads an interrupted push left, aborted.
import type { CommandSpec } from "../args";
import { jsonFlag, nonNegative, run } from "../common";
import { UsageError } from "../../errors";
import { writeOut } from "../output";

export const gc: CommandSpec = {
  name: "gc",
  description: "abort unfinished multipart uploads an interrupted push left in the bucket (their parts are billed until then)",
  flags: [
    { name: "bucket", value: "<name>", description: "Spaces bucket (default: $SPACES_BUCKET)" },
    { name: "spaces-region", value: "<slug>", description: "region of that bucket (default: $SPACES_REGION)" },
    { name: "key-prefix", value: "<prefix>", description: "only uploads under this prefix", default: "do-image" },
    {
      name: "older-than",
      value: "<hours>",
      description: "keep uploads started more recently than this, which a push may still resume (0: abort all)",
      parse: nonNegative,
      default: 24,
    },
    { name: "dry-run", description: "list what would be aborted, abort nothing" },
    jsonFlag(),
  ],
  run: async (_args, o) => {
    const { collectUnfinishedUploads } = await import("../../spaces");
    await run(o.json as boolean, async () => {
      const bucket = (o.bucket as string | undefined) ?? process.env.SPACES_BUCKET;
      if (!bucket) throw new UsageError("no bucket named", { fix: "pass --bucket NAME or set SPACES_BUCKET", field: "--bucket" });
      const keyPrefix = o.keyPrefix as string;
      const olderThan = o.olderThan as number;
      const r = await collectUnfinishedUploads({
        bucket,
        region: (o.spacesRegion as string | undefined) ?? process.env.SPACES_REGION,
        prefix: keyPrefix ? `${keyPrefix.replace(/\/+$/, "")}/` : "",
        olderThanMs: olderThan * 3_600_000,
        dryRun: o.dryRun as boolean | undefined,
      });
      const row = (u: { key: string; uploadId: string; initiated?: Date }) =>
        `${u.key} (upload ${u.uploadId}${u.initiated ? `, started ${u.initiated.toISOString()}` : ""})`;
      if (!o.json) {
        for (const u of r.aborted) writeOut(`${o.dryRun ? "would abort" : "aborted"} ${row(u)}\n`);
        for (const u of r.kept) writeOut(`kept ${row(u)}: newer than ${olderThan} h, a push may resume it\n`);
        if (r.aborted.length + r.kept.length === 0) writeOut(`no unfinished uploads under ${bucket}/${keyPrefix}\n`);
      }
      const json = (u: { key: string; uploadId: string; initiated?: Date }) => ({ ...u, initiated: u.initiated?.toISOString() ?? null });
      return { bucket, dryRun: Boolean(o.dryRun), aborted: r.aborted.map(json), kept: r.kept.map(json) };
    });
  },
};
