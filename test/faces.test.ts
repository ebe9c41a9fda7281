// One source for every input: each input schema.json documents reaches every face (the engine's keys, the core's
// publish inputs, the CDKTF constructs, the CLI's push flags), or the face says here why it has none. A field added to
// schema.json and to no face fails this test; so does a face's enum that differs from the core's list.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ts from "typescript";
import { BOOT_WHEN } from "../provider/boot/when";
import { PROGRAM } from "../provider/cli/main";
import { PUSH_FLAGS } from "../provider/cli/commands/push";
import type { CommandSpec } from "../provider/cli/args";
import { INPUT_KEYS } from "../provider/pulumi/engine/types";
import { ACCESS_MODES, DISTRIBUTIONS } from "../provider/publish";
import { UPLOAD_FORMATS, type PublishInputs } from "../provider/publish/inputs";
import type { Unwrap } from "@pulumi/pulumi";
import type { CustomImageArgs } from "../provider/pulumi/args.generated";
import type { CustomImageInputs } from "../provider/pulumi/engine/types";
import type { CustomImageConfig } from "../provider/cdktf";

const ROOT = join(__dirname, "..");
const schema = JSON.parse(readFileSync(join(ROOT, "schema.json"), "utf8"));
const CUSTOM_IMAGE = schema.resources["pulumi-nodejs:dynamic/do-image:CustomImage"];
const IMAGE_DROPLET = schema.resources["do-image:index:ImageDroplet"];

// Types, checked by the compiler (ts-jest type-checks this file; so does `make lint`): every value schema.json allows
// for CustomImage, as the generated arguments hold it once resolved, is a value the core's publish inputs and the
// engine's inputs take. A hand-kept field narrower than the schema's, or of another type, fails this suite to compile.
// (The Pulumi face fills in name, and the engine resourceName and tags, before either sees them.)
type SchemaCustomImage = Unwrap<CustomImageArgs>;
export const coreTakesSchema = (p: SchemaCustomImage & { name: string }): PublishInputs => p;
export const engineTakesSchema = (p: SchemaCustomImage & { name: string; resourceName: string; tags: string[] }): CustomImageInputs => p;
/** The CDKTF config flattens `spaces`; each field it has takes the schema's values (not gzip: CDKTF_UPLOAD_FORMATS says why). */
export const cdktfTakesSchema = (p: SchemaCustomImage & { file: string; spaces: { bucket: string } }): CustomImageConfig => ({
  file: p.file,
  regions: p.regions,
  bucket: p.spaces.bucket,
  spacesRegion: p.spaces.region,
  keyPrefix: p.spaces.keyPrefix,
  uploadAs: p.spaces.uploadAs === "gzip" ? undefined : p.spaces.uploadAs,
  name: p.name,
  description: p.description,
  distribution: p.distribution,
  tags: p.tags,
  validation: p.validation,
});

/** Member names of an interface, read with the compiler. */
function members(file: string, name: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), "utf8"), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === name)
      for (const m of node.members) if (ts.isPropertySignature(m) && ts.isIdentifier(m.name)) out.push(m.name.text);
  });
  if (out.length === 0) throw new Error(`${file} declares no interface ${name}`);
  return out.sort();
}

/** CustomImage's inputs as paths: top-level names, and object types' properties as "spaces.bucket". */
function inputPaths(): string[] {
  const out: string[] = [];
  for (const [name, p] of Object.entries<{ $ref?: string }>(CUSTOM_IMAGE.inputProperties)) {
    const ref = p.$ref?.replace("#/types/", "");
    const type = ref ? schema.types[decodeURIComponent(ref)] : undefined;
    if (type?.type === "object") for (const sub of Object.keys(type.properties)) out.push(`${name}.${sub}`);
    else out.push(name);
  }
  return out.sort();
}

