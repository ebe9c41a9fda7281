// Public face of the Pulumi resources.
export { CustomImage, type CustomImageArgs, type CustomImageSpacesArgs } from "./customImage";
export { ImageDroplet, type ImageDropletArgs } from "./imageDroplet";
