// The image's SHA-256: a file that changes while it is read is the input's fault, said as such (exit 2), never a bug.
import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DoImageError, exitCodeOf } from "../../provider/errors";
import { sha256File } from "../../provider/spaces/hash";

test("a file written to while it is hashed is refused with code file-changed and exit 2", async () => {
  process.env.XDG_CACHE_HOME = mkdtempSync(join(tmpdir(), "hash-cache-"));
  const file = join(mkdtempSync(join(tmpdir(), "hash-")), "image.raw");
  writeFileSync(file, Buffer.alloc(32 << 20, 1));
  let appended = false;
  const err = await sha256File(file, () => {
    // the first progress report comes after the first chunk is read: the writer appends then
    if (!appended) appendFileSync(file, "more");
    appended = true;
  }).catch((e: unknown) => e);
  expect(appended).toBe(true);
  expect(err).toBeInstanceOf(DoImageError);
  expect(err).toMatchObject({ code: "file-changed", message: expect.stringContaining("image.raw changed while it was being hashed") });
  expect(exitCodeOf(err)).toBe(2);
});
