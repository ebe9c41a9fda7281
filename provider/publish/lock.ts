// One publish of a given content at a time on this machine: a lock in the cache folder (proper-lockfile: an atomic
// mkdir, refreshed while held, taken over once stale if its holder died), so a second push waits and then adopts.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { cacheDir } from "../package";

/** How long a lock whose holder stopped refreshing it (a killed process) blocks others. */
const STALE_MS = 20_000;

export interface ContentLock {
  release(): Promise<void>;
}

/**
 * Takes the lock named `name` (an adoption marker: the content, and the owner where there is one), waiting as long as
 * another process holds it; `onWait` is called once if it has to wait.
 */
export async function lockContent(name: string, onWait: (path: string) => void): Promise<ContentLock> {
  const lockfile = await import("proper-lockfile");
  const dir = join(cacheDir(), "locks");
  // No cache folder to lock in (a read-only home, say): go on without; adopt-after-create still converges.
  const usable = await mkdir(dir, { recursive: true }).then(
    () => true,
    () => false,
  );
  if (!usable) return { release: async () => undefined };
  const path = join(dir, name);
  // A lock lost while held (the process stalled past STALE_MS) is not fatal: adopt-after-create still converges.
  const options = { realpath: false, stale: STALE_MS, lockfilePath: `${path}.lock`, onCompromised: () => undefined };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(path, { ...options, retries: 0 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ELOCKED") throw err;
    onWait(`${path}.lock`);
    release = await lockfile.lock(path, { ...options, retries: { forever: true, minTimeout: 100, maxTimeout: 1000, randomize: true } });
  }
  return { release: () => release().catch(() => undefined) };
}
