// Public face of the checks: `validateImage` and the report types.
export { validateImage, unreadable, type ValidateOptions } from "./validate";
export { CHECK_IDS, type CheckId, type CheckStatus, type CheckResult, type Evidence, type ValidationReport } from "./types";
export { effectiveDatasources, BUILTIN_DATASOURCES } from "./datasources";
