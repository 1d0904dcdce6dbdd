/**
 * `quant_act_int8` — per-token symmetric INT8 activation quantization (DESIGN.md §3.5).
 *
 * For each row x (binary16 values):
 * `amax = max|x|`, `scale = f16(f32(amax / 127))`, `r = f32(127 / amax)`,
 * `q = clamp(rne(f32(x · r)), −127, 127)`, `qsum = Σ q` (exact int32).
 * `amax = 0` gives scale 0 and all codes 0 (no division by zero).
 * @module
 */
import { assertFinite, f16, rne, toF16Bits, toNumbers, zeros, type NamedTensors, type Tensor } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

/** Quantized rows: codes, binary16 scale bits, and code sums. */
export interface QuantizedActivations {
  /** INT8 codes, row-major M×K. */
  q: Tensor<"i8">;
  /** Per-row scale, binary16 bits. */
  scale: Tensor<"f16">;
  /** Per-row sum of codes. */
  qsum: Tensor<"i32">;
}

/**
 * Quantize one row of `k` binary16 values (given as numbers, `x[offset … offset+k)`) into `q`
 * at the same offset; returns the scale (a binary16 value) and the code sum.
 */
export function quantizeActRow(x: ArrayLike<number>, offset: number, k: number, q: Int8Array): { scale: number; qsum: number } {
  let amax = 0;
  for (let i = 0; i < k; i++) amax = Math.max(amax, Math.abs(x[offset + i]!));
  if (amax === 0) {
    q.fill(0, offset, offset + k);
    return { scale: 0, qsum: 0 };
  }
  const scale = f16(Math.fround(amax / 127));
  // Codes use the binary32 reciprocal of the exact amax, not the rounded scale (as QServe's kernel does).
  const r = Math.fround(127 / amax);
  let qsum = 0;
  for (let i = 0; i < k; i++) {
    // |x·r| can exceed 127 by a rounding hair; the clamp keeps codes symmetric.
    const c = Math.min(127, Math.max(-127, rne(Math.fround(x[offset + i]! * r))));
    q[offset + i] = c;
    qsum += c;
  }
  return { scale, qsum };
}

/** Quantize an M×K matrix of binary16 values (as numbers) row by row. */
export function quantizeActivations(values: ArrayLike<number>, m: number, k: number): QuantizedActivations {
  const q = zeros("i8", [m, k]);
  const scale = zeros("f16", [m]);
  const qsum = zeros("i32", [m]);
  for (let row = 0; row < m; row++) {
    const r = quantizeActRow(values, row * k, k, q.data);
    scale.data[row] = toF16Bits(r.scale);
    qsum.data[row] = r.qsum;
  }
  return { q, scale, qsum };
}

/** Decode binary16 bits to numbers. */
export function f16Values(t: Tensor): Float64Array {
  return toNumbers(t);
}

export const quantActInt8: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const x = inputs.x!;
  assertFinite("x", x);
  const { q, scale, qsum } = quantizeActivations(f16Values(x), dims.M!, dims.K!);
  return { q, scale, qsum };
};
