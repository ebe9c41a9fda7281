// Where a command may write a file: a new path or a regular file it replaces, never a device, FIFO, socket or directory.
import { UsageError } from "../../errors";

/**
 * The file an image may be written to at `output`: a path that does not exist yet, or a regular file (which is then
 * replaced). A symlink is followed, and the rule applied to what it names, so the link keeps pointing at the new
 * file. Anything else (a device such as /dev/full, a FIFO, a socket, a directory) is refused before any work: the
 * temporary file renamed over it would replace the node itself.
 */
export async function replaceableTarget(output: string): Promise<string> {
  const { lstat, readlink, stat } = await import("node:fs/promises");
  const { dirname, resolve } = await import("node:path");
  let path = resolve(output);
  for (let hops = 0; ; hops++) {
    const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw new UsageError(`cannot write ${output}: ${err.message}`, { fix: "name a file in a directory you can write", field: "<output>" });
    });
    if (!st) break;
    if (st.isSymbolicLink()) {
      if (hops >= 40)
        throw new UsageError(`cannot write ${output}: too many levels of symbolic links`, { fix: "name a regular file, or a link to one", field: "<output>" });
      path = resolve(dirname(path), await readlink(path));
      continue;
    }
    if (st.isFile()) break;
    const what = st.isCharacterDevice()
      ? "a character device"
      : st.isBlockDevice()
        ? "a block device"
        : st.isFIFO()
          ? "a FIFO"
          : st.isSocket()
            ? "a socket"
            : st.isDirectory()
              ? "a directory"
              : "not a regular file";
    throw new UsageError(
      `${output}${path === resolve(output) ? "" : ` (${path})`} is ${what}: the image is written to a temporary file and renamed into place, which would replace it`,
      {
        fix: st.isDirectory() ? `name a file inside it, e.g. ${output.replace(/\/+$/, "")}/image.qcow2` : "name a regular file to write the image to",
        field: "<output>",
      },
    );
  }
  const parent = await stat(dirname(path)).catch(() => undefined);
  if (!parent?.isDirectory())
    throw new UsageError(`cannot write ${output}: ${dirname(path)} is not a directory`, { fix: "name a file in an existing directory", field: "<output>" });
  return path;
}
