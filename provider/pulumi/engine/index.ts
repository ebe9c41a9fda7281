// What the dynamic provider does, loaded by name ("do-image/pulumi-engine") inside Pulumi's provider host: the
// serialized provider only forwards here, so nothing in state changes when this code does.
export { configure } from "./settings";
export { check, diff } from "./check";
export { create, read, update, remove } from "./crud";
export type { CustomImageInputs, CustomImageState } from "./types";
