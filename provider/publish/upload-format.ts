// How a local file is sent to Spaces: `auto` sends what is already compressed as it is, and converts the rest to a compressed qcow2.
import type { FileShape } from "../image";
import type { UploadFormat } from "./inputs";

export type SentFormat = Exclude<UploadFormat, "auto">;

export interface UploadChoice {
  format: SentFormat;
  /** Why, in words for a log line. */
  reason: string;
}

/**
 * `auto`: a gzip or bzip2 file, or a container that already compresses its data (a compressed qcow2, a
 * stream-optimized VMDK: the file is smaller than the data it holds), is sent as it is; a raw disk, or a container of
 * uncompressed data, is sent as a compressed qcow2 of its non-zero clusters. An explicit format is kept, but for
 * gzip over a file already compressed: DigitalOcean undoes one layer of compression, not two.
 */
export function chooseUploadFormat(requested: UploadFormat, shape: FileShape): UploadChoice {
  if (requested === "gzip" && shape.compression !== "none")
    return { format: "original", reason: `the file is already ${shape.compression}-compressed, and DigitalOcean undoes only one layer` };
  if (requested !== "auto") return { format: requested, reason: "as asked" };
  if (shape.compression !== "none") return { format: "original", reason: `the file is already ${shape.compression}-compressed` };
  const data = shape.allocatedBytes ?? shape.fileSize;
  if (shape.format !== "raw" && shape.fileSize < 0.9 * data)
    return { format: "original", reason: `the ${shape.format} file already compresses its data (${shape.fileSize} bytes hold ${data})` };
  return {
    format: "qcow2",
    reason: shape.format === "raw" ? "a raw disk: only its non-zero clusters are sent, compressed" : `its ${shape.format} data is not compressed`,
  };
}

/** How `file` is sent, from its own metadata; a file whose metadata cannot be read is an error here. */
export async function uploadFormatFor(file: string, requested: UploadFormat): Promise<UploadChoice> {
  if (requested === "original" || requested === "qcow2") return chooseUploadFormat(requested, { fileSize: 0, compression: "none" });
  const { fileShape } = await import("../image"); // the readers load only when a file is judged
  return chooseUploadFormat(requested, await fileShape(file));
}
