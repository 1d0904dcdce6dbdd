/**
 * A small Tensor type over typed arrays. Binary16 tensors hold their raw bits in a Uint16Array
 * (so files round-trip byte for byte); use {@link toNumbers} / {@link fromNumbers} to convert.
 * Layout is always row-major and contiguous.
 * @module
 */
import { DTypeError, NonFiniteError, RangeViolationError, ShapeError } from "./errors.js";
import { fromF16Bits, toF16Bits } from "./f16.js";

/** Element types the qoq ops use. */
export type DType = "f16" | "f32" | "f64" | "i8" | "u8" | "i32";

/** All supported dtypes. */
export const DTYPES: readonly DType[] = ["f16", "f32", "f64", "i8", "u8", "i32"];

/** The typed array that stores each dtype. */
export interface DTypeArrays {
  f16: Uint16Array;
  f32: Float32Array;
  f64: Float64Array;
  i8: Int8Array;
  u8: Uint8Array;
  i32: Int32Array;
}

/** A row-major, contiguous tensor. */
export interface Tensor<D extends DType = DType> {
  /** Element type. */
  readonly dtype: D;
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Elements in row-major order (binary16 as raw bits). */
  readonly data: DTypeArrays[D];
}

/** Tensors by name, as ops take and return them and as safetensors files hold them. */
export type NamedTensors = Record<string, Tensor>;

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = { f16: 2, f32: 4, f64: 8, i8: 1, u8: 1, i32: 4 };

/** Inclusive integer range of each integer dtype. */
export const INT_RANGE: Readonly<Record<"i8" | "u8" | "i32", readonly [number, number]>> = {
  i8: [-128, 127],
  u8: [0, 255],
  i32: [-2147483648, 2147483647],
};

/** Number of elements of a shape (1 for a scalar shape `[]`). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (d === 0) return 0; // before any overflow to Infinity, whose product with 0 would be NaN
    n *= d;
  }
  return n;
}

/** Allocate a zero-filled typed array for `dtype`. */
export function allocData<D extends DType>(dtype: D, n: number): DTypeArrays[D] {
  switch (dtype) {
    case "f16":
      return new Uint16Array(n) as DTypeArrays[D];
    case "f32":
      return new Float32Array(n) as DTypeArrays[D];
    case "f64":
      return new Float64Array(n) as DTypeArrays[D];
    case "i8":
      return new Int8Array(n) as DTypeArrays[D];
    case "u8":
      return new Uint8Array(n) as DTypeArrays[D];
    case "i32":
      return new Int32Array(n) as DTypeArrays[D];
  }
  throw new DTypeError(`unknown dtype '${String(dtype)}'`);
}

function checkShape(shape: readonly number[], what: string): void {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new ShapeError(`${what}: invalid dimension ${d} in shape [${shape.join(", ")}]`);
  }
}

/** A zero-filled tensor. */
export function zeros<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
  checkShape(shape, "zeros");
  return { dtype, shape: [...shape], data: allocData(dtype, numel(shape)) };
}

/** Wrap an existing typed array; its length must match the shape. */
export function tensor<D extends DType>(dtype: D, shape: readonly number[], data: DTypeArrays[D]): Tensor<D> {
  checkShape(shape, "tensor");
  if (data.length !== numel(shape)) {
    throw new ShapeError(`tensor: ${data.length} elements do not fill shape [${shape.join(", ")}] (${numel(shape)} needed)`);
  }
  return { dtype, shape: [...shape], data };
}

/**
 * Build a tensor from numbers. Floats are rounded to the dtype, nearest even; for binary16 the
 * value is rounded to binary32 first and then to binary16 (the contract's `f16` applies to
 * binary32 values, so a double that is not a binary32 value can round differently than a direct
 * double → binary16 rounding would). Integers must already be integers inside the dtype's range.
 */
export function fromNumbers<D extends DType>(dtype: D, shape: readonly number[], values: ArrayLike<number>, name = "values"): Tensor<D> {
  const t = zeros(dtype, shape);
  if (values.length !== t.data.length) {
    throw new ShapeError(`'${name}': ${values.length} values do not fill shape [${shape.join(", ")}]`);
  }
  if (dtype === "f16") {
    const d = t.data as Uint16Array;
    for (let i = 0; i < d.length; i++) d[i] = toF16Bits(Math.fround(values[i]!));
  } else if (dtype === "i8" || dtype === "u8" || dtype === "i32") {
    const [lo, hi] = INT_RANGE[dtype as "i8" | "u8" | "i32"];
    const d = t.data as Int8Array | Uint8Array | Int32Array;
    for (let i = 0; i < d.length; i++) {
      const v = values[i]!;
      if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeViolationError(name, i, `${v} is not an integer in [${lo}, ${hi}] (${dtype})`);
      d[i] = v;
    }
  } else {
    (t.data as Float32Array | Float64Array).set(Array.from(values));
  }
  return t;
}

/** Element values as plain numbers (binary16 bits decoded). */
export function toNumbers(t: Tensor): Float64Array {
  const out = new Float64Array(t.data.length);
  if (t.dtype === "f16") {
    const d = t.data as Uint16Array;
    for (let i = 0; i < d.length; i++) out[i] = fromF16Bits(d[i]!);
  } else {
    for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]);
  }
  return out;
}

/** Throw {@link NonFiniteError} if any element of a float tensor is NaN or ±∞. */
export function assertFinite(name: string, t: Tensor): void {
  if (t.dtype === "f16") {
    const d = t.data as Uint16Array;
    for (let i = 0; i < d.length; i++) if ((d[i]! & 0x7c00) === 0x7c00) throw new NonFiniteError(name, i, fromF16Bits(d[i]!));
  } else if (t.dtype === "f32" || t.dtype === "f64") {
    const d = t.data as Float32Array | Float64Array;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) throw new NonFiniteError(name, i, d[i]!);
  }
}

/** Raw little-endian bytes of a tensor's data (a view, not a copy). */
export function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** True when two tensors have the same dtype, shape and bytes. */
export function bytesEqual(a: Tensor, b: Tensor): boolean {
  if (a.dtype !== b.dtype || a.shape.length !== b.shape.length) return false;
  if (a.shape.some((d, i) => d !== b.shape[i])) return false;
  const x = tensorBytes(a);
  const y = tensorBytes(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Human-readable description like `f16[4×128]`. */
export function describe(t: Tensor): string {
  return `${t.dtype}[${t.shape.join("×")}]`;
}
