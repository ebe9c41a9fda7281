// The package's main entry: the image core today; the Pulumi resources join it as they land.
export * from "./image";
