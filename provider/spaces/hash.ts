// SHA-256 of an image file, streamed once and cached per (device, inode, size, mtime) so an unchanged file is not read again.
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync, type BigIntStats } from "node:fs";
import { open, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { DoImageError, EXIT } from "../errors";
import { cacheDir } from "../package";

export interface Progress {
  /** "convert": a converted upload, produced while it is sent; bytes count the disk read so far. */
  phase: "hash" | "upload" | "convert";
  bytes: number;
  total: number;
  /** Bytes per second over the phase so far. */
  rate: number;
  /** Seconds left at that rate. */
  etaSeconds: number;
}

export const hashCacheFile = () => join(cacheDir(), "sha256.json");

type CacheEntries = Record<string, { sha256: string; at: string }>;

const CHUNK = 8 * 1024 * 1024;

/** What identifies an unchanged file: device, inode, size and modification time. */
const identity = (st: BigIntStats) => `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;

function cachedHash(key: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(hashCacheFile(), "utf8")) as CacheEntries)[key]?.sha256;
  } catch {
    return undefined;
  }
}

/** Rewritten whole through a rename, so concurrent runs never see a half-written cache. */
function rememberHash(key: string, sha256: string): void {
  const file = hashCacheFile();
  let cache: CacheEntries = {};
  try {
    cache = JSON.parse(readFileSync(file, "utf8")) as CacheEntries;
  } catch {
    cache = {};
  }
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ ...cache, [key]: { sha256, at: new Date().toISOString() } }));
  renameSync(tmp, file);
}

export function progressReporter(phase: Progress["phase"], total: number, onProgress?: (p: Progress) => void) {
  const start = Date.now();
  let last = 0;
  return (bytes: number, force = false) => {
    if (!onProgress) return;
    const t = Date.now();
    if (!force && t - last < 100) return;
    last = t;
    const rate = bytes / Math.max(0.001, (t - start) / 1000);
    onProgress({ phase, bytes, total, rate, etaSeconds: rate > 0 ? (total - bytes) / rate : Infinity });
  };
}

/** The file's SHA-256 in hex, from the cache when the file is unchanged since it was last hashed. */
export async function sha256File(path: string, onProgress?: (p: Progress) => void): Promise<{ sha256: string; cached: boolean; size: number }> {
  const st = await stat(path, { bigint: true });
  const key = identity(st);
  const hit = cachedHash(key);
  if (hit) return { sha256: hit, cached: true, size: Number(st.size) };
  const h = createHash("sha256");
  const total = Number(st.size);
  const report = progressReporter("hash", total, onProgress);
  // Two buffers: the next read runs on the thread pool while this thread hashes the previous one.
  const handle = await open(path, "r");
  let done = 0;
  try {
    const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let pending = handle.read(bufs[0], 0, CHUNK, 0);
    for (let i = 0; ; i++) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const current = bufs[i % 2];
      pending = handle.read(bufs[(i + 1) % 2], 0, CHUNK, done + bytesRead);
      h.update(current.subarray(0, bytesRead));
      done += bytesRead;
      report(done);
    }
  } finally {
    await handle.close();
  }
  report(done, true);
  const sha256 = h.digest("hex");
  const after = await stat(path, { bigint: true });
  if (after.mtimeNs !== st.mtimeNs || after.size !== st.size)
    // the input, not do-image, is at fault: an input error (2), not a bug (70)
    throw new DoImageError(`${path} changed while it was being hashed`, {
      code: "file-changed",
      fix: "let whatever writes the image finish, then run again",
      exit: EXIT.unreadable,
    });
  rememberHash(key, sha256);
  return { sha256, cached: false, size: total };
}

/** The same cached SHA-256, synchronously, for CDKTF constructs (which are built synchronously at synth). */
export function sha256FileSync(path: string): string {
  const st = statSync(path, { bigint: true });
  const key = identity(st);
  const hit = cachedHash(key);
  if (hit) return hit;
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(CHUNK);
  const fd = openSync(path, "r");
  try {
    for (let pos = 0; ;) {
      const n = readSync(fd, buf, 0, CHUNK, pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  const sha256 = h.digest("hex");
  rememberHash(key, sha256);
  return sha256;
}
