// check and diff: the user's inputs judged by the core's rules (and the image by validate) at preview, and what changed.
import type * as pulumi from "@pulumi/pulumi";
import type { CustomImageInputs, CustomImageState } from "./types";

/** The engine's placeholder for a value another resource has not produced yet (a preview), as the SDK exports it. */
function unknownTest(): (v: unknown) => boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { unknownValue } = (require("@pulumi/pulumi") as typeof pulumi).runtime;
  return (v) => v === unknownValue;
}

/** Drops undefined values: the engine's Struct cannot carry them. */
export function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export async function check(olds: Partial<CustomImageInputs>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const { schemaFailures } = await import("./schema");
  // The shape first, by the published schema: a wrongly typed input is reported as the schema describes it.
  const isUnknown = unknownTest();
  const shape = schemaFailures(news, isUnknown);
  const { checkInputs, cachedValidation, failureLines, requireFile, sha256File } = await import("../../internal");
  const raw = { ...news, name: news.name ?? news.resourceName } as unknown as CustomImageInputs;
  // Then the core's rules, on inputs of the right shape; a property the schema already faulted is not reported twice.
  if (shape.length > 0) {
    const rules = (() => {
      try {
        return checkInputs(raw, { isUnknown }).problems;
      } catch {
        return [];
      }
    })();
    const faulted = (field: string) => shape.some((f) => f.property === field || f.property.startsWith(`${field}.`) || f.property.startsWith(`${field}[`));
    return { inputs: news, failures: [...shape, ...rules.filter((p) => !faulted(p.field)).map((p) => ({ property: p.field, reason: p.reason }))] };
  }
  const { inputs, problems } = checkInputs(raw, { isUnknown });
  const failures: pulumi.dynamic.CheckFailure[] = problems.map((p) => ({ property: p.field, reason: p.reason }));
  const result = { ...raw, ...inputs } as CustomImageInputs;

  const file = raw.file;
  if (typeof file === "string" && !isUnknown(file) && failures.length === 0) {
    const missing = await requireFile(file).catch((err: Error) => err);
    if (missing) failures.push({ property: "file", reason: `${missing.message} (paths are relative to the Pulumi program's directory)` });
    else {
      result.sha256 = (await sha256File(file)).sha256;
      // Same content as the image in state: it was validated when created, so preview stays cheap.
      if (olds.sha256 !== result.sha256) {
        const report = await cachedValidation(file, result.sha256, raw.validation?.skip ?? [], raw.validation?.boot);
        for (const line of failureLines(report)) failures.push({ property: "file", reason: line });
      }
    }
  }
  return { inputs: defined(result), failures };
}

/**
 * Replacement triggers, each for a reason the API imposes:
 * - sha256: the file's content changed, and an image's content cannot change: a new image is imported.
 * - url: a different source is a different image, for the same reason.
 * - regions: a region removed from the list; DigitalOcean can add regions to an image but never remove one.
 * Added regions, name, description, distribution and tags are updated in place. Nothing else (file path with the
 * same content, spaces or validation settings, timeouts, the serialized provider) causes a diff.
 */
export async function diff(_id: string, olds: CustomImageState, news: CustomImageInputs): Promise<pulumi.dynamic.DiffResult> {
  const replaces: string[] = [];
  const changes = new Set<string>();
  if (news.sha256 !== undefined && olds.sha256 !== undefined && news.sha256 !== olds.sha256) replaces.push("file");
  if ((news.url ?? null) !== (olds.url ?? null)) replaces.push(news.url !== undefined ? "url" : "file");
  const desired = new Set(olds.desiredRegions ?? olds.regions ?? []);
  const actual = new Set(olds.actualRegions ?? olds.regions ?? []);
  const wanted = new Set(news.regions ?? []);
  const removed = [...desired].filter((r) => !wanted.has(r));
  if (removed.length > 0) replaces.push("regions");
  if ([...wanted].some((r) => !actual.has(r))) changes.add("regions");
  for (const k of ["name", "description", "distribution"] as const)
    if ((news[k] ?? "") !== (olds[k] ?? "") && !(k === "distribution" && !news[k])) changes.add(k);
  const sortedTags = (t: string[] | undefined) => JSON.stringify([...new Set(t ?? [])].sort());
  if (sortedTags(news.tags) !== sortedTags(olds.tags)) changes.add("tags");
  return { changes: replaces.length > 0 || changes.size > 0, replaces, deleteBeforeReplace: false };
}
