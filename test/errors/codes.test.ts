// The error codes are one list (errors/ERROR_CODES, the union type ErrorCode): each is given somewhere in provider/, and
// each literal code the sources give is on the list (the compiler holds the second; this test reads the sources too,
// so a code left on the list after its last use is found).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES } from "../../provider/errors";

const ROOT = join(__dirname, "..", "..", "provider");
const sources = (dir: string): string[] =>
  readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });

test("every listed error code is given by some source, in kebab case", () => {
  // the list itself is not a use
  const text = sources(ROOT)
    .map((p) => readFileSync(p, "utf8"))
    .join("\n")
    .replace(/export const ERROR_CODES = \[[^\]]*\]/, "");
  // PublishError's codes are `${stage}-failed`, one per stage the pipeline names
  const given = (c: string) =>
    text.includes(`"${c}"`) || (/-failed$/.test(c) && text.includes("`${options.stage}-failed`") && text.includes(`"${c.slice(0, -7)}"`));
  const unused = ERROR_CODES.filter((c) => !given(c));
  expect(unused).toEqual([]);
  expect(ERROR_CODES.filter((c) => !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(c))).toEqual([]);
  expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
});
