// Runs one upload in its own process (hash, then the object under its content key, as push does) so its peak RSS can be measured: prints { seconds, hashSeconds, maxRssMB }.
import { objectKey, sha256File, uploadObject } from "do-image/internal";

async function main(): Promise<void> {
  const [file, what] = process.argv.slice(2);
  const t0 = process.hrtime.bigint();
  let partsDone = 0n;
  if (what === "hash") await sha256File(file);
  else {
    const { sha256 } = await sha256File(file);
    await uploadObject(file, {
      bucket: process.env.SPACES_BUCKET!,
      key: objectKey(sha256, file, `bench-${Date.now()}`),
      sha256,
      onProgress: (p) => {
        if (p.phase === "upload" && p.bytes === p.total && partsDone === 0n) partsDone = process.hrtime.bigint();
      },
    });
  }
  const end = process.hrtime.bigint();
  const seconds = Number(end - t0) / 1e9;
  const partsSeconds = partsDone ? Number(partsDone - t0) / 1e9 : seconds;
  process.stdout.write(JSON.stringify({ seconds, partsSeconds, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