/** Where a face has no field for an input, and why; anything missing and not listed here fails. */
const CDKTF_ABSENT: Record<string, string> = {
  url: "an image already at a URL needs no construct: Terraform's digitalocean_custom_image takes the URL itself",
  importRegion: "Terraform's digitalocean_custom_image imports into its regions itself",
  "spaces.access": "the object is public-read: Terraform's provider imports from a plain URL and cannot presign",
  "spaces.keepObject": "the object is a Terraform resource of the stack, kept while the stack holds it",
  "timeouts.import": "Terraform's own timeouts block on the image resource",
  "timeouts.transfer": "Terraform's own timeouts block on the image resource",
};
/** The CDKTF config's name for an input path, where it differs. */
const CDKTF_NAME: Record<string, string> = {
  "spaces.bucket": "bucket",
  "spaces.region": "spacesRegion",
  "spaces.keyPrefix": "keyPrefix",
  "spaces.uploadAs": "uploadAs",
  "validation.skip": "validation",
  "validation.boot": "validation",
};
const CLI_ABSENT: Record<string, string> = {
  url: "push sends a local file; an image already at a URL is imported with doctl compute image create --image-url",
};

test("schema.json's CustomImage inputs are the engine's input keys", () => {
  const engineOnly = ["resourceName", "sha256", "owner"];
  expect(INPUT_KEYS.filter((k) => !engineOnly.includes(k)).sort()).toEqual(Object.keys(CUSTOM_IMAGE.inputProperties).sort());
});

test("the core's publish inputs hold every CustomImage input, and its Spaces target every Spaces setting", () => {
  expect(members("provider/publish/inputs.ts", "PublishInputs")).toEqual(Object.keys(CUSTOM_IMAGE.inputProperties).sort());
  const target = members("provider/publish/inputs.ts", "SpacesTarget");
  const spaces = Object.keys(schema.types["do-image:index:CustomImageSpaces"].properties);
  expect(spaces.filter((k) => !target.includes(k))).toEqual([]);
});

test("the CDKTF CustomImage config has every input, or says why it has none", () => {
  const config = members("provider/cdktf/index.ts", "CustomImageConfig");
  const missing = inputPaths().filter((p) => !(p in CDKTF_ABSENT) && !config.includes(CDKTF_NAME[p] ?? p));
  expect(missing).toEqual([]);
  // an exception for a field the construct has after all is stale
  expect(Object.keys(CDKTF_ABSENT).filter((p) => config.includes(CDKTF_NAME[p] ?? p))).toEqual([]);
});

test("the CDKTF ImageDroplet config has exactly the Pulumi ImageDroplet's inputs", () => {
  expect(members("provider/cdktf/config.generated.ts", "ImageDropletConfig")).toEqual(Object.keys(IMAGE_DROPLET.inputProperties).sort());
});

test("push has a flag for every input, or says why it has none, and every flag it names exists", () => {
  const push = PROGRAM.commands!.find((c) => c.name === "push")!;
  const flags = new Set((push.flags ?? []).map((f) => `--${f.name}`));
  expect(inputPaths().filter((p) => !(p in PUSH_FLAGS) && !(p in CLI_ABSENT))).toEqual([]);
  const named = Object.values(PUSH_FLAGS).flatMap((v) => v.match(/--[a-z-]+/g) ?? []);
  expect(named.filter((f) => !flags.has(f))).toEqual([]);
});

test("every enum schema.json documents is the core's list, and the CLI offers the same choices", () => {
  const spaces = schema.types["do-image:index:CustomImageSpaces"].properties;
  const validation = schema.types["do-image:index:CustomImageValidation"].properties;
  expect(spaces.uploadAs.enum).toEqual([...UPLOAD_FORMATS]);
  expect(spaces.access.enum).toEqual([...ACCESS_MODES]);
  expect(validation.boot.enum).toEqual([...BOOT_WHEN]);
  const push = PROGRAM.commands!.find((c: CommandSpec) => c.name === "push")!;
  const choices = (name: string) => push.flags!.find((f) => f.name === name)!.choices;
  expect(choices("upload-as")).toEqual([...UPLOAD_FORMATS]);
  expect(choices("boot")).toEqual([...BOOT_WHEN]);
  if (CUSTOM_IMAGE.inputProperties.distribution.enum) expect(CUSTOM_IMAGE.inputProperties.distribution.enum).toEqual([...DISTRIBUTIONS]);
});
