// What the dynamic provider does, loaded by name inside Pulumi's provider host: the serialized provider only forwards here.
import type * as pulumi from "@pulumi/pulumi";
import type { Image } from "../digitalocean";
import type { ValidationReport } from "../image";
import type { PublishEvent, PublishOptions, SpacesTarget } from "../digitalocean/publish";

/** Inputs after check: what the user gave (the core's publish options), normalised, plus the content hash and marker. */
export interface CustomImageInputs extends Pick<
  PublishOptions,
  "file" | "url" | "name" | "regions" | "importRegion" | "distribution" | "description" | "timeouts"
> {
  resourceName: string;
  tags: string[];
  spaces?: Omit<SpacesTarget, "accessKeyId" | "secretAccessKey" | "endpoint">;
  validation?: { skip?: string[] };
  /** SHA-256 of the file, computed by check: a changed file means a new image. */
  sha256?: string;
  /** Tag identifying this resource's image and content, so a retried create adopts the image it already started. */
  marker: string;
}

/** The plain, JSON-serialisable state the engine stores. */
export interface CustomImageState extends CustomImageInputs {
  imageId: number;
  status: string;
  /** Regions the image is actually in (desired ones are `desiredRegions`). */
  actualRegions: string[];
  desiredRegions: string[];
  sizeGigabytes: number | null;
  minDiskSize: number | null;
  createdAt: string;
  slug: string | null;
  type: string;
  public: boolean;
  objectKey?: string;
  bucket?: string;
  validationSummary?: { ok: boolean; warnings: string[] };
}

const INPUT_KEYS: (keyof CustomImageInputs)[] = [
  "resourceName",
  "file",
  "url",
  "name",
  "regions",
  "importRegion",
  "distribution",
  "description",
  "tags",
  "spaces",
  "validation",
  "timeouts",
  "sha256",
  "marker",
];

const REGION = /^[a-z]{3}\d$/;

/** Settings from stack config, set by configure in the provider host; never part of the serialized provider. */
const settings: { token?: string; apiEndpoint?: string; spacesAccessId?: string; spacesSecretKey?: string; spacesEndpoint?: string } = {};

export async function configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
  const get = (k: string) => req.config.get(`digitalocean:${k}`) as string | undefined;
  settings.token = get("token");
  settings.apiEndpoint = get("apiEndpoint");
  settings.spacesAccessId = get("spacesAccessId");
  settings.spacesSecretKey = get("spacesSecretKey");
  settings.spacesEndpoint = get("spacesEndpoint");
}

const api = () => ({ token: settings.token, endpoint: settings.apiEndpoint });
const spacesKeys = () => ({ accessKeyId: settings.spacesAccessId, secretAccessKey: settings.spacesSecretKey, endpoint: settings.spacesEndpoint });

/** Progress lines to the engine, ephemeral, while the host runs under `pulumi up` (the engine address is argv[2]). */
let engineClient: { log(req: unknown, cb: () => void): void } | null | undefined;
function progress(resource: string, message: string): void {
  if (engineClient === undefined) {
    const addr = process.argv[2];
    engineClient = null;
    if (addr && /:\d+$/.test(addr)) {
      try {
        /* eslint-disable @typescript-eslint/no-require-imports */
        const grpc = require("@grpc/grpc-js");
        const rpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
        /* eslint-enable @typescript-eslint/no-require-imports */
        engineClient = new rpc.EngineClient(addr, grpc.credentials.createInsecure());
      } catch {
        engineClient = null;
      }
    }
  }
  if (!engineClient) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const proto = require("@pulumi/pulumi/proto/engine_pb");
  const req = new proto.LogRequest();
  req.setSeverity(proto.LogSeverity.INFO);
  req.setMessage(`${resource}: ${message}`);
  req.setEphemeral(true);
  engineClient.log(req, () => undefined);
}

