// Generates the faces' argument types from schema.json (as pulumi-awsx generates its types from its schema): the Pulumi
// resources' arguments (every value a pulumi.Input) and the CDKTF ImageDroplet's config (plain values), so the schema is
// the one source of each input's name, type, requiredness and documentation. Run `make generate` after editing
// schema.json; test/pulumi/schema.test.ts fails while a committed file differs from what this writes.
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

interface Target {
  token: string;
  kind: "types" | "resources";
  name: string;
  /** The interface's documentation where the schema's speaks of another face (Pulumi's preview, say). */
  description?: string;
}

/** One generated file: its interfaces in order, how values are wrapped, and the class a resource reference becomes. */
export interface Output {
  file: string;
  imports: string[];
  targets: Target[];
  /** "input": each value a pulumi.Input (Pulumi's arguments); "plain": the value itself (CDKTF's config). */
  values: "input" | "plain";
  /** A resource a property refers to is passed as the resource itself (the component reads its outputs), not as an input. */
  resources: Record<string, string>;
}

const CUSTOM_IMAGE = "pulumi-nodejs:dynamic/do-image:CustomImage";

export const OUTPUTS: Output[] = [
  {
    file: join(ROOT, "provider", "pulumi", "args.generated.ts"),
    imports: ['import type * as pulumi from "@pulumi/pulumi";', 'import type { CustomImage } from "./customImage";'],
    targets: [
      { token: "do-image:index:CustomImageSpaces", kind: "types", name: "CustomImageSpacesArgs" },
      { token: "do-image:index:CustomImageValidation", kind: "types", name: "CustomImageValidationArgs" },
      { token: "do-image:index:CustomImageTimeouts", kind: "types", name: "CustomImageTimeoutsArgs" },
      { token: CUSTOM_IMAGE, kind: "resources", name: "CustomImageArgs" },
      { token: "do-image:index:ImageDroplet", kind: "resources", name: "ImageDropletArgs" },
    ],
    values: "input",
    resources: { [CUSTOM_IMAGE]: "CustomImage" },
  },
  {
    // The CDKTF CustomImage's config is not generated: it flattens `spaces`, leaves out what Terraform's provider does
    // itself, and defaults uploadAs differently (test/faces.test.ts holds it to the schema field by field).
    file: join(ROOT, "provider", "cdktf", "config.generated.ts"),
    imports: ['import type { CustomImage } from "./index";'],
    targets: [
      {
        token: "do-image:index:ImageDroplet",
        kind: "resources",
        name: "ImageDropletConfig",
        description:
          "A Droplet from a CustomImage, created after the image; synth fails when its region is not among the image's regions or sshKeys is empty. No IPv6 (custom images get none).",
      },
    ],
    values: "plain",
    resources: { [CUSTOM_IMAGE]: "CustomImage" },
  },
];

function typeOf(out: Output, p: Property, where: string, inArray = false): string {
  const wrap = (t: string) => (out.values === "input" ? `pulumi.Input<${t}>` : t);
  if (p.$ref) {
    const token = decodeURIComponent(p.$ref.replace(/^#\/(types|resources)\//, ""));
    if (p.$ref.startsWith("#/resources/")) {
      const cls = out.resources[token];
      if (!cls) throw new Error(`${where}: no class is known for the resource ${token}`);
      return cls;
    }
    const target = out.targets.find((t) => t.token === token);
    if (!target) throw new Error(`${where}: ${token} is not among the generated types`);
    return wrap(target.name);
  }
  switch (p.type) {
    case "string":
      // A list of enum values stays string[]: a program that builds the list at run time type-checks, and check
      // names the valid values at preview. A single value is its union of literals.
      return wrap(p.enum && !inArray ? p.enum.map((v) => JSON.stringify(v)).join(" | ") : "string");
    case "boolean":
      return wrap("boolean");
    case "number":
    case "integer":
      return wrap("number");
    case "array":
      if (!p.items) throw new Error(`${where}: an array without items`);
      return wrap(`${typeOf(out, p.items, `${where}[]`, true)}[]`);
    default:
      throw new Error(`${where}: type ${String(p.type)} has no TypeScript mapping here; add one to tools/schema-types/generate.ts`);
  }
}

function doc(text: string | undefined, fallback?: unknown): string {
  const lines = [...(text ? [text] : []), ...(fallback === undefined ? [] : [`@default ${JSON.stringify(fallback)}`])];
  if (lines.length === 0) return "";
  return `/**\n${lines.map((l) => ` * ${l.replace(/\*\//g, "*\\/")}`).join("\n")}\n */\n`;
}

export function generate(schema: Schema, output: Output = OUTPUTS[0]): string {
  const out: string[] = [
    "// Generated from schema.json by tools/schema-types/generate.ts (`make generate`): edit the schema, not this file.",
    ...output.imports,
    "",
  ];
  for (const t of output.targets) {
    const spec = schema[t.kind][t.token];
    if (!spec) throw new Error(`schema.json has no ${t.kind} ${t.token}`);
    const props = (t.kind === "resources" ? spec.inputProperties : spec.properties) ?? {};
    const required = new Set((t.kind === "resources" ? spec.requiredInputs : spec.required) ?? []);
    out.push(`${doc(t.description ?? spec.description)}export interface ${t.name} {`);
    for (const [name, p] of Object.entries(props))
      out.push(`${doc(p.description, p.default)}readonly ${name}${required.has(name) ? "" : "?"}: ${typeOf(output, p, `${t.token}.${name}`)};`);
    out.push("}", "");
  }
  return out.join("\n");
}

/** A file as it should be: generated, then formatted as the repository formats TypeScript (prettier, in a child). */
export function expected(output: Output): string {
  const schema = JSON.parse(readFileSync(join(ROOT, "schema.json"), "utf8")) as Schema;
  const prettier = join(ROOT, "node_modules", "prettier", "bin", "prettier.cjs");
  return execFileSync(process.execPath, [prettier, "--stdin-filepath", output.file], { cwd: ROOT, input: generate(schema, output), encoding: "utf8" });
}

if (require.main === module) {
  for (const output of OUTPUTS) {
    writeFileSync(output.file, expected(output));
    console.log(`wrote ${output.file}`);
  }
}
