// create, read, update and delete: each one call into the core's publish pipeline, its result mapped to state.
import type * as pulumi from "@pulumi/pulumi";
import type { Image } from "../../digitalocean";
import { defined } from "./check";
import { progressTo } from "./progress";
import { api, spacesKeys } from "./settings";
import { INPUT_KEYS, type CustomImageInputs, type CustomImageState } from "./types";

function stateFrom(inputs: CustomImageInputs, image: Image, isMarker: (t: string) => boolean, extra: Partial<CustomImageState> = {}): CustomImageState {
  return defined({
    ...inputs,
    name: image.name,
    description: image.description ?? inputs.description,
    distribution: image.distribution,
    tags: image.tags.filter((t) => !isMarker(t)).sort(),
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
  const core = await import("../../internal");
  try {
    const r = await core.publishImage({
      ...inputs,
      spaces: inputs.spaces ? { ...inputs.spaces, ...spacesKeys() } : undefined,
      api: api(),
      // check already validated this content (its failures stop the preview); skip the second read.
      validation: false,
      onEvent: progressTo(inputs.resourceName),
    });
    const report =
      inputs.file && r.sha256 ? await core.cachedValidation(inputs.file, r.sha256, inputs.validation?.skip ?? [], inputs.validation?.boot) : undefined;
    const validationSummary = report ? { ok: report.ok, warnings: report.checks.filter((c) => c.status === "warn").map((c) => c.id) } : undefined;
    return {
      id: String(r.image.id),
      outs: stateFrom(inputs, r.image, core.isAdoptionMarker, { objectKey: r.object?.key, bucket: r.object?.bucket, validationSummary }),
    };
  } catch (err) {
    if (err instanceof core.PublishError && err.imageId !== undefined) {
      // The image exists: hand its id to the engine (an initialization error) so it is in state, not leaked.
      const partial = { ...inputs, imageId: err.imageId, status: "failed", actualRegions: [], desiredRegions: inputs.regions };
      throw Object.assign(new Error(err.message), { id: String(err.imageId), properties: partial, reasons: [err.message] });
    }
    throw err;
  }
}

export async function read(id: string, props: CustomImageState): Promise<pulumi.dynamic.ReadResult> {
  const core = await import("../../internal");
  let image: Image;
  try {
    image = await new core.DigitalOceanClient(api()).images.get(Number(id));
  } catch (err) {
    if (err instanceof core.DigitalOceanError && err.notFound) return { id: "" }; // gone: the engine drops it from state
    throw err;
  }
  if (image.status === "deleted") return { id: "" };
  const inputs = pick(props);
  return {
    id,
    props: stateFrom(inputs, image, core.isAdoptionMarker, { objectKey: props.objectKey, bucket: props.bucket, validationSummary: props.validationSummary }),
    inputs: inputs as unknown as Record<string, unknown>,
  };
}

export async function update(id: string, olds: CustomImageState, news: CustomImageInputs): Promise<pulumi.dynamic.UpdateResult> {
  const core = await import("../../internal");
  const client = new core.DigitalOceanClient(api());
  let image = await client.images.get(Number(id));
  image = (await core.updateImage(client, image, { name: news.name, description: news.description ?? "", distribution: news.distribution, tags: news.tags }))
    .image;
  if (news.regions.some((r) => !image.regions.includes(r)))
    image = await core.addRegions(client, image.id, news.regions, { timeoutMinutes: news.timeouts?.transfer, onEvent: progressTo(news.resourceName) });
  return { outs: stateFrom(news, image, core.isAdoptionMarker, { objectKey: olds.objectKey, bucket: olds.bucket, validationSummary: olds.validationSummary }) };
}

export async function remove(id: string, props: CustomImageState): Promise<void> {
  const core = await import("../../internal");
  // A kept object, or one a failed run left behind, goes with the image. check records the bucket's region in state;
  // a state written by do-image 0.2 has none, and 0.2 put such buckets in nyc3 (unless SPACES_REGION said otherwise).
  const legacy = props.spaces !== undefined && !props.spaces.region;
  const region = core.spacesRegionFor(props.spaces?.region, legacy ? "nyc3" : (props.importRegion ?? props.regions[0]));
  const object = props.objectKey && props.bucket ? { bucket: props.bucket, key: props.objectKey, region, ...spacesKeys() } : undefined;
  await core.deleteImage(new core.DigitalOceanClient(api()), Number(id), object);
}
