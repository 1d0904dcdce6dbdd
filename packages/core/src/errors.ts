/**
 * Typed errors. Every failure the public API reports on bad input is a {@link QoqError}
 * with a stable `code`, so callers (and the CLI's exit status) can tell bad input from bugs.
 * @module
 */

/** Stable machine-readable error codes. */
export type QoqErrorCode =
  | "shape"
  | "dtype"
  | "param"
  | "non_finite"
  | "range"
  | "overflow"
  | "safetensors"
  | "unknown_op"
  | "unsupported"
  | "io";

/** Base class of every error the qoq packages throw on bad input. */
export class QoqError extends Error {
  /** Stable machine-readable category. */
  readonly code: QoqErrorCode;
  constructor(code: QoqErrorCode, message: string) {
    super(message);
    this.name = "QoqError";
    this.code = code;
  }
}

/** A tensor has the wrong rank or a dimension disagrees with another tensor or a parameter. */
export class ShapeError extends QoqError {
  constructor(message: string) {
    super("shape", message);
    this.name = "ShapeError";
  }
}

/** A tensor has a dtype the operation does not accept. */
export class DTypeError extends QoqError {
  constructor(message: string) {
    super("dtype", message);
    this.name = "DTypeError";
  }
}

/** A parameter is missing, unknown, or out of its allowed range. */
export class ParamError extends QoqError {
  constructor(message: string) {
    super("param", message);
    this.name = "ParamError";
  }
}

/** A NaN or infinity where the numerics contract forbids it. */
export class NonFiniteError extends QoqError {
  /** Name of the offending tensor. */
  readonly tensor: string;
  /** Flat element index of the first non-finite value. */
  readonly index: number;
  constructor(tensor: string, index: number, value: number) {
    super("non_finite", `tensor '${tensor}' holds a non-finite value (${value}) at flat index ${index}`);
    this.name = "NonFiniteError";
    this.tensor = tensor;
    this.index = index;
  }
}

/** An integer code or scale lies outside the range its format allows (e.g. a UINT4 code above 15). */
export class RangeViolationError extends QoqError {
  /** Name of the offending tensor. */
  readonly tensor: string;
  /** Flat element index of the first offending value. */
  readonly index: number;
  constructor(tensor: string, index: number, message: string) {
    super("range", `tensor '${tensor}' at flat index ${index}: ${message}`);
    this.name = "RangeViolationError";
    this.tensor = tensor;
    this.index = index;
  }
}

/** A size past which an exact integer accumulator could overflow, or a value past the range of its storage type. */
export class OverflowError extends QoqError {
  constructor(message: string) {
    super("overflow", message);
    this.name = "OverflowError";
  }
}

/** A safetensors file violates the format. `tensor` and `offset` locate the problem where known. */
export class SafetensorsError extends QoqError {
  /** Tensor name the problem belongs to, if any. */
  readonly tensor: string | undefined;
  /** Byte offset in the file the problem refers to, if any. */
  readonly offset: number | undefined;
  constructor(message: string, where: { tensor?: string; offset?: number } = {}) {
    const loc = [
      where.tensor !== undefined ? `tensor '${where.tensor}'` : undefined,
      where.offset !== undefined ? `byte offset ${where.offset}` : undefined,
    ]
      .filter((s) => s !== undefined)
      .join(", ");
    super("safetensors", loc ? `safetensors: ${message} (${loc})` : `safetensors: ${message}`);
    this.name = "SafetensorsError";
    this.tensor = where.tensor;
    this.offset = where.offset;
  }
}

/** An operation name that is not in the registry. */
export class UnknownOpError extends QoqError {
  constructor(name: string, known: readonly string[]) {
    super("unknown_op", `unknown op '${name}'; known ops: ${known.join(", ")}`);
    this.name = "UnknownOpError";
  }
}

/** A backend does not support an operation or parameter combination. */
export class UnsupportedError extends QoqError {
  constructor(message: string) {
    super("unsupported", message);
    this.name = "UnsupportedError";
  }
}

/** A file could not be read or written. */
export class IoError extends QoqError {
  constructor(message: string) {
    super("io", message);
    this.name = "IoError";
  }
}
