/**
 * `gemm_w4a8_g128` — W4A8 GEMM with progressive-group weights (DESIGN.md §3.5, QoQ-ref v1).
 *
 * `w8[n,k] = (q[n,k] − zero[n, k/g]) · s2[n, k/g]` (exact INT8, g = K / G),
 * `acc[m,n] = Σ_k xq[m,k] · w8[n,k]` (exact int32), and the epilogue
 * `y[m,n] = f16(f32(f32(acc) · f32(s1[n] · xscale[m])))`.
 * Weights are validated as in `dequant_weight_g128`; scales must be finite. The accumulator bound:
 * `|xq · w8| ≤ 128 · 128`, so every partial sum fits int32 for `K ≤` {@link MAX_K_GEMM_W4A8_G128};
 * a larger K is an {@link OverflowError}.
 * @module
 */
import { assertFinite, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { f16Values } from "./quant_act_int8.js";
import { assertAccumulatorK, expandW8, gemmEpilogue, INT32_MAX } from "./weight_common.js";

/**
 * Largest K for which the int32 accumulator of `gemm_w4a8_g128` provably cannot overflow:
 * `⌊(2^31 − 1) / (128 · 128)⌋ = 131071`, since `|xq| ≤ 128` and `|w8| ≤ 128`.
 */
export const MAX_K_GEMM_W4A8_G128 = Math.floor(INT32_MAX / (128 * 128));

/** Reference of `gemm_w4a8_g128`: xq i8[M×K], xscale f16[M], q/zero/s2 u8, s1 f16[N] → y f16[M×N] (bits). */
export const gemmW4a8G128: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const m = dims.M!;
  const n = dims.N!;
  const k = dims.K!;
  assertAccumulatorK("gemm_w4a8_g128", k, MAX_K_GEMM_W4A8_G128, "128·128");
  assertFinite("xscale", inputs.xscale!);
  assertFinite("s1", inputs.s1!);
  const w8 = expandW8("gemm_w4a8_g128", inputs.q!.data as Uint8Array, inputs.zero!.data as Uint8Array, inputs.s2!.data as Uint8Array, n, k, dims.G!);
  const xq = inputs.xq!.data as Int8Array;
  const sx = f16Values(inputs.xscale!);
  const s1 = f16Values(inputs.s1!);
  const y = zeros("f16", [m, n]);
  for (let row = 0; row < m; row++) {
    for (let col = 0; col < n; col++) {
      let acc = 0; // exact: |acc| ≤ K·128·128 ≤ 2^31 − 1, far inside a double's 2^53
      for (let i = 0; i < k; i++) acc += xq[row * k + i]! * w8[col * k + i]!;
      y.data[row * n + col] = gemmEpilogue(acc, s1[col]!, sx[row]!);
    }
  }
  return { y };
};
