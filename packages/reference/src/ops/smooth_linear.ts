/**
 * `smooth_linear` — SmoothQuant-style smoothing of a linear layer's input channels, folded into
 * the layer that produces them, offline, in float64 (qoq-spec §5.2).
 *
 * For each input channel j of the consumer `W` (N×K):
 * `wmax_j = max_n |W[n, j]|`, `λ_j = xmax_j^α / wmax_j^β` (a λ that is 0, NaN or ±∞ becomes 1),
 * `W[:, j] ← W[:, j]·λ_j` and the producer's output row `prev[j, :] ← prev[j, :] / λ_j`.
 * Since the consumer sees `x_j / λ_j` and multiplies it by `W[:, j]·λ_j`, the composition
 * `W·prev` is unchanged (up to float64 rounding) while activation outliers move into the
 * weights (α) and weight outliers into the activations (β).
 *
 * `prev` must have exactly K rows: one producer row per consumer input channel, with nothing in
 * between that mixes channels (e.g. up_proj → down_proj through the elementwise SwiGLU product,
 * or v_proj → o_proj without GQA). Smoothing o_proj under GQA, where one v_proj row feeds
 * several o_proj channels, needs a shared λ per KV group and is not handled by this op.
 *
 * `xmax` must be finite and ≥ 0. Binary32 weights come back rounded once from float64.
 * @module
 */
import type { NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { floatValues, maximaValues, smoothingFactor, weightTensor, type WeightDType } from "./transform_common.js";

/**
 * The smoothing factor of each of the `k` input channels of the row-major `n`×`k` weight `w`,
 * from the activation maxima `xmax`: `λ_j = xmax_j^α / (max_n |w[n, j]|)^β`, invalid → 1.
 */
export function smoothLinearLambda(w: ArrayLike<number>, n: number, k: number, xmax: ArrayLike<number>, alpha: number, beta: number): Float64Array {
  const lambda = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let wmax = 0;
    for (let r = 0; r < n; r++) wmax = Math.max(wmax, Math.abs(w[r * k + j]!));
    lambda[j] = smoothingFactor(xmax[j]!, alpha, wmax, beta);
  }
  return lambda;
}

/** Reference of `smooth_linear`: w, prev (f32|f64) and xmax (f32) → w·diag(λ), diag(λ)⁻¹·prev (same dtype) and λ (f64). */
export const smoothLinear: ReferenceImpl = (inputs, params, dims): NamedTensors => {
  const n = dims.N!;
  const k = dims.K!;
  const c = dims.C!;
  const w = floatValues("w", inputs.w!);
  const prev = floatValues("prev", inputs.prev!);
  const xmax = maximaValues("xmax", inputs.xmax!);
  const lambda = smoothLinearLambda(w, n, k, xmax, params.alpha as number, params.beta as number);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < k; j++) w[r * k + j]! *= lambda[j]!;
  }
  for (let j = 0; j < k; j++) {
    const l = lambda[j]!;
    // Divide rather than multiply by a rounded 1/λ: one rounding per element.
    for (let i = 0; i < c; i++) prev[j * c + i]! /= l;
  }
  const dtype = inputs.w!.dtype as WeightDType;
  return {
    w: weightTensor("w", dtype, [n, k], w),
    prev: weightTensor("prev", dtype, [k, c], prev),
    lambda: weightTensor("lambda", "f64", [k], lambda),
  };
};
