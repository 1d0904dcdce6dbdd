/**
 * `clip_search` — weight range clipping for per-channel UINT4 weights (qoq-spec §5.4): per
 * output row, the shrink ratio of the quantization range that minimizes the row's output error
 * on calibration inputs.
 *
 * Candidates, in order: `r_0 = 1`, then `r_i = f32(1 − i·max_shrink/grid)` for i = 1 … grid
 * (`i·max_shrink`, then `/grid`, then `1 −`, in float64, rounded once to binary32).
 * For each candidate the row is quantized with the per-channel UINT4 formula of
 * `quant_weight_chn` at that ratio ({@link quantizeWeightRowChn}, which scales the row's range
 * by the ratio), dequantized exactly as `ŵ_k = scale·(q_k − zero)`, and scored by
 * `err = (1/T)·Σ_t (Σ_k x[t,k]·(w_k − ŵ_k))²`
 * in float64: `d_k = w_k − ŵ_k`, inner sums over k in natural order, outer sum over t in natural
 * order, then one division by T. The smallest err wins; a tie keeps the earlier candidate
 * (the larger ratio, i.e. less clipping). Outputs: the chosen ratio (binary32) and its err.
 *
 * This is DeepCompressor's `OutputsError` objective (degree 2) for a layer's own output; the
 * attention-level objective it uses for q_proj/k_proj is out of scope. `w` and `x` must be finite;
 * T ≥ 1 (an empty calibration set has no mean error).
 * @module
 */
import { assertFinite, OverflowError, ShapeError, tensor, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { quantizeWeightRowChn } from "./quant_weight_chn.js";

/** The candidate ratios: 1, then `f32(1 − i·maxShrink/grid)` for i = 1 … grid. */
export function clipRatios(grid: number, maxShrink: number): Float64Array {
  const r = new Float64Array(grid + 1);
  r[0] = 1;
  for (let i = 1; i <= grid; i++) r[i] = Math.fround(1 - (i * maxShrink) / grid);
  return r;
}

/**
 * The output error `(1/t)·Σ_t (Σ_k x[t,k]·d_k)²` of a row residual `d` (length k) on the
 * row-major `t`×`k` inputs `x`, in float64, both sums in natural order.
 */
export function outputError(x: ArrayLike<number>, t: number, k: number, d: ArrayLike<number>): number {
  let total = 0;
  for (let tok = 0; tok < t; tok++) {
    let dot = 0;
    for (let i = 0; i < k; i++) dot += x[tok * k + i]! * d[i]!;
    total += dot * dot;
  }
  return total / t;
}

/** Reference of `clip_search`: w f32[N×K] and calibration inputs x f32[T×K] → chosen ratio f32[N] and its output error f64[N]. */
export const clipSearch: ReferenceImpl = (inputs, params, dims): NamedTensors => {
  const w = inputs.w!;
  const x = inputs.x!;
  const n = dims.N!;
  const k = dims.K!;
  const t = dims.T!;
  if (t < 1) throw new ShapeError(`clip_search: 'x' has T = 0 calibration tokens; at least one is needed`);
  assertFinite("w", w);
  assertFinite("x", x);
  const wv = w.data as Float32Array;
  const xv = x.data as Float32Array;
  const ratios = clipRatios(params.grid as number, params.max_shrink as number);
  const ratioOut = new Float32Array(n);
  const errOut = new Float64Array(n);
  // Codes of row `row` land at the row's own offset, as quantizeWeightRowChn writes them.
  const q = new Uint8Array(n * k);
  const d = new Float64Array(k);
  for (let row = 0; row < n; row++) {
    const off = row * k;
    let bestErr = Infinity;
    let bestRatio = 1;
    for (let c = 0; c < ratios.length; c++) {
      const ratio = ratios[c]!;
      const { scale, zero } = quantizeWeightRowChn(wv, off, k, ratio, q);
      // scale is binary16 and q − zero a small integer, so ŵ is exact in float64.
      for (let i = 0; i < k; i++) d[i] = wv[off + i]! - scale * (q[off + i]! - zero);
      const err = outputError(xv, t, k, d);
      if (!Number.isFinite(err)) {
        throw new OverflowError(`clip_search: row ${row}, ratio ${ratio}: the output error overflows float64 (inputs too large)`);
      }
      // Strict: a tie keeps the earlier, larger ratio.
      if (err < bestErr) {
        bestErr = err;
        bestRatio = ratio;
      }
    }
    ratioOut[row] = bestRatio;
    errOut[row] = bestErr;
  }
  return { ratio: tensor("f32", [n], ratioOut), err: tensor("f64", [n], errOut) };
};
