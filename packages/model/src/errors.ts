/**
 * Typed errors of the model package: a model or tokenizer file that violates its format.
 * @module
 */
import { QoqError } from "@qoq/core";

/** Where in a file a format violation was found. */
export interface ModelFormatLocation {
  /** The file (or directory) being read. */
  readonly file: string;
  /** The tensor (or header field) the problem belongs to, if any. */
  readonly tensor?: string;
  /** Byte offset in the file the problem refers to, if known. */
  readonly offset?: number;
}

/**
 * A model checkpoint, config or tokenizer file is malformed (truncated, inconsistent header,
 * sizes that do not add up, missing or misshaped tensor, non-finite weight, broken config).
 * Code `io`; the message names the file, the tensor and the byte offset where known.
 */
export class ModelFormatError extends QoqError {
  /** The file being read. */
  readonly file: string;
  /** The tensor or header field at fault, if any. */
  readonly tensor: string | undefined;
  /** Byte offset in the file, if known. */
  readonly offset: number | undefined;
  constructor(message: string, where: ModelFormatLocation) {
    const loc = [
      `file '${where.file}'`,
      where.tensor !== undefined ? `tensor '${where.tensor}'` : undefined,
      where.offset !== undefined ? `byte offset ${where.offset}` : undefined,
    ]
      .filter((s) => s !== undefined)
      .join(", ");
    super("io", `${message} (${loc})`);
    this.name = "ModelFormatError";
    this.file = where.file;
    this.tensor = where.tensor;
    this.offset = where.offset;
  }
}
