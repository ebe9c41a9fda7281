// node:zlib, loaded on first use: it loads Node's stream modules with it, which reading an image with nothing
// compressed in it never needs, and which cost a short command (inspect) about a twentieth of its start.
import type * as Zlib from "node:zlib";

let loaded: typeof Zlib | undefined;
export function zlib(): typeof Zlib {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (loaded ??= require("node:zlib") as typeof Zlib);
}
