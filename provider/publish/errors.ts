// The pipeline's errors: which stage failed, and the image id when the image already exists (so no face leaks it).
import { DoImageError, EXIT, UsageError } from "../errors";
import { blocks, failureLines, type ValidationReport } from "../image";
import type { InputProblem } from "./inputs";

export type PublishStage = "validate" | "upload" | "import" | "transfer" | "update" | "delete";

/** A failure part-way, after which `imageId` (when set) names the image that exists and must be recorded or removed. */
export class PublishError extends DoImageError {
  readonly imageId: number | undefined;
  readonly stage: PublishStage;

  /** Code, fix and exit code come from `cause` when it is one of ours; else `${stage}-failed`, a retry, and 70. */
  constructor(message: string, options: { stage: PublishStage; imageId?: number; cause?: unknown; fix?: string }) {
    const inner = options.cause instanceof DoImageError ? options.cause : undefined;
    super(message, {
      code: inner?.code ?? `${options.stage}-failed`,
      fix: options.fix ?? inner?.fix ?? "run the same command again; what already exists is found and reused",
      exit: inner?.exitCode ?? EXIT.internal,
      cause: options.cause,
    });
    this.imageId = options.imageId;
    this.stage = options.stage;
  }

  override details(): Record<string, unknown> {
    return { stage: this.stage, imageId: this.imageId, ...(this.cause instanceof DoImageError ? this.cause.details() : {}) };
  }
}

export class ValidationFailedError extends DoImageError {
  constructor(readonly report: ValidationReport) {
    const lines = failureLines(report);
    super(`${report.file} would not work as a DigitalOcean custom image:\n${lines.map((l) => `  ${l}`).join("\n")}`, {
      code: "validation-failed",
      fix: `fix what each failing check names; to accept a failure knowingly, skip its check (${report.checks
        .filter(blocks)
        .map((c) => c.id)
        .join(",")})`,
      exit: EXIT.refused,
    });
  }

  override details(): Record<string, unknown> {
    return { failed: this.report.checks.filter(blocks).map((c) => c.id) };
  }
}

/** All of a publish's input problems as one usage error naming the first field. */
export function inputError(problems: InputProblem[], fieldName: (field: string) => string = (f) => f): UsageError {
  const lines = problems.map((p) => `${fieldName(p.field)}: ${p.reason}`);
  return new UsageError(lines.length === 1 ? lines[0] : `invalid input:\n  ${lines.join("\n  ")}`, {
    fix: "correct the input named above",
    field: fieldName(problems[0].field),
  });
}
