// Generates the Pulumi face's argument types from schema.json (as pulumi-awsx generates its types from its schema), so
// the schema is the one source of each input's name, type, requiredness and documentation. Run `make generate` after
// editing schema.json; test/pulumi/schema-types.test.ts fails while the committed file differs from what this writes.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { packageRoot } from "../local-do/root";

interface Property {
  type?: string;
  items?: Property;
  enum?: (string | number)[];
  $ref?: string;
  description?: string;
  default?: unknown;
}
interface ObjectSpec {
  description?: string;
  properties?: Record<string, Property>;
  inputProperties?: Record<string, Property>;
  required?: string[];
  requiredInputs?: string[];
}
interface Schema {
  resources: Record<string, ObjectSpec>;
  types: Record<string, ObjectSpec>;
}

export const ROOT = packageRoot();
export const GENERATED = join(ROOT, "provider", "pulumi", "args.generated.ts");

/** The interfaces written, in order: a schema type's or resource's token, and the name its arguments get. */
const TARGETS: { token: string; kind: "types" | "resources"; name: string }[] = [
  { token: "do-image:index:CustomImageSpaces", kind: "types", name: "CustomImageSpacesArgs" },
  { token: "do-image:index:CustomImageValidation", kind: "types", name: "CustomImageValidationArgs" },
  { token: "do-image:index:CustomImageTimeouts", kind: "types", name: "CustomImageTimeoutsArgs" },
  { token: "pulumi-nodejs:dynamic/do-image:CustomImage", kind: "resources", name: "CustomImageArgs" },
  { token: "do-image:index:ImageDroplet", kind: "resources", name: "ImageDropletArgs" },
];

/** A resource a property refers to is passed as the resource itself (the component reads its outputs), not as an input. */
const RESOURCE_CLASSES: Record<string, string> = { "pulumi-nodejs:dynamic/do-image:CustomImage": "CustomImage" };

function typeOf(p: Property, where: string, inArray = false): string {
  if (p.$ref) {
    const token = decodeURIComponent(p.$ref.replace(/^#\/(types|resources)\//, ""));
    if (p.$ref.startsWith("#/resources/")) {
      const cls = RESOURCE_CLASSES[token];
      if (!cls) throw new Error(`${where}: no class is known for the resource ${token}`);
      return cls;
    }
    const target = TARGETS.find((t) => t.token === token);
    if (!target) throw new Error(`${where}: ${token} is not among the generated types`);
    return `pulumi.Input<${target.name}>`;
  }
  switch (p.type) {
    case "string":
      // A list of enum values stays string[]: a program that builds the list at run time type-checks, and check
      // names the valid values at preview. A single value is its union of literals.
      return `pulumi.Input<${p.enum && !inArray ? p.enum.map((v) => JSON.stringify(v)).join(" | ") : "string"}>`;
    case "boolean":
      return "pulumi.Input<boolean>";
    case "number":
    case "integer":
      return "pulumi.Input<number>";
    case "array":
      if (!p.items) throw new Error(`${where}: an array without items`);
      return `pulumi.Input<${typeOf(p.items, `${where}[]`, true)}[]>`;
    default:
      throw new Error(`${where}: type ${String(p.type)} has no TypeScript mapping here; add one to tools/schema-types/generate.ts`);
  }
}

function doc(text: string | undefined, fallback?: unknown): string {
  const lines = [...(text ? [text] : []), ...(fallback === undefined ? [] : [`@default ${JSON.stringify(fallback)}`])];
  if (lines.length === 0) return "";
  return `/**\n${lines.map((l) => ` * ${l.replace(/\*\//g, "*\\/")}`).join("\n")}\n */\n`;
}

export function generate(schema: Schema): string {
  const out: string[] = [
    "// Generated from schema.json by tools/schema-types/generate.ts (`make generate`): edit the schema, not this file.",
    'import type * as pulumi from "@pulumi/pulumi";',
    'import type { CustomImage } from "./customImage";',
    "",
  ];
  for (const t of TARGETS) {
    const spec = schema[t.kind][t.token];
    if (!spec) throw new Error(`schema.json has no ${t.kind} ${t.token}`);
    const props = (t.kind === "resources" ? spec.inputProperties : spec.properties) ?? {};
    const required = new Set((t.kind === "resources" ? spec.requiredInputs : spec.required) ?? []);
    out.push(`${doc(spec.description)}export interface ${t.name} {`);
    for (const [name, p] of Object.entries(props))
      out.push(`${doc(p.description, p.default)}readonly ${name}${required.has(name) ? "" : "?"}: ${typeOf(p, `${t.token}.${name}`)};`);
    out.push("}", "");
  }
  return out.join("\n");
}

/** The file as it should be: generated, then formatted as the repository formats TypeScript (prettier, in a child). */
export function expected(): string {
  const schema = JSON.parse(readFileSync(join(ROOT, "schema.json"), "utf8")) as Schema;
  const prettier = join(ROOT, "node_modules", "prettier", "bin", "prettier.cjs");
  return execFileSync(process.execPath, [prettier, "--stdin-filepath", GENERATED], { cwd: ROOT, input: generate(schema), encoding: "utf8" });
}

if (require.main === module) {
  writeFileSync(GENERATED, expected());
  console.log(`wrote ${GENERATED}`);
}