function describe(resource: string): (e: PublishEvent) => void {
  let lastPct = -10;
  return (e) => {
    switch (e.type) {
      case "progress": {
        const pct = Math.floor((e.progress.bytes / Math.max(1, e.progress.total)) * 100);
        if (pct >= lastPct + 10 || pct === 100) {
          lastPct = pct;
          progress(resource, `${e.progress.phase === "hash" ? "hashing" : "uploading"} ${pct}% (${(e.progress.rate / 1e6).toFixed(0)} MB/s)`);
        }
        if (pct === 100) lastPct = -10;
        break;
      }
      case "importing":
        progress(resource, `importing image ${e.image.id}: ${e.status} after ${Math.round(e.elapsedMs / 1000)} s`);
        break;
      case "transferring":
        progress(resource, `copying to ${e.region}: ${e.status} after ${Math.round(e.elapsedMs / 1000)} s`);
        break;
      case "adopted":
        progress(resource, `continuing with image ${e.image.id} from an earlier attempt`);
        break;
    }
  };
}

const unique = (xs: string[]) => [...new Set(xs)];
const isUnknown = (v: unknown) => typeof v === "string" && v === "04da6b54-80e4-46f7-96ec-b56ff0331ba9"; // the engine's unknown sentinel

export async function check(olds: Partial<CustomImageInputs>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  const fail = (property: string, reason: string) => failures.push({ property, reason });
  const inputs = { ...news } as Record<string, unknown>;
  const file = news.file as string | undefined;
  const url = news.url as string | undefined;
  if ((file === undefined) === (url === undefined))
    fail(file === undefined ? "file" : "url", "give exactly one of file (a local image to upload) and url (an image already online)");
  const regions = news.regions;
  if (!Array.isArray(regions) || regions.length === 0) fail("regions", 'regions must list at least one region slug, e.g. ["nyc3"]');
  else {
    for (const [i, r] of regions.entries())
      if (!isUnknown(r) && (typeof r !== "string" || !REGION.test(r)))
        fail(`regions[${i}]`, `"${String(r)}" is not a region slug (three letters and a digit, e.g. nyc3)`);
    inputs.regions = unique(regions as string[]);
  }
  if (news.importRegion !== undefined && Array.isArray(regions) && !regions.includes(news.importRegion))
    fail("importRegion", `importRegion "${String(news.importRegion)}" must be one of regions`);
  inputs.name = (news.name as string | undefined) ?? news.resourceName;
  if (typeof inputs.name === "string" && inputs.name.length > 255) fail("name", "name must be at most 255 characters");
  inputs.tags = unique(((news.tags as string[] | undefined) ?? []).filter((t) => !isUnknown(t))).sort();
  for (const t of inputs.tags as string[])
    if (!/^[a-zA-Z0-9_:-]{1,255}$/.test(t)) fail("tags", `tag "${t}" may hold only letters, digits, colons, dashes and underscores`);
  const spaces = news.spaces as CustomImageInputs["spaces"] | undefined;
  if (file !== undefined && !spaces?.bucket) fail("spaces.bucket", "uploading a local file needs spaces.bucket: the Spaces bucket to upload it to");
  if (spaces?.access && !["presigned", "public-read"].includes(spaces.access))
    fail("spaces.access", `access must be "presigned" or "public-read", not "${spaces.access}"`);
  for (const k of ["import", "transfer"] as const) {
    const v = (news.timeouts as Record<string, unknown> | undefined)?.[k];
    if (v !== undefined && (typeof v !== "number" || v <= 0)) fail(`timeouts.${k}`, `timeouts.${k} must be a positive number of minutes`);
  }
  const { CHECK_IDS } = await import("../image");
  const skip = (news.validation as { skip?: string[] } | undefined)?.skip ?? [];
  for (const id of skip) if (!(CHECK_IDS as readonly string[]).includes(id)) fail("validation.skip", `"${id}" is not a check id (${CHECK_IDS.join(", ")})`);

  if (typeof file === "string" && !isUnknown(file) && failures.length === 0) {
    const { stat } = await import("node:fs/promises");
    const st = await stat(file).catch(() => null);
    if (!st || !st.isFile()) fail("file", `${file} does not exist or is not a file (paths are relative to the Pulumi program's directory)`);
    else {
      const { sha256File } = await import("../spaces");
      inputs.sha256 = (await sha256File(file)).sha256;
      // Same content as the image in state: it was validated when created, so preview stays cheap.
      if (olds.sha256 !== inputs.sha256) {
        const report = await cachedValidation(file, inputs.sha256 as string, skip);
        for (const c of report.checks.filter((x) => x.status === "fail")) {
          const where = c.evidence
            .map((e) =>
              [e.partition !== undefined ? `partition ${e.partition}` : "", e.path ? `${e.path}${e.line ? `:${e.line}` : ""}` : ""].filter(Boolean).join(" "),
            )
            .filter(Boolean);
          fail("file", `${c.id}: ${c.message}${where.length ? ` (${where.join("; ")})` : ""}. Fix: ${c.fix}`);
        }
      }
    }
  }
  // The adoption marker names the resource and its content: a retried create finds its own half-made image, but a
  // replacement (new content under the same resource) never adopts the image it replaces.
  if (typeof news.marker === "string" && !isUnknown(inputs.sha256 ?? url)) {
    const { createHash } = await import("node:crypto");
    const content = createHash("sha256")
      .update(String(inputs.sha256 ?? url))
      .digest("hex")
      .slice(0, 16);
    inputs.marker = `${news.marker.replace(/-c[0-9a-f]{16}$/, "")}-c${content}`;
  }
  return { inputs: defined(inputs), failures };
}

