// Public face of spaces/: a pure uploader of files to a Spaces bucket (resumable multipart, bounded memory), and hashing.
export { uploadObject, uploadStream, type UploadOptions, type StreamSource, type UploadResult, type Access } from "./upload";
export { checkSpacesAccess, deleteImageObject, imageUrl, publicObjectUrl, spacesClient } from "./objects";
export { SpacesError } from "./errors";
export { collectUnfinishedUploads, type CollectOptions, type CollectResult, type UnfinishedUpload } from "./gc";
export { sha256File, sha256FileSync, hashCacheFile, progressReporter, type Progress } from "./hash";
export { resolveSpacesSettings, spacesLocation, MissingSpacesKeysError, type SpacesSettings, type ResolvedSpacesSettings } from "./config";
