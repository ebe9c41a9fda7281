// Validation as the pipeline runs it: keyed by content hash, skip list and the do-image version that judged.
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { UsageError } from "../errors";
import { cacheDir, packageVersion } from "../package";
import { validateImage, type ValidationReport } from "../image";

/** A file the pipeline can read: it exists and is a regular file (a FIFO would block, a folder is a mistake). */
export async function requireFile(file: string, field = "file"): Promise<void> {
  const st = await stat(file).catch(() => null);
  if (!st || !st.isFile()) throw new UsageError(`${file} does not exist or is not a regular file`, "give the path of a disk image file", field);
}

/**
 * The validation report for a file whose content hash is known, from the cache when this content was judged before
 * by the same do-image version with the same skip list (previews of an unchanged file then cost nothing), else
 * judged now and cached.
 */
export async function cachedValidation(file: string, sha256: string, skip: readonly string[] = []): Promise<ValidationReport> {
  const cacheFile = join(cacheDir(), "validation", packageVersion(), `${sha256}-${[...skip].sort().join(",") || "none"}.json`);
  try {
    return { ...(JSON.parse(await readFile(cacheFile, "utf8")) as ValidationReport), file };
  } catch {
    const report = await validateImage(file, { skip });
    await mkdir(dirname(cacheFile), { recursive: true });
    await writeFile(cacheFile, JSON.stringify(report));
    return report;
  }
}
