// Public face of publish/: the one pipeline every face calls, its input rules, names and errors.
export { publishImage } from "./pipeline";
export { addRegions, requireRegions } from "./regions";
export { updateImage, deleteImage, type ImageMetadata } from "./manage";
export { findByMarker } from "./adoption";
export type { PublishOptions, PublishResult, PublishEvent, PublishedObject } from "./types";
export {
  checkInputs,
  DISTRIBUTIONS,
  ACCESS_MODES,
  REGION_SLUG,
  TAG_NAME,
  BUCKET_NAME,
  type PublishInputs,
  type SpacesTarget,
  type InputProblem,
} from "./inputs";
export {
  objectKey,
  adoptionMarker,
  isAdoptionMarker,
  spacesRegionFor,
  imageNameFromFile,
  uploadName,
  convertedCopyPath,
  DEFAULT_KEY_PREFIX,
  CONVERSION,
} from "./naming";
export { chooseUploadFormat, uploadFormatFor, type UploadChoice, type SentFormat } from "./upload-format";
export { cachedValidation, requireFile } from "./validation";
export { PublishError, ValidationFailedError, inputError, type PublishStage } from "./errors";
export {
  compressedQcow2,
  writeCompressedQcow2,
  replaceableTarget,
  qcow2SizeBound,
  type Qcow2Stream,
  type Qcow2Stats,
  type CompressedQcow2Options,
} from "./qcow2";
