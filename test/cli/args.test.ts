// The command-line grammar: where flags may stand, what they turn into, and the usage error (exit 64, naming the flag
// or argument) for everything else.
import { UsageError } from "../../provider/errors";
import { helpText, parseCommandLine, type CommandSpec, type Parsed } from "../../provider/cli/args";

const list = (v: string, prev: unknown = []) => [...(prev as string[]), ...v.split(",").filter(Boolean)];
const run = async () => undefined;

const TREE: CommandSpec = {
  name: "do-image",
  description: "the tool",
  flags: [
    { name: "version", short: "v", description: "print the version" },
    { name: "access-token", short: "t", value: "<token>", description: "token" },
    { name: "api-url", value: "<url>", description: "endpoint", env: "TEST_API_URL" },
  ],
  commands: [
    {
      name: "push",
      description: "publish",
      args: [{ name: "file", description: "image" }],
      flags: [
        { name: "region", value: "<slug>", description: "region", required: true },
        { name: "tag", value: "<tag>", description: "tags", parse: list, default: [] },
        { name: "upload-as", value: "<format>", description: "how", choices: ["auto", "qcow2"], default: "auto" },
        { name: "timeout", value: "<minutes>", description: "wait", default: 60, parse: (v) => Number(v) },
        { name: "json", description: "JSON" },
        { name: "boot", value: "<when>", bare: "auto", choices: ["auto", "always", "never"], default: "never", description: "boot" },
      ],
      run,
    },
    { name: "ls", description: "list", flags: [{ name: "no-header", description: "no header" }], run },
    {
      name: "regions",
      description: "regions",
      commands: [
        {
          name: "add",
          description: "add",
          args: [
            {
              name: "id",
              description: "image id",
              parse: (v) => {
                if (!/^\d+$/.test(v)) throw new Error(`"${v}" is not an image id`);
                return Number(v);
              },
            },
            { name: "regions", description: "slugs", variadic: true },
          ],
          run,
        },
      ],
    },
  ],
};

const parse = (...argv: string[]) => parseCommandLine(TREE, argv);
const ran = (p: Parsed) => {
  if (p.kind !== "run") throw new Error(`expected a command, got ${p.kind}`);
  return { path: p.path, args: p.args, opts: p.opts };
};

