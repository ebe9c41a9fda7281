// Lint rules: typescript-eslint's recommended set, and the architecture's boundaries (see ARCHITECTURE.md), enforced
// on static imports, dynamic import() and require() alike.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** Forbids imports whose specifier matches `pattern` in `files`, however they are written. */
function boundary(name, files, pattern, message, ignores = []) {
  const regex = pattern.source;
  return {
    name: `boundary: ${name}`,
    files,
    ignores,
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ regex, message }] }],
      "no-restricted-syntax": [
        "error",
        { selector: `ImportExpression[source.value=/${regex}/]`, message },
        { selector: `CallExpression[callee.name='require'][arguments.0.value=/${regex}/]`, message },
        { selector: `TSImportType[argument.literal.value=/${regex}/]`, message },
      ],
    },
  };
}

const any = (...patterns) => new RegExp(patterns.map((p) => `(?:${p.source})`).join("|"));
const FACES = /(^|\/)(pulumi|cdktf|cli)(\/|$)|^@pulumi\/|^cdktf$|^@cdktf\/|^constructs$/;
const DEV = /(^|\/)(test|tools|bench)(\/|$)/;

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", "*.config.js", "examples/cdktf/cdktf.out/", "examples/cdktf/cdktf.test.out/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  // One block per folder (a later block's rule replaces an earlier one's), each listing everything that folder may not import.
  boundary(
    "product code never imports tests, benchmarks or the local tools",
    ["provider/*.ts"],
    DEV,
    "product code must not depend on test/, bench/ or tools/",
  ),
  boundary(
    "the internal entry",
    ["provider/internal.ts"],
    any(FACES, /^\.\/boot$/, DEV),
    "do-image/internal re-exports the core's layers: no face, and not boot/ (its SSH loads on first use, from the core entry)",
  ),
  boundary(
    "image/ reads and judges images: no network, no processes, nothing of ours but the error model",
    ["provider/image/**/*.ts"],
    any(
      /^\.\.?\/(\.\.\/)*(boot|digitalocean|spaces|publish|pulumi|cdktf|cli)(\/|$)|^@aws-sdk\/|^ssh2$|^(node:)?(net|http|https|child_process|dgram|tls)$/,
      FACES,
      DEV,
    ),
    "image/ imports nothing of ours but errors/: not boot/ (QEMU, sockets, SSH), the network side, a face, tests or tools",
  ),
  boundary(
    "boot/ starts an image in QEMU as a Droplet: it reads images through image/, and knows nothing of DigitalOcean's API",
    ["provider/boot/**/*.ts"],
    any(/^\.\.\/(digitalocean|spaces|publish)(\/|$)|^@aws-sdk\//, FACES, DEV),
    "boot/ imports image/ and errors/ only: not the API client, the uploader, the pipeline, a face, tests or tools",
  ),
  boundary("errors/ is a leaf", ["provider/errors/**/*.ts"], /^\./, "the error model imports nothing"),
  boundary(
    "digitalocean/ is a pure API client",
    ["provider/digitalocean/**/*.ts"],
    any(/^\.\.\/(spaces|publish|image)(\/|$)/, FACES, DEV),
    "the API client knows nothing of uploads, images, the pipeline, the faces, tests or tools",
  ),
  boundary(
    "spaces/ is a pure uploader",
    ["provider/spaces/**/*.ts"],
    any(/^\.\.\/(digitalocean|publish|image)(\/|$)/, FACES, DEV),
    "the uploader knows nothing of the API, images, the pipeline, the faces, tests or tools",
  ),
  boundary("publish/ is the core pipeline", ["provider/publish/**/*.ts"], any(FACES, DEV), "the core never imports a face, tests or tools"),
  boundary(
    "the Pulumi face",
    ["provider/pulumi/**/*.ts"],
    any(/(^|\/)(cdktf|cli)(\/|$)|^cdktf$|^@cdktf\//, DEV),
    "faces never import each other, tests or tools",
  ),
  boundary("the CDKTF face", ["provider/cdktf/**/*.ts"], any(/(^|\/)(pulumi|cli)(\/|$)|^@pulumi\//, DEV), "faces never import each other, tests or tools"),
  boundary(
    "the CLI",
    ["provider/cli/**/*.ts"],
    any(/(^|\/)(pulumi|cdktf)(\/|$)|^@pulumi\/|^cdktf$|^@cdktf\//, DEV),
    "faces never import each other, tests or tools",
  ),
  boundary(
    "benchmarks use the package and the local tools only",
    ["bench/**/*.ts"],
    /^\.\.\/(provider|test)(\/|$)/,
    'import "do-image" (or do-image/internal, do-image/pulumi) and tools/local-do instead',
  ),
  boundary(
    "the local tools use the package by name",
    ["tools/**/*.ts"],
    /(^|\/)provider(\/|$)|(^|\/)test(\/|$)/,
    'import "do-image" as a user would, or "do-image/internal" for the building blocks',
  ),
);
