/**
 * `quant_weight_int8` — per-channel symmetric INT8 weight quantization, the W8A8 baseline
 * (DESIGN.md §3.5 style, QoQ-ref v1).
 *
 * Per output channel (row) of binary32 weights w:
 * `amax = max|w|`, `s = f16(f32(amax / 127))`, `q = clamp(rne(f32(w / s)), −127, 127)`;
 * dequantized `ŵ = s·q`. Unlike activations, codes divide by the stored binary16 scale (weights
 * are quantized once, offline, so the rounding that matters is the one the GEMM will multiply by).
 * `s = 0` (an all-zero row, or `f32(amax / 127) ≤ 2^−25`) gives all codes 0. An `s` that rounds to
 * binary16 infinity (`f32(amax / 127) ≥ 65520`) is an {@link OverflowError}.
 * @module
 */
import { assertFinite, f16, OverflowError, rne, toF16Bits, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

/** Reference of `quant_weight_int8`: w f32[N×K] → q i8[N×K] and scale (f16 bits) per row. */
export const quantWeightInt8: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const w = inputs.w!;
  assertFinite("w", w);
  const wd = w.data as Float32Array;
  const n = dims.N!;
  const k = dims.K!;
  const q = zeros("i8", [n, k]);
  const scale = zeros("f16", [n]);
  for (let row = 0; row < n; row++) {
    const off = row * k;
    let amax = 0;
    for (let i = 0; i < k; i++) amax = Math.max(amax, Math.abs(wd[off + i]!));
    const s = f16(Math.fround(amax / 127));
    if (s === Infinity) {
      throw new OverflowError(`quant_weight_int8: row ${row} of 'w' has max|w| = ${amax}; its scale max|w|/127 overflows binary16 (largest finite 65504)`);
    }
    scale.data[row] = toF16Bits(s);
    if (s === 0) continue; // codes stay 0: no division by a zero scale
    for (let i = 0; i < k; i++) {
      // A subnormal binary16 scale can be far below amax/127; the clamp keeps codes symmetric in [−127, 127].
      q.data[off + i] = Math.min(127, Math.max(-127, rne(Math.fround(wd[off + i]! / s))));
    }
  }
  return { q, scale };
};
