/**
 * `quant_weight_chn` — per-channel asymmetric UINT4 weight quantization, no level 2
 * (DESIGN.md §3.5, QoQ-ref v1, pre-scale integer zero point).
 *
 * Per output channel (row) of binary32 weights w, with clipping ratio r ∈ (0, 1] (default 1):
 * `vmax = f32(max(max w, 0) · r)`, `vmin = f32(min(min w, 0) · r)`,
 * `s = f16(f32(f32(vmax − vmin) / 15))`, `z = clamp(rne(f32(−vmin / s)), 0, 15)`,
 * `q = clamp(rne(f32(w / s)) + z, 0, 15)`; dequantized `ŵ = s·(q − z)`.
 * `s = 0` (an all-zero row, or `f32(f32(vmax − vmin) / 15) ≤ 2^−25`) gives z = 0 and all codes 0. An `s` that
 * rounds to binary16 infinity is an {@link OverflowError}; a ratio outside (0, 1] is a
 * {@link RangeViolationError}.
 * @module
 */
import {
  assertFinite,
  f16,
  NonFiniteError,
  OverflowError,
  ParamError,
  RangeViolationError,
  rne,
  toF16Bits,
  zeros,
  type NamedTensors,
} from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

/**
 * Quantize one row of `k` binary32 weights `w[offset … offset+k)` with clipping ratio `ratio`
 * (in (0, 1]; 1 = no clipping; used as given — pass a binary32 value to match the op, whose
 * `ratio` tensor is f32) into UINT4 codes `q[offset … offset+k)`. Returns the scale (a
 * binary16 value, as a number) and the integer zero point. Throws {@link NonFiniteError} for a
 * NaN/∞ weight (naming tensor 'w' and the flat index), {@link ParamError} for a bad ratio and
 * {@link OverflowError} when the scale overflows binary16.
 */
export function quantizeWeightRowChn(w: ArrayLike<number>, offset: number, k: number, ratio: number, q: Uint8Array): { scale: number; zero: number } {
  if (!(ratio > 0 && ratio <= 1)) throw new ParamError(`quant_weight_chn: clipping ratio ${ratio} is not in (0, 1]`);
  let vmax = 0;
  let vmin = 0;
  for (let i = 0; i < k; i++) {
    const v = w[offset + i]!;
    if (!Number.isFinite(v)) throw new NonFiniteError("w", offset + i, v);
    vmax = Math.max(vmax, v);
    vmin = Math.min(vmin, v);
  }
  // The range is widened to include 0 before clipping, so the zero point z always lies in 0..15.
  vmax = Math.fround(vmax * ratio);
  vmin = Math.fround(vmin * ratio);
  // vmax − vmin can overflow binary32 to +∞ for huge weights; that becomes the OverflowError below.
  const scale = f16(Math.fround(Math.fround(vmax - vmin) / 15));
  if (scale === Infinity) {
    const row = k > 0 ? ` (row ${Math.floor(offset / k)} of a row-major matrix with K = ${k})` : "";
    throw new OverflowError(
      `quant_weight_chn: the row at w[${offset} … ${offset + k})${row} has range [${vmin}, ${vmax}]; its scale (vmax − vmin)/15 overflows binary16 (largest finite 65504)`,
    );
  }
  if (scale === 0) {
    q.fill(0, offset, offset + k);
    return { scale: 0, zero: 0 };
  }
  // −vmin/s can exceed 15.5 only when s is a subnormal binary16 rounded down; clamp keeps z a UINT4.
  const zero = Math.min(15, Math.max(0, rne(Math.fround(-vmin / scale))));
  for (let i = 0; i < k; i++) q[offset + i] = chnCode(w[offset + i]!, scale, zero);
  return { scale, zero };
}

/** The code of one weight under a nonzero per-channel `scale` and `zero`: `q = clamp(rne(f32(w / s)) + z, 0, 15)`. */
export function chnCode(w: number, scale: number, zero: number): number {
  // Codes of clipped weights (and a quotient that overflows binary32 to ±∞) saturate at 0 or 15.
  return Math.min(15, Math.max(0, rne(Math.fround(w / scale)) + zero));
}

/** Reference of `quant_weight_chn`: w f32[N×K] and optional ratio f32[N] → q, zero (u8) and scale (f16 bits). */
export const quantWeightChn: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const w = inputs.w!;
  assertFinite("w", w);
  const n = dims.N!;
  const k = dims.K!;
  const ratio = inputs.ratio;
  if (ratio !== undefined) {
    const rd = ratio.data as Float32Array;
    for (let i = 0; i < rd.length; i++) {
      // NaN fails both comparisons, so it is rejected here too.
      if (!(rd[i]! > 0 && rd[i]! <= 1)) throw new RangeViolationError("ratio", i, `clipping ratio ${rd[i]} is not a finite value in (0, 1]`);
    }
  }
  const q = zeros("u8", [n, k]);
  const zero = zeros("u8", [n]);
  const scale = zeros("f16", [n]);
  for (let row = 0; row < n; row++) {
    const r = quantizeWeightRowChn(w.data as Float32Array, row * k, k, ratio === undefined ? 1 : (ratio.data as Float32Array)[row]!, q.data);
    zero.data[row] = r.zero;
    scale.data[row] = toF16Bits(r.scale);
  }
  return { q, zero, scale };
};
