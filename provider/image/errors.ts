// The error every image reader throws: what was expected, what was found, where (file, offset), and the fix.
import { DoImageError, EXIT, type ErrorCode, type ExitCode } from "../errors";

export interface ImageErrorDetails {
  /** The file (or virtual disk) the problem is in. */
  file?: string;
  /** Byte offset of the offending structure in that file. */
  offset?: number;
  /** What the user should do about it. */
  fix: string;
  /** A stable machine-readable code, e.g. "qcow2-backing-file". @default "image-unreadable" */
  code?: ErrorCode;
  /** @default EXIT.unreadable: the file cannot be read as an image */
  exit?: ExitCode;
  cause?: unknown;
}

export class ImageError extends DoImageError {
  readonly file?: string;
  readonly offset?: number;

  constructor(message: string, details: ImageErrorDetails) {
    super(message, { code: details.code ?? "image-unreadable", fix: details.fix, exit: details.exit ?? EXIT.unreadable, cause: details.cause });
    this.file = details.file;
    this.offset = details.offset;
  }

  override details(): Record<string, unknown> {
    return { file: this.file, offset: this.offset };
  }
}
