// The package's main entry: the Pulumi resources, and the core for scripts (image reading, the API client, uploads).
export * from "./pulumi";
export * from "./image";
export { DigitalOceanClient, DigitalOceanError, publishImage, addRegions, type PublishOptions, type PublishResult } from "./digitalocean";
export { uploadImage, deleteImageObject, type UploadOptions, type UploadResult } from "./spaces";