function usageError(argv: string[]): { message: string; fix: string; field?: string } {
  try {
    parse(...argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    const e = err as UsageError;
    return { message: e.message, fix: e.fix, field: e.field };
  }
  throw new Error(`${argv.join(" ")} parsed without an error`);
}

test("flags take their defaults, repeat, and global flags stand before or after the command", () => {
  expect(ran(parse("-t", "tok", "push", "a.qcow2", "--region", "nyc3", "--tag", "x", "--tag=y,z", "--upload-as", "qcow2"))).toEqual({
    path: ["push"],
    args: ["a.qcow2"],
    opts: { accessToken: "tok", region: "nyc3", tag: ["x", "y", "z"], uploadAs: "qcow2", timeout: 60, boot: "never" },
  });
  expect(ran(parse("push", "--region=nyc3", "a.qcow2", "--access-token", "tok", "--json", "--timeout", "5")).opts).toEqual({
    accessToken: "tok",
    region: "nyc3",
    tag: [],
    uploadAs: "auto",
    timeout: 5,
    json: true,
    boot: "never",
  });
  // After `--` every word is an argument, even one that looks like a flag.
  expect(ran(parse("push", "--region", "nyc3", "--", "-odd.qcow2")).args).toEqual(["-odd.qcow2"]);
});

test("a --no- switch turns its setting off, which is on when it is absent; an environment variable stands in for a flag", () => {
  expect(ran(parse("ls")).opts).toEqual({ header: true });
  expect(ran(parse("ls", "--no-header")).opts).toEqual({ header: false });
  process.env.TEST_API_URL = "http://127.0.0.1:1";
  try {
    expect(ran(parse("ls")).opts).toEqual({ header: true, apiUrl: "http://127.0.0.1:1" });
    expect(ran(parse("ls", "--api-url", "http://x")).opts.apiUrl).toBe("http://x");
  } finally {
    delete process.env.TEST_API_URL;
  }
});

test("a flag whose value is optional: bare, it stands for its bare value; a value comes after '='", () => {
  const opts = (...argv: string[]) => ran(parse("push", "a.qcow2", "--region", "nyc3", ...argv)).opts.boot;
  expect([opts(), opts("--boot"), opts("--boot=always"), opts("--boot=never")]).toEqual(["never", "auto", "always", "never"]);
  // A separate word is the next argument, not the flag's value: here one argument too many.
  expect(usageError(["push", "a.qcow2", "--region", "nyc3", "--boot", "always"]).message).toMatch(/too many arguments/);
  expect(usageError(["push", "a.qcow2", "--region", "nyc3", "--boot=sometimes"])).toMatchObject({
    message: expect.stringMatching(/'sometimes' is not one of auto, always, never/),
    field: "--boot",
  });
  expect(helpText(TREE, ["push"])).toMatch(/--boot\[=<when>\]/);
});

test("nested commands and a variadic argument", () => {
  expect(ran(parse("regions", "add", "12", "nyc3", "sfo3"))).toEqual({ path: ["regions", "add"], args: [12, ["nyc3", "sfo3"]], opts: {} });
});

test("every usage error names what is wrong and the flag or argument at fault", () => {
  expect(usageError(["pushh"])).toEqual({
    message: "unknown command 'pushh' (did you mean push?)",
    fix: "do-image help lists the commands and global flags",
    field: "pushh",
  });
  expect(usageError(["push", "a", "--region", "nyc3", "--frobnicate"])).toEqual({
    message: "unknown option '--frobnicate'",
    fix: "do-image help push lists what it takes",
    field: "--frobnicate",
  });
  expect(usageError(["push", "a", "--regoin", "nyc3"]).message).toBe("unknown option '--regoin' (did you mean --region?)");
  expect(usageError(["push", "a"])).toMatchObject({ message: "required option '--region <slug>' not given", field: "--region" });
  expect(usageError(["push", "--region", "nyc3"])).toMatchObject({ message: "missing required argument 'file'", field: "<file>" });
  expect(usageError(["push", "a", "b", "--region", "nyc3"]).message).toBe("too many arguments for 'push': it takes <file>, and 'b' is left over");
  // A value that looks like a flag is taken for a forgotten value, not swallowed.
  expect(usageError(["push", "a", "--region", "--json"])).toMatchObject({ message: "option '--region <slug>' needs a value", field: "--region" });
  expect(usageError(["push", "a", "--region"]).message).toBe("option '--region <slug>' needs a value");
  expect(usageError(["push", "a", "--region", "nyc3", "--json=1"]).message).toBe("option '--json' takes no value, but was given '1'");
  expect(usageError(["push", "a", "--region", "nyc3", "--upload-as", "gzip"])).toMatchObject({
    message: "option '--upload-as <format>': 'gzip' is not one of auto, qcow2",
    field: "--upload-as",
  });
  expect(usageError(["regions", "add", "x1", "nyc3"])).toMatchObject({ message: `argument 'id': "x1" is not an image id`, field: "<id>" });
  expect(usageError(["regions", "add", "12"]).message).toBe("missing required argument 'regions'");
  expect(usageError(["--region", "nyc3", "push"]).message).toBe("unknown option '--region'");
});

test("help and version, asked for or shown because a command was missing", () => {
  expect(parse("--version")).toEqual({ kind: "version" });
  expect(parse("push", "-v")).toEqual({ kind: "version" });
  expect(parse("help", "regions", "add")).toEqual({ kind: "help", text: helpText(TREE, ["regions", "add"]), toStderr: false });
  expect(parse("push", "--help")).toEqual({ kind: "help", text: helpText(TREE, ["push"]), toStderr: false });
  expect(parse()).toEqual({ kind: "help", text: helpText(TREE, []), toStderr: true });
  expect(parse("regions")).toEqual({ kind: "help", text: helpText(TREE, ["regions"]), toStderr: true });
  const help = helpText(TREE, ["push"]);
  expect(help).toMatch(/^Usage: do-image push \[options\] <file>\n/);
  expect(help).toMatch(/\n {2}--upload-as <format> +how \(choices: auto, qcow2; default: auto\)\n/);
  expect(help).toMatch(/\n {2}-h, --help +show this help\n/);
});
