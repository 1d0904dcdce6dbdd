/**
 * `rmsnorm_quant` — RMSNorm with γ, binary16 output, and per-token INT8 quantization of that
 * output (the fused `input_layernorm` / `post_attention_layernorm` of QServe's decoder layer).
 *
 * For each row x of K binary16 values:
 * `ss = Σ_R32 f32(x_k · x_k)` (the canonical R32 order of `sumR32`), `ms = f32(ss / K)`,
 * `den = f32(ms + f32(eps))`; `den = 0` (an all-zero row with eps 0) gives an all-zero row;
 * else `r = f32(1 / f32(√den))` and `y_k = f16(f32(f32(x_k · r) · γ_k))`.
 * Then `q`, `scale`, `qsum` are exactly `quant_act_int8` of the binary16 row y.
 *
 * Why quantize y and not the binary32 values: the fused op then equals the composition
 * `rmsnorm → quant_act_int8`, so a fused kernel and a two-kernel pipeline agree bit for bit and
 * the harness can compare stage by stage. QServe's fused kernel differs: it takes amax over the
 * fp16-rounded y but computes the codes from the binary32 normalized values (and, as shipped,
 * subtracts the mean — a LayerNorm, omniserve#32); neither quirk is reproduced here.
 *
 * A y beyond the binary16 range (possible only through a large γ, since |x_k·r| is at most about √K) is an
 * {@link OverflowError} naming 'y' and the flat index, since an infinite row has no INT8 scale.
 * @module
 */
import { assertFinite, f16, OverflowError, ParamError, sumR32, toF16Bits, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { f16Values, quantizeActivations } from "./quant_act_int8.js";

/**
 * RMSNorm of an M×K matrix of binary16 values (as numbers) with weight `gamma` (K binary16
 * values as numbers) and `eps`; returns the binary16 output values as numbers, row-major.
 * Throws {@link OverflowError} if an output leaves the binary16 range.
 */
export function rmsnormRows(x: ArrayLike<number>, gamma: ArrayLike<number>, m: number, k: number, eps: number): Float64Array {
  const eps32 = Math.fround(eps);
  if (!Number.isFinite(eps32) || eps32 < 0) throw new ParamError(`rmsnorm_quant: eps = ${eps} is not a finite non-negative binary32 value`);
  const y = new Float64Array(m * k);
  for (let row = 0; row < m; row++) {
    const o = row * k;
    // The sum of squares uses the canonical R32 order so that a 32-lane GPU reduction gives the same bits.
    const ss = sumR32(k, (i) => Math.fround(x[o + i]! * x[o + i]!));
    const ms = Math.fround(ss / k);
    const den = Math.fround(ms + eps32);
    if (den === 0) continue; // all-zero row with eps = 0: output zeros rather than 0 · ∞ = NaN
    // One correctly rounded sqrt and one division (no rsqrt approximation), so every backend can match.
    const r = Math.fround(1 / Math.fround(Math.sqrt(den)));
    for (let i = 0; i < k; i++) {
      const v = f16(Math.fround(Math.fround(x[o + i]! * r) * gamma[i]!));
      if (!Number.isFinite(v)) throw new OverflowError(`rmsnorm_quant: output 'y' at flat index ${o + i} overflows binary16 (${v}); γ is too large for this row`);
      y[o + i] = v;
    }
  }
  return y;
}

/** Reference `rmsnorm_quant`: inputs `x`, `gamma`, param `eps`; outputs `y`, `q`, `scale`, `qsum`. */
export const rmsnormQuant: ReferenceImpl = (inputs, params, dims): NamedTensors => {
  const x = inputs.x!;
  const gamma = inputs.gamma!;
  assertFinite("x", x);
  assertFinite("gamma", gamma);
  const m = dims.M!;
  const k = dims.K!;
  const yValues = rmsnormRows(f16Values(x), f16Values(gamma), m, k, params.eps as number);
  const y = zeros("f16", [m, k]);
  for (let i = 0; i < yValues.length; i++) y.data[i] = toF16Bits(yValues[i]!);
  const { q, scale, qsum } = quantizeActivations(yValues, m, k);
  return { y, q, scale, qsum };
};
