// What a publish reports and takes: its events, options and result, shared by the pipeline and the steps it calls.
import type { ClientOptions, Image } from "../digitalocean";
import type { ValidationReport } from "../image";
import type { Progress, UploadResult } from "../spaces";
import type { PublishInputs } from "./inputs";
import type { SentFormat, UploadChoice } from "./upload-format";

export type PublishEvent =
  | { type: "validated"; report: ValidationReport }
  | { type: "progress"; progress: Progress }
  | { type: "sending-as"; format: SentFormat; reason: string }
  | { type: "converted"; format: "qcow2"; bytes: number; virtualSize: number; dataClusters: number }
  | { type: "converted"; format: "gzip"; bytes: number; fileSize: number }
  | { type: "uploaded"; upload: UploadResult }
  | { type: "adopted"; image: Image }
  | { type: "waiting"; lock: string }
  | { type: "duplicate-removed"; duplicate: number; image: Image }
  | { type: "updated"; image: Image; changed: string[] }
  | { type: "importing"; image: Image; status: string; elapsedMs: number }
  | { type: "imported"; image: Image }
  | { type: "transferring"; region: string; status: string; elapsedMs: number }
  | { type: "transferred"; region: string }
  | { type: "cleaned"; what: string };

export interface PublishOptions extends PublishInputs {
  api?: ClientOptions;
  /**
   * Who owns the image, for adoption: a retried publish with the same content and owner adopts the image instead of
   * importing it twice. Without one, the content alone decides (the CLI: the same bytes pushed again are one image).
   */
  owner?: string;
  /** How the face names an input field in its errors (the CLI: "spaces.bucket" → "--bucket"). @default the field */
  fieldName?: (field: string) => string;
  onEvent?: (e: PublishEvent) => void;
}

/** Where the uploaded object lives; set whenever a file was published, adopted or not. */
export interface PublishedObject {
  bucket: string;
  region: string;
  key: string;
}

export interface PublishResult {
  image: Image;
  upload?: UploadResult;
  validation?: ValidationReport;
  object?: PublishedObject;
  sha256?: string;
  /** How the file was (or would have been) sent, and why. */
  uploadAs?: UploadChoice;
  /** True when the uploaded object was deleted after the import. */
  objectDeleted: boolean;
  adopted: boolean;
}
