// Public face of spaces/: content-addressed, resumable uploads of images to a Spaces bucket.
export { uploadImage, deleteImageObject, objectKey, imageUrl, spacesClient, SpacesError, type UploadOptions, type UploadResult, type Access } from "./upload";
export { sha256File, sha256FileSync, hashCacheFile, type Progress } from "./hash";
export { resolveSpacesSettings, MissingSpacesKeysError, type SpacesSettings, type ResolvedSpacesSettings } from "./config";