/** This package's version, from its package.json above this file (in the sources or in dist/). */
async function ownVersion(): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  const { dirname, join } = await import("node:path");
  for (let d = __dirname, i = 0; i < 6; d = dirname(d), i++) {
    const pkg = await readFile(join(d, "package.json"), "utf8").catch(() => null);
    if (pkg && (JSON.parse(pkg) as { name?: string }).name === "do-image") return (JSON.parse(pkg) as { version: string }).version;
  }
  return "unknown";
}

/**
 * Validation results keyed by content hash, skip list and the do-image version that judged them, so previews of an
 * unchanged file do not read it again, and an upgrade (new checks, new rules) judges it afresh.
 */
async function cachedValidation(file: string, sha256: string, skip: string[]): Promise<ValidationReport> {
  const { readFile, writeFile, mkdir } = await import("node:fs/promises");
  const { dirname, join } = await import("node:path");
  const { hashCacheFile } = await import("../spaces");
  const version = await ownVersion();
  const cacheFile = join(dirname(hashCacheFile()), "validation", version, `${sha256}-${[...skip].sort().join(",") || "none"}.json`);
  try {
    return JSON.parse(await readFile(cacheFile, "utf8")) as ValidationReport;
  } catch {
    const { validateImage } = await import("../image");
    const report = await validateImage(file, { skip });
    await mkdir(dirname(cacheFile), { recursive: true });
    await writeFile(cacheFile, JSON.stringify(report));
    return report;
  }
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

/** Drops undefined values: the engine's Struct cannot carry them. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function stateFrom(inputs: CustomImageInputs, image: Image, extra: Partial<CustomImageState> = {}): CustomImageState {
  return defined({
    ...inputs,
    name: image.name,
    description: image.description ?? inputs.description,
    distribution: image.distribution,
    tags: image.tags.filter((t) => t !== inputs.marker).sort(),
    imageId: image.id,
    status: image.status,
    actualRegions: image.regions,
    desiredRegions: inputs.regions,
    sizeGigabytes: image.size_gigabytes,
    minDiskSize: image.min_disk_size,
    createdAt: image.created_at,
    slug: image.slug,
    type: image.type,
    public: image.public,
    ...defined(extra),
  });
}

const pick = (state: CustomImageState): CustomImageInputs =>
  Object.fromEntries(INPUT_KEYS.filter((k) => state[k] !== undefined).map((k) => [k, state[k]])) as unknown as CustomImageInputs;

export async function create(inputs: CustomImageInputs): Promise<pulumi.dynamic.CreateResult> {
  const { publishImage, PublishError } = await import("../digitalocean");
  const spaces = inputs.spaces ? { ...inputs.spaces, ...spacesKeys() } : undefined;
  try {
    const r = await publishImage({
      file: inputs.file,
      url: inputs.url,
      name: inputs.name,
      regions: inputs.regions,
      importRegion: inputs.importRegion,
      distribution: inputs.distribution,
      description: inputs.description,
      tags: inputs.tags,
      spaces: spaces as SpacesTarget | undefined,
      api: api(),
      // check already validated this content (its failures stop the preview); skip the second read.
      validation: false,
      timeouts: inputs.timeouts,
      marker: inputs.marker,
      onEvent: describe(inputs.resourceName),
    });
    const { objectKey } = await import("../spaces");
    const key = inputs.file && inputs.sha256 ? objectKey(inputs.sha256, inputs.file, inputs.spaces?.keyPrefix) : undefined;
    const report = inputs.file && inputs.sha256 ? await cachedValidation(inputs.file, inputs.sha256, inputs.validation?.skip ?? []) : undefined;
    const validationSummary = report ? { ok: report.ok, warnings: report.checks.filter((c) => c.status === "warn").map((c) => c.id) } : undefined;
    return { id: String(r.image.id), outs: stateFrom(inputs, r.image, { objectKey: key, bucket: inputs.spaces?.bucket, validationSummary }) };
  } catch (err) {
    if (err instanceof PublishError && err.imageId !== undefined) {
      // The image exists: hand its id to the engine (an initialization error) so it is in state, not leaked.
      const partial = { ...inputs, imageId: err.imageId, status: "failed", actualRegions: [], desiredRegions: inputs.regions };
      throw Object.assign(new Error(err.message), { id: String(err.imageId), properties: partial, reasons: [err.message] });
    }
    throw err;
  }
}

export async function read(id: string, props: CustomImageState): Promise<pulumi.dynamic.ReadResult> {
  const { DigitalOceanClient, DigitalOceanError } = await import("../digitalocean");
  const client = new DigitalOceanClient(api());
  let image: Image;
  try {
    image = await client.images.get(Number(id));
  } catch (err) {
    if (err instanceof DigitalOceanError && err.notFound) return { id: "" }; // gone: the engine drops it from state
    throw err;
  }
  if (image.status === "deleted") return { id: "" };
  const inputs = pick(props);
  return {
    id,
    props: stateFrom(inputs, image, { objectKey: props.objectKey, bucket: props.bucket, validationSummary: props.validationSummary }),
    inputs: inputs as unknown as Record<string, unknown>,
  };
}

export async function update(id: string, olds: CustomImageState, news: CustomImageInputs): Promise<pulumi.dynamic.UpdateResult> {
  const { DigitalOceanClient, addRegions } = await import("../digitalocean");
  const client = new DigitalOceanClient(api());
  const imageId = Number(id);
  const put: { name?: string; description?: string; distribution?: string } = {};
  if (news.name !== olds.name) put.name = news.name;
  if ((news.description ?? "") !== (olds.description ?? "")) put.description = news.description ?? "";
  if (news.distribution && news.distribution !== olds.distribution) put.distribution = news.distribution;
  if (Object.keys(put).length > 0) await client.images.update(imageId, put);
  const before = new Set(olds.tags ?? []);
  const after = new Set(news.tags ?? []);
  for (const t of after) {
    if (before.has(t)) continue;
    await client.tags.create(t);
    await client.tags.tag(t, [{ resource_id: id, resource_type: "image" }]);
  }
  for (const t of before) if (!after.has(t)) await client.tags.untag(t, [{ resource_id: id, resource_type: "image" }]);
  if (news.regions.some((r) => !(olds.actualRegions ?? []).includes(r))) {
    await addRegions(client, imageId, news.regions, { timeoutMinutes: news.timeouts?.transfer, onEvent: describe(news.resourceName) });
  }
  const image = await client.images.get(imageId);
  return { outs: stateFrom(news, image, { objectKey: olds.objectKey, bucket: olds.bucket, validationSummary: olds.validationSummary }) };
}

export async function remove(id: string, props: CustomImageState): Promise<void> {
  const { DigitalOceanClient, DigitalOceanError } = await import("../digitalocean");
  try {
    await new DigitalOceanClient(api()).images.delete(Number(id));
  } catch (err) {
    if (!(err instanceof DigitalOceanError && err.notFound)) throw err;
  }
  if (props.objectKey && props.bucket) {
    // A kept object, or one a failed run left behind, goes with the image.
    const { deleteImageObject } = await import("../spaces");
    await deleteImageObject({ ...(props.spaces ?? {}), ...spacesKeys(), bucket: props.bucket, key: props.objectKey });
  }
}
