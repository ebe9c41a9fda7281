// schema.json at work: check validates a CustomImage's inputs against the schema the package publishes (with ajv), so
// the documented shape is the enforced one and a wrongly typed input gets the schema's own description as its reason.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ErrorObject, ValidateFunction } from "ajv";
import { packageRoot } from "../../package";

/** The token the engine records for CustomImage: a dynamic resource's (`pulumi-nodejs:dynamic/<module>:<type>`). */
export const CUSTOM_IMAGE_TOKEN = "pulumi-nodejs:dynamic/do-image:CustomImage";

interface PulumiSchema {
  resources: Record<string, { inputProperties: Record<string, unknown>; requiredInputs?: string[] }>;
  types: Record<string, Record<string, unknown>>;
}

/** A type token as a plain JSON Pointer segment ("do-image:index:X" → "do-image_index_X"). */
const defName = (token: string) => token.replace(/[^A-Za-z0-9-]/g, "_");

/** Pulumi's `#/types/<token>` references become JSON Schema `#/$defs/<token>`; everything else is JSON Schema already. */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "$ref" && typeof v === "string" && v.startsWith("#/types/")) out[k] = `#/$defs/${defName(v.slice("#/types/".length))}`;
    else out[k] = toJsonSchema(v);
  }
  return out;
}

let validator: ValidateFunction | undefined;

function compile(): ValidateFunction {
  if (validator) return validator;
  const schema = JSON.parse(readFileSync(join(packageRoot(), "schema.json"), "utf8")) as PulumiSchema;
  const resource = schema.resources[CUSTOM_IMAGE_TOKEN];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Ajv = (require("ajv") as typeof import("ajv")).default;
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
  const $defs = Object.fromEntries(Object.entries(schema.types).map(([k, v]) => [defName(k), toJsonSchema(v)]));
  validator = ajv.compile({ type: "object", properties: toJsonSchema(resource.inputProperties), required: resource.requiredInputs ?? [], $defs });
  return validator;
}

/** "/regions/1" → "regions[1]", "/spaces/bucket" → "spaces.bucket": the property paths the engine reports. */
function propertyPath(e: ErrorObject): string {
  const parts = e.instancePath.split("/").slice(1);
  if (e.keyword === "required") parts.push(String((e.params as { missingProperty: string }).missingProperty));
  return parts.reduce((p, s) => (/^\d+$/.test(s) ? `${p}[${s}]` : p ? `${p}.${s}` : s), "");
}

/** A copy without the values that are not known yet (a preview), and the paths where they were. */
function known(value: unknown, isUnknown: (v: unknown) => boolean, path = "", unknownAt: string[] = []): unknown {
  if (Array.isArray(value))
    return value.filter((v, i) => !(isUnknown(v) && unknownAt.push(`${path}[${i}]`))).map((v, i) => known(v, isUnknown, `${path}[${i}]`, unknownAt));
  if (!value || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const at = path ? `${path}.${k}` : k;
    if (isUnknown(v)) unknownAt.push(at);
    else out[k] = known(v, isUnknown, at, unknownAt);
  }
  return out;
}

/**
 * Failures for every input that does not have the schema's shape, each with the schema's description of the property.
 * Values not known yet are not judged.
 */
export function schemaFailures(inputs: Record<string, unknown>, isUnknown: (v: unknown) => boolean): { property: string; reason: string }[] {
  const validate = compile();
  const unknownAt: string[] = [];
  if (validate(known(inputs, isUnknown, "", unknownAt))) return [];
  return (validate.errors ?? [])
    .filter((e) => !unknownAt.some((u) => propertyPath(e) === u || propertyPath(e).startsWith(`${u}.`) || propertyPath(e).startsWith(`${u}[`)))
    .map((e) => {
      const described = (e.parentSchema as { description?: string } | undefined)?.description;
      const allowed = e.keyword === "enum" ? ` (one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(", ")})` : "";
      return { property: propertyPath(e), reason: `${e.message}${allowed}${described && e.keyword !== "required" ? `: ${described}` : ""}` };
    });
}
