// Validation as the pipeline runs it: keyed by content hash, skip list and the do-image version that judged.
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { UsageError } from "../errors";
import { cacheDir, packageVersion } from "../package";
import type { BootedValidation } from "../boot";
import type { BootWhen } from "../boot/when";
import { validateImage, type ValidationReport } from "../image";

/** A file the pipeline can read: it exists and is a regular file (a FIFO would block, a folder is a mistake). */
export async function requireFile(file: string, field = "file"): Promise<void> {
  const st = await stat(file).catch(() => null);
  if (!st || !st.isFile()) throw new UsageError(`${file} does not exist or is not a regular file`, { fix: "give the path of a disk image file", field });
}

/**
 * The validation report for a file whose content hash is known, from the cache when this content was judged before
 * by the same do-image version with the same skip list and boot choice (previews of an unchanged file then cost
 * nothing, and a boot runs once per content), else judged now and cached.
 */
export async function cachedValidation(
  file: string,
  sha256: string,
  skip: readonly string[] = [],
  boot: BootWhen = "never",
): Promise<ValidationReport | BootedValidation> {
  const cacheFile = join(
    cacheDir(),
    "validation",
    packageVersion(),
    `${sha256}-${[...skip].sort().join(",") || "none"}${boot === "never" ? "" : `-boot-${boot}`}.json`,
  );
  try {
    return { ...(JSON.parse(await readFile(cacheFile, "utf8")) as ValidationReport), file };
  } catch {
    const report = boot === "never" ? await validateImage(file, { skip }) : await (await import("../boot")).validateWithBoot(file, { skip, boot });
    await mkdir(dirname(cacheFile), { recursive: true });
    await writeFile(cacheFile, JSON.stringify(report));
    return report;
  }
}
