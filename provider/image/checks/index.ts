// Public face of the checks: `validateImage` and the report types.
export { validateImage, unreadable, type ValidateOptions } from "./validate";
export {
  CHECK_IDS,
  DECISIVE,
  blocks,
  evidenceWhere,
  failureLines,
  type CheckId,
  type CheckStatus,
  type CheckResult,
  type Evidence,
  type ValidationReport,
} from "./types";
export { decideDatasources, BUILTIN_DATASOURCES, DS_IDENTIFY_DEFAULT, type DatasourceDecision } from "./datasources";
export { readCloudConfig, defaultUser, type CloudConfig } from "./cloud-config";
export { readBootConfig, type BootConfig, type BootEntry } from "./bootconfig";
