/**
 * Shared helpers of the offline transform ops (`hadamard_rotate`, `smooth_attention`,
 * `smooth_linear`, `reorder_channels`, `clip_search`).
 *
 * These ops run once, offline, on weights. They compute in float64: a binary32 weight widens to
 * float64 exactly, every arithmetic step is one float64 operation, and a binary32 output is
 * rounded **once** (to nearest even) from the float64 result. They preserve the model's function
 * (up to float64 rounding), and every step is pinned, so another backend can match them bit for
 * bit (the WebGPU kernels do, in emulated binary64).
 *
 * Smoothing factors: `λ = a^α / b^β`, the powers by fdlibm's algorithm ({@link fdlibmPow}: the
 * engine's `Math.pow` is not pinned), and a λ that is 0, NaN or ±∞ becomes 1 (a channel that
 * cannot be balanced is left alone rather than blown up).
 * @module
 */
import { fdlibmPow } from "../fdlibm_pow.js";
import { assertFinite, OverflowError, RangeViolationError, tensor, type NonFiniteError, type Tensor } from "@qoq/core";

/** The float dtypes weights of the transform ops come in (and go out in). */
export type WeightDType = "f32" | "f64";

/**
 * The elements of a binary32 or binary64 tensor as a fresh float64 array (binary32 widens
 * exactly). Throws {@link NonFiniteError} naming `name` and the index of the first NaN or ±∞.
 */
export function floatValues(name: string, t: Tensor): Float64Array {
  assertFinite(name, t);
  // Float64Array.from of a Float32Array widens each value exactly.
  return Float64Array.from(t.data as Float32Array | Float64Array);
}

/**
 * Per-channel calibration maxima (`max|X|`, `max|K|`, …) as float64. They must be finite
 * ({@link NonFiniteError}) and non-negative ({@link RangeViolationError}): a negative maximum of
 * absolute values is not a maximum of absolute values.
 */
export function maximaValues(name: string, t: Tensor): Float64Array {
  const v = floatValues(name, t);
  for (let i = 0; i < v.length; i++) {
    // `-0 < 0` is false, so a signed zero is accepted as the zero it is.
    if (v[i]! < 0) throw new RangeViolationError(name, i, `${v[i]} is negative; a maximum of absolute values must be ≥ 0`);
  }
  return v;
}

/**
 * A weight tensor of `dtype` holding float64 `values`: binary32 rounds each value once (to
 * nearest even), binary64 keeps them. Throws {@link OverflowError} naming `name` and the index
 * if a value is (or rounds to) ±∞ — e.g. a huge smoothing factor times a large weight.
 */
export function weightTensor(name: string, dtype: WeightDType, shape: readonly number[], values: Float64Array): Tensor {
  // Storing into a Float32Array is IEEE round-to-nearest-even, one rounding per element.
  const data = dtype === "f32" ? Float32Array.from(values) : values;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new OverflowError(`output '${name}' at flat index ${i}: ${values[i]} overflows ${dtype === "f32" ? "binary32" : "binary64"}`);
    }
  }
  return tensor(dtype, shape, data);
}

/**
 * The smoothing factor `λ = a^α / b^β` (float64), with a λ that is 0, NaN or ±∞ replaced by 1
 * (as DeepCompressor's `get_smooth_scale` replaces zeros; here NaN/∞, e.g. `b = 0` with `β > 0`,
 * also fall back to 1 instead of failing).
 */
export function smoothingFactor(a: number, alpha: number, b: number, beta: number): number {
  const lambda = fdlibmPow(a, alpha) / fdlibmPow(b, beta);
  return lambda === 0 || !Number.isFinite(lambda) ? 1 : lambda;
}
