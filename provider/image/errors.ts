// The error every image reader throws: what was expected, what was found, where (file, offset), and the fix.

export interface ImageErrorDetails {
  /** The file (or virtual disk) the problem is in. */
  file?: string;
  /** Byte offset of the offending structure in that file. */
  offset?: number;
  /** What the user should do about it. */
  fix: string;
  /** A stable machine-readable code, e.g. "qcow2-backing-file". */
  code?: string;
  cause?: unknown;
}

export class ImageError extends Error {
  readonly file?: string;
  readonly offset?: number;
  readonly fix: string;
  readonly code: string;

  constructor(message: string, details: ImageErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "ImageError";
    this.file = details.file;
    this.offset = details.offset;
    this.fix = details.fix;
    this.code = details.code ?? "image-unreadable";
  }
}
