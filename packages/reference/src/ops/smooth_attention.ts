/**
 * `smooth_attention` — SmoothAttention (qoq-spec §4): move the outlier channels of the keys into
 * the queries, offline, by folding a per-channel factor λ into `W_q` and `W_k` (float64).
 *
 * With `D = head_dim = NK / kv_heads`, key channel `(g, j)` (KV head g, dim j, row `g·D + j`):
 * - `kbase = max(kmax[g·D + j], kmax[g·D + p(j)])`, where `p(j)` is j's RoPE partner:
 *   `rotate_half` pairs `(i, i + D/2)`, `interleaved` pairs `(2i, 2i + 1)`;
 * - if β ≠ 0: `qbase = max over the query heads h of group g and over {j, p(j)} of qmax[h·D + ·]`
 *   (group g = query heads `g·G … g·G + G − 1`, `G = heads / kv_heads`);
 * - `λ = kbase^α / qbase^β` in float64; a λ that is 0, NaN or ±∞ becomes 1.
 *
 * Then query row `(h, j)` is multiplied by `λ[g(h)·D + j]` with `g(h) = ⌊h / G⌋`, and key row
 * `(g, j)` is divided by `λ[g·D + j]`. Because λ is equal on both members of every RoPE pair, it
 * commutes with the rotation: `RoPE(Λq)·RoPE(Λ⁻¹k) = RoPE(q)·RoPE(k)`, so every attention
 * logit is unchanged (up to float64 rounding) while the keys' outlier channels shrink
 * (a channel at its pair's maximum goes from `kmax` to `kmax^(1−α)` when β = 0).
 *
 * `kmax` / `qmax` are the post-RoPE per-channel maxima of |K| / |Q| over calibration tokens;
 * they must be finite and ≥ 0. Binary32 weights come back rounded once from float64.
 * @module
 */
import { ParamError, ShapeError, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import type { RopeStyle } from "./rope.js";
import { floatValues, maximaValues, smoothingFactor, weightTensor, type WeightDType } from "./transform_common.js";

/**
 * The channel that RoPE rotates together with channel `j` of a head of even size `d`:
 * `j ± d/2` for `rotate_half`, `j xor 1` for `interleaved`.
 */
export function ropePartner(j: number, d: number, style: RopeStyle): number {
  if (style === "interleaved") return j ^ 1;
  const half = d / 2;
  return j < half ? j + half : j - half;
}

/**
 * The SmoothAttention factor of every key channel (`kv_heads·d` values, row order of `W_k`).
 * `qmax` may be omitted only when `beta` is 0 (then `qbase^0 = 1` and Q is not consulted).
 */
export function smoothAttentionLambda(
  kmax: ArrayLike<number>,
  qmax: ArrayLike<number> | undefined,
  heads: number,
  kvHeads: number,
  d: number,
  alpha: number,
  beta: number,
  style: RopeStyle,
): Float64Array {
  const group = heads / kvHeads;
  const lambda = new Float64Array(kvHeads * d);
  for (let g = 0; g < kvHeads; g++) {
    for (let j = 0; j < d; j++) {
      const p = ropePartner(j, d, style);
      const kbase = Math.max(kmax[g * d + j]!, kmax[g * d + p]!);
      // Not consulted when β = 0: any base to the power 0 is 1.
      let qbase = 1;
      if (beta !== 0) {
        qbase = 0;
        for (let h = g * group; h < (g + 1) * group; h++) {
          qbase = Math.max(qbase, qmax![h * d + j]!, qmax![h * d + p]!);
        }
      }
      lambda[g * d + j] = smoothingFactor(kbase, alpha, qbase, beta);
    }
  }
  return lambda;
}

/**
 * The head size `D = NK / kv_heads` of `smooth_attention`, after the checks every backend makes
 * first, in this order: `kv_heads` divides `heads` ({@link ParamError}), `NK` is a multiple of
 * `kv_heads`, `D` is even and `NQ = heads·D` ({@link ShapeError}), and `qmax` is given when β ≠ 0.
 */
export function smoothAttentionHeadDim(heads: number, kvHeads: number, nq: number, nk: number, beta: number, hasQmax: boolean): number {
  if (heads % kvHeads !== 0) {
    throw new ParamError(`smooth_attention: kv_heads = ${kvHeads} does not divide heads = ${heads} (each KV head serves a whole group of query heads)`);
  }
  if (nk % kvHeads !== 0) {
    throw new ShapeError(`smooth_attention: 'wk' has NK = ${nk} rows, not a multiple of kv_heads = ${kvHeads}`);
  }
  const d = nk / kvHeads;
  if (d % 2 !== 0) {
    throw new ShapeError(`smooth_attention: head_dim = NK / kv_heads = ${nk} / ${kvHeads} = ${d} is odd; RoPE pairs channels, so it must be even`);
  }
  if (nq !== heads * d) {
    throw new ShapeError(`smooth_attention: 'wq' has NQ = ${nq} rows, expected heads · head_dim = ${heads} · ${d} = ${heads * d}`);
  }
  if (beta !== 0 && !hasQmax) {
    throw new ParamError(`smooth_attention: beta = ${beta} ≠ 0 needs the input 'qmax' (per-channel max |Q|)`);
  }
  return d;
}

/** Reference of `smooth_attention`: wq, wk (f32|f64), kmax and optional qmax (f32) → smoothed wq, wk (same dtype) and λ (f64). */
export const smoothAttention: ReferenceImpl = (inputs, params, dims): NamedTensors => {
  const heads = params.heads as number;
  const kvHeads = params.kv_heads as number;
  const alpha = params.alpha as number;
  const beta = params.beta as number;
  const style = params.style as RopeStyle;
  const nq = dims.NQ!;
  const nk = dims.NK!;
  const c = dims.C!;
  const d = smoothAttentionHeadDim(heads, kvHeads, nq, nk, beta, inputs.qmax !== undefined);
  const wq = floatValues("wq", inputs.wq!);
  const wk = floatValues("wk", inputs.wk!);
  const kmax = maximaValues("kmax", inputs.kmax!);
  // Validated even when β = 0 and unused: a bad input is reported, never silently ignored.
  const qmax = inputs.qmax === undefined ? undefined : maximaValues("qmax", inputs.qmax);
  const lambda = smoothAttentionLambda(kmax, qmax, heads, kvHeads, d, alpha, beta, style);
  const group = heads / kvHeads;
  for (let h = 0; h < heads; h++) {
    const g = Math.floor(h / group);
    for (let j = 0; j < d; j++) {
      const l = lambda[g * d + j]!;
      const row = (h * d + j) * c;
      for (let i = 0; i < c; i++) wq[row + i]! *= l;
    }
  }
  for (let r = 0; r < nk; r++) {
    const l = lambda[r]!;
    // Divide rather than multiply by a rounded 1/λ: one rounding per element.
    for (let i = 0; i < c; i++) wk[r * c + i]! /= l;
  }
  const dtype = inputs.wq!.dtype as WeightDType;
  return {
    wq: weightTensor("wq", dtype, [nq, c], wq),
    wk: weightTensor("wk", dtype, [nk, c], wk),
    lambda: weightTensor("lambda", "f64", [nk], lambda),
  };
};
