// YAML as cloud-init reads it: PyYAML's safe_load, which resolves plain scalars by YAML 1.1 (merge keys, octal, `on`
// and `off`) and lets a later duplicate key win. Read with js-yaml's event parser, so one pass gives both the values
// and the line each top-level key is on, for evidence.
import { GUEST_LIMITS } from "../guest-limits";
import { constructFromEvents, defineScalarTag, EVENT_ID, getScalarValue, NOT_RESOLVED, parseEvents, YAML11_SCHEMA, YAMLException, type Event } from "js-yaml";

/** PyYAML's booleans: YAML 1.1's words without `y` and `n`, which PyYAML leaves as strings. */
const pyyamlBool = defineScalarTag("tag:yaml.org,2002:bool", {
  implicit: true,
  implicitFirstChars: ["y", "Y", "n", "N", "t", "T", "f", "F", "o", "O"],
  resolve: (s) => (/^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/.test(s) ? true : /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/.test(s) ? false : NOT_RESOLVED),
  identify: (v) => typeof v === "boolean",
});

const SCHEMA = YAML11_SCHEMA.withTags(pyyamlBool);

export interface YamlDocument {
  /** The document's value; undefined for an empty file. */
  value: unknown;
  /** The 1-based line of each top-level key of a mapping document (the last, where a key repeats). */
  keyLines: Map<string, number>;
}

/**
 * How far a document may expand through aliases before we stop following it: PyYAML shares an aliased value rather
 * than copying it, so a "billion laughs" loads, but anything that walks the value (a merge, a dump to JSON, as
 * cloud-init's later stages do) meets every expansion. Real cloud configs hold hundreds of values.
 */
export const YAML_LIMITS = { expandedValues: GUEST_LIMITS.yamlExpandedValues };

/** A document past a bound: its top-level keys (read without expanding anything) and what was exceeded. */
export class YamlBoundError extends Error {
  constructor(
    readonly reason: string,
    readonly keys: string[],
  ) {
    super(reason);
  }
}

/** The number of values a document holds once every alias is expanded, counted once per distinct node (linear). */
function expandedValues(value: unknown, limit: number): number {
  const memo = new Map<object, number>();
  const count = (v: unknown): number => {
    if (typeof v !== "object" || v === null) return 1;
    const known = memo.get(v);
    if (known !== undefined) return known;
    memo.set(v, limit + 1); // a cycle (an alias inside itself) expands without end
    let n = 1;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      n += count(child);
      if (n > limit) break;
    }
    memo.set(v, n);
    return n;
  };
  return count(value);
}

/** A file PyYAML would refuse: the 1-based line, where the parser says, and its reason. */
export class YamlSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number | undefined,
  ) {
    super(reason);
  }
}

/** Parses one YAML document as PyYAML's safe_load does; throws YamlSyntaxError where it would refuse the text. */
export function readYaml(text: string, filename?: string): YamlDocument {
  let events: Event[];
  let docs: unknown[];
  try {
    events = parseEvents(text, { filename });
    docs = constructFromEvents(events, { source: text, filename, schema: SCHEMA, json: true });
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    throw new YamlSyntaxError(err.reason, err.mark ? err.mark.line + 1 : undefined);
  }
  if (docs.length > 1) throw new YamlSyntaxError("expected a single document in the stream, but found another document", undefined);
  const keyLines = topLevelKeyLines(text, events);
  if (expandedValues(docs[0], YAML_LIMITS.expandedValues) > YAML_LIMITS.expandedValues)
    throw new YamlBoundError(`its aliases expand to more than ${YAML_LIMITS.expandedValues} values (a "billion laughs")`, [...keyLines.keys()]);
  return { value: docs[0], keyLines };
}

/** Walks the events of the first document: in its top-level mapping, every other node at depth 2 is a key. */
function topLevelKeyLines(text: string, events: Event[]): Map<string, number> {
  const lines = new Map<string, number>();
  let depth = 0;
  let index = 0;
  let line = 1;
  let counted = 0;
  // Offsets only grow: count the newlines since the last one asked about (indexOf, not a loop over characters).
  const lineAt = (offset: number) => {
    for (let nl = text.indexOf("\n", counted); nl !== -1 && nl < offset; nl = text.indexOf("\n", nl + 1)) {
      line++;
      counted = nl + 1;
    }
    return line;
  };
  for (const e of events) {
    if (e.type === EVENT_ID.POP) {
      depth--;
      if (depth === 0) break;
      continue;
    }
    if (depth === 2) {
      if (index % 2 === 0 && e.type === EVENT_ID.SCALAR) lines.set(getScalarValue(text, e), lineAt(e.valueStart));
      index++;
    }
    if (e.type === EVENT_ID.DOCUMENT || e.type === EVENT_ID.SEQUENCE || e.type === EVENT_ID.MAPPING) {
      // Only a mapping at the document's top has keys worth a line.
      if (depth === 1 && e.type !== EVENT_ID.MAPPING) return lines;
      depth++;
    }
  }
  return lines;
}
