// schema.json: valid against Pulumi's package metaschema, and its properties are exactly the TypeScript ones.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import * as ts from "typescript";
import { CHECK_IDS } from "../../provider/image";
import { CustomImage } from "../../provider/pulumi";
import { CUSTOM_IMAGE_TOKEN, schemaFailures } from "../../provider/pulumi/engine/schema";
import { check } from "../../provider/pulumi/engine/check";
import * as pulumi from "@pulumi/pulumi";
import { serializeWithMocks } from "../../tools/local-do/pulumi-host";
import { expected, generate, OUTPUTS } from "../../tools/schema-types/generate";
import { describeWithShared, PULUMI_METASCHEMA } from "../support/shared";

const ROOT = join(__dirname, "..", "..");
const schema = JSON.parse(readFileSync(join(ROOT, "schema.json"), "utf8"));
const CUSTOM_IMAGE_SPEC = schema.resources["pulumi-nodejs:dynamic/do-image:CustomImage"];

/** Member names of an interface, or the public readonly properties a class declares, read with the compiler. */
function members(file: string, name: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), "utf8"), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  source.forEachChild((node) => {
    if ((ts.isInterfaceDeclaration(node) || ts.isClassDeclaration(node)) && node.name?.text === name) {
      for (const m of node.members) {
        if (!(ts.isPropertySignature(m) || ts.isPropertyDeclaration(m)) || !ts.isIdentifier(m.name)) continue;
        const mods = ts.canHaveModifiers(m) ? (ts.getModifiers(m) ?? []) : [];
        if (ts.isPropertyDeclaration(m) && !mods.some((x) => x.kind === ts.SyntaxKind.PublicKeyword)) continue;
        out.push(m.name.text);
      }
    }
  });
  return out.sort();
}

/** Members of an interface declared without `?`, read with the compiler. */
function requiredMembers(file: string, name: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), "utf8"), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === name)
      for (const m of node.members) if (ts.isPropertySignature(m) && ts.isIdentifier(m.name) && !m.questionToken) out.push(m.name.text);
  });
  return out.sort();
}

describeWithShared("schema.json", PULUMI_METASCHEMA, () => {
  test("is a valid Pulumi package schema", () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(PULUMI_METASCHEMA, "utf8")));
    expect(validate(schema) ? [] : validate.errors).toEqual([]);
  });
});

test.each([
  ["pulumi-nodejs:dynamic/do-image:CustomImage", "provider/pulumi/customImage.ts", "CustomImage"],
  ["do-image:index:ImageDroplet", "provider/pulumi/imageDroplet.ts", "ImageDroplet"],
])("%s matches its TypeScript outputs", (token, file, cls) => {
  expect(Object.keys(schema.resources[token].properties).sort()).toEqual(members(file, cls));
});

test.each(OUTPUTS.map((o) => [o.file.slice(o.file.indexOf("provider/")), o] as const))(
  "%s is generated from schema.json, and the committed file is what the generator writes now",
  (file, output) => {
    const committed = readFileSync(output.file, "utf8");
    if (committed !== expected(output)) throw new Error(`${file} is out of date with schema.json: run \`make generate\` and commit the result`);
  },
);

test("the generated arguments have the schema's inputs, with their requiredness", () => {
  // Each resource's and type's inputs, with their requiredness, are the schema's.
  for (const [name, spec] of [
    ["CustomImageArgs", CUSTOM_IMAGE_SPEC],
    ["ImageDropletArgs", schema.resources["do-image:index:ImageDroplet"]],
  ] as const) {
    expect(members("provider/pulumi/args.generated.ts", name)).toEqual(Object.keys(spec.inputProperties).sort());
    expect(requiredMembers("provider/pulumi/args.generated.ts", name)).toEqual([...spec.requiredInputs].sort());
  }
  const droplet = schema.resources["do-image:index:ImageDroplet"];
  expect(requiredMembers("provider/cdktf/config.generated.ts", "ImageDropletConfig")).toEqual([...droplet.requiredInputs].sort());
  expect(members("provider/pulumi/args.generated.ts", "CustomImageSpacesArgs")).toEqual(
    Object.keys(schema.types["do-image:index:CustomImageSpaces"].properties).sort(),
  );
});

