// Public face of the Pulumi resources.
export { CustomImage, type CustomImageArgs, type CustomImageSpacesArgs, type CustomImageValidationArgs, type CustomImageTimeoutsArgs } from "./customImage";
export { ImageDroplet, type ImageDropletArgs } from "./imageDroplet";
