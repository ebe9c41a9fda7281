// Loads a CommonJS file through a V8 code cache kept in the user's cache folder, written by hand: Node's own compile
// cache (module.enableCompileCache, Node ≥ 22.1) stores only what V8 compiled before the file ran, and Node 20 has none.
// A cache made after a command ran holds the bytecode of every function that command needed, so the next run of the
// same command neither parses nor compiles them. One cache per command, named as Python names its .pyc files, by the
// source's size and modification time (and inode), plus the Node version, the architecture and the V8 flags: V8's own
// check is only the source's length, so an edited file of the same length must not find an old cache. Nothing here
// may fail a command: a cache that cannot be read, is refused or cannot be written is only slower.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Script } from "node:vm";

export interface CodeCacheOptions {
  /** The folder the caches are kept in. */
  dir: string;
  /** What the run is about to do (the command's name): runs that do the same share a cache. */
  purpose: string;
  /** How many caches the folder keeps; the least recently written go first. */
  keep?: number;
  /**
   * Whether a run ending with this exit code did the work later runs will do, so its cache is worth keeping. A run
   * that stopped early (a usage error, a file that cannot be read) compiled only part of it, and as the cache is
   * made once, every later run would compile the rest again. Always, when not given.
   */
  keepIf?: (exitCode: number) => boolean;
}

export interface LoadedModule {
  exports: unknown;
  /** "hit": V8 took the cache; "made": there was none or V8 refused it, and one is written as the process exits. */
  cache: "hit" | "made" | "off";
}

/** Runs `file` as a CommonJS module (its own require, module, __filename and __dirname) and returns its exports. */
export function requireWithCodeCache(file: string, options: CodeCacheOptions): LoadedModule {
  // A shebang is valid only at the very start of a script, not inside the function wrapper. Read as latin1, which
  // needs no UTF-8 decoding: the bundle is ASCII (make build checks).
  const source = readFileSync(file, "latin1").replace(/^#!.*/, "");
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const enabled = !process.env.NODE_DISABLE_COMPILE_CACHE;
  const st = statSync(file, { bigint: true });
  const flags = fnv1a(process.execArgv.join(" "));
  const name = `${options.purpose.replace(/[^a-z0-9-]/gi, "_")}-${st.size}-${st.mtimeNs}-${st.ino}-${process.version}-${process.arch}-${flags}`;
  let cachedData: Buffer | undefined;
  if (enabled) {
    try {
      cachedData = readFileSync(join(options.dir, name));
    } catch {
      cachedData = undefined;
    }
  }
  const script = new Script(wrapper, { filename: file, cachedData });
  const fresh = enabled && (cachedData === undefined || script.cachedDataRejected === true);
  // Made once the command has run, when V8 has compiled every function it called.
  if (fresh)
    process.once("exit", (code) => {
      if (options.keepIf?.(code) ?? true) writeCache(options.dir, name, script, options.keep ?? 16);
    });
  const module = { exports: {} as unknown, filename: file, id: file, loaded: false };
  const fn = script.runInThisContext() as (e: unknown, r: NodeRequire, m: unknown, f: string, d: string) => void;
  fn.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  module.loaded = true;
  return { exports: module.exports, cache: !enabled ? "off" : fresh ? "made" : "hit" };
}

/** 32-bit FNV-1a of a string, as 8 hex digits. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** Writes the cache under a temporary name and renames it, so a reader never sees half; keeps the newest `keep`. */
function writeCache(dir: string, name: string, script: Script, keep: number): void {
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.${name}.${process.pid}`);
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, join(dir, name));
    // Older builds' caches are never read again: an upgrade, or a rebuild, must not let them pile up.
    const caches = readdirSync(dir)
      .filter((f) => !f.startsWith("."))
      .map((f) => ({ f, at: statSync(join(dir, f)).mtimeMs }))
      .sort((a, b) => b.at - a.at);
    for (const { f } of caches.slice(keep)) rmSync(join(dir, f), { force: true });
  } catch {
    // A read-only or full cache folder: the next run compiles again.
  }
}