test("the generator refuses a schema type it has no mapping for, naming the property", () => {
  const broken = JSON.parse(JSON.stringify(schema));
  broken.resources["do-image:index:ImageDroplet"].inputProperties.size = { type: "object", description: "?" };
  expect(() => generate(broken)).toThrow(/do-image:index:ImageDroplet\.size: type object has no TypeScript mapping/);
});

test("the check ids schema.json documents for validation.skip are exactly validate's", () => {
  expect(schema.types["do-image:index:CustomImageValidation"].properties.skip.items.enum).toEqual([...CHECK_IDS]);
});

test("schema.json documents CustomImage under the token the engine records for it", async () => {
  const inputs = await serializeWithMocks(() => [new CustomImage("app", { url: "https://example.com/a.qcow2", regions: ["nyc3"] })]);
  expect(inputs.get("app")!.__type).toBe(CUSTOM_IMAGE_TOKEN);
  expect(Object.keys(schema.resources)).toContain(CUSTOM_IMAGE_TOKEN);
  expect(schema.resources["do-image:index:ImageDroplet"].inputProperties.image.$ref).toBe(`#/resources/${CUSTOM_IMAGE_TOKEN.replace("/", "%2F")}`);
});

test("check enforces the schema: wrongly typed inputs fail with the property path and the schema's description", () => {
  const unknown = (v: unknown) => v === "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
  const failures = schemaFailures(
    {
      regions: "nyc3",
      spaces: { bucket: "b", keepObject: "yes", access: "public", uploadAs: "zip" },
      timeouts: { import: "5" },
      validation: { skip: ["sshdd"] },
    },
    unknown,
  );
  const reasonOf = (p: string) => failures.find((f) => f.property === p)?.reason;
  expect(reasonOf("regions")).toMatch(/must be array: Regions the image is made available in/);
  expect(reasonOf("spaces.keepObject")).toMatch(/must be boolean: Keep the uploaded object/);
  expect(reasonOf("spaces.access")).toMatch(/must be equal to one of the allowed values \(one of presigned, public-read\)/);
  expect(reasonOf("spaces.uploadAs")).toMatch(/one of auto, original, qcow2/);
  expect(reasonOf("timeouts.import")).toMatch(/must be number/);
  expect(reasonOf("validation.skip[0]")).toMatch(/one of format, compression/);
  expect(schemaFailures({}, unknown)).toEqual([{ property: "regions", reason: "must have required property 'regions'" }]);
  // A preview's unknown values are not judged.
  expect(
    schemaFailures({ regions: "04da6b54-80e4-46f7-96ec-b56ff0331ba9", spaces: { bucket: "b", keepObject: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" } }, unknown),
  ).toEqual([]);
});

test("check leaves the engine's unknown values (the SDK's runtime.unknownValue) to the update, and judges known ones", async () => {
  const unknown = pulumi.runtime.unknownValue;
  // Whole values from other resources, then single elements and fields.
  const wholes = { url: unknown, regions: unknown, name: unknown, tags: unknown, spaces: unknown, timeouts: unknown, validation: unknown };
  expect((await check({}, wholes)).failures).toEqual([]);
  const parts = {
    url: "https://example.com/a.qcow2",
    name: "app",
    regions: ["nyc3", unknown],
    importRegion: unknown,
    tags: ["a", unknown],
    spaces: { bucket: unknown, region: unknown, access: unknown, uploadAs: unknown },
    timeouts: { import: unknown },
    validation: { skip: [unknown], boot: unknown },
  };
  expect((await check({}, parts)).failures).toEqual([]);
  const known = await check({}, { url: "https://example.com/a.qcow2", name: "app", regions: "nyc3", validation: { skip: "sshd" } });
  expect(known.failures?.map((f) => f.property)).toEqual(["regions", "validation.skip"]);
});
