// The dynamic provider's inputs after check, and the plain, JSON-serialisable state the engine stores.
import type { BootWhen } from "../../boot/when";
import type { PublishInputs, SpacesTarget } from "../../publish";

/** Inputs after check: what the user gave (the core's publish inputs), normalised, plus the content hash and owner. */
export interface CustomImageInputs extends Pick<
  PublishInputs,
  "file" | "url" | "name" | "regions" | "importRegion" | "distribution" | "description" | "timeouts"
> {
  resourceName: string;
  tags: string[];
  spaces?: Omit<SpacesTarget, "accessKeyId" | "secretAccessKey" | "endpoint">;
  validation?: { skip?: string[]; boot?: BootWhen };
  /** SHA-256 of the file, computed by check: a changed file means a new image. */
  sha256?: string;
  /** "project/stack/resource": with the content, it lets a retried create adopt the image it already started. */
  owner?: string;
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

export const INPUT_KEYS: (keyof CustomImageInputs)[] = [
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
  "owner",
];
