// schema.json: valid against Pulumi's package metaschema, and its properties are exactly the TypeScript ones.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import * as ts from "typescript";
import { CHECK_IDS } from "../../provider/image";
import { describeWithShared, PULUMI_METASCHEMA } from "../support/shared";

const ROOT = join(__dirname, "..", "..");
const schema = JSON.parse(readFileSync(join(ROOT, "schema.json"), "utf8"));

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

describeWithShared("schema.json", PULUMI_METASCHEMA, () => {
  test("is a valid Pulumi package schema", () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(PULUMI_METASCHEMA, "utf8")));
    expect(validate(schema) ? [] : validate.errors).toEqual([]);
  });
});

test.each([
  ["do-image:index:CustomImage", "provider/pulumi/customImage.ts", "CustomImageArgs", "CustomImage"],
  ["do-image:index:ImageDroplet", "provider/pulumi/imageDroplet.ts", "ImageDropletArgs", "ImageDroplet"],
])("%s matches its TypeScript inputs and outputs", (token, file, args, cls) => {
  const r = schema.resources[token];
  expect(Object.keys(r.inputProperties).sort()).toEqual(members(file, args));
  expect(Object.keys(r.properties).sort()).toEqual(members(file, cls));
  const optional = members(file, args).filter((m) => new RegExp(`readonly ${m}\\?:`).test(readFileSync(join(ROOT, file), "utf8")));
  expect([...r.requiredInputs].sort()).toEqual(members(file, args).filter((m) => !optional.includes(m)));
});

test("the Spaces settings type matches CustomImageSpacesArgs", () => {
  expect(Object.keys(schema.types["do-image:index:CustomImageSpaces"].properties).sort()).toEqual(
    members("provider/pulumi/customImage.ts", "CustomImageSpacesArgs"),
  );
});

test("the check ids schema.json documents for validation.skip are exactly validate's", () => {
  expect(schema.types["do-image:index:CustomImageValidation"].properties.skip.items.enum).toEqual([...CHECK_IDS]);
});
