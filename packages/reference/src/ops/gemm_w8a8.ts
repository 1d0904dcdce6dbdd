/**
 * `gemm_w8a8` — W8A8 GEMM, the INT8 baseline (DESIGN.md §3.5 epilogue, QoQ-ref v1).
 *
 * `acc[m,n] = Σ_k xq[m,k] · q[n,k]` (exact int32) and
 * `y[m,n] = f16(f32(f32(acc) · f32(scale[n] · xscale[m])))`. Scales must be finite. Every INT8
 * code is accepted (−128 included). The accumulator bound: `|xq · q| ≤ 128 · 128`, so every partial
 * sum fits int32 for `K ≤` {@link MAX_K_GEMM_W8A8}; a larger K is an {@link OverflowError}.
 * @module
 */
import { assertFinite, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { f16Values } from "./quant_act_int8.js";
import { assertAccumulatorK, gemmEpilogue, INT32_MAX } from "./weight_common.js";

/**
 * Largest K for which the int32 accumulator of `gemm_w8a8` provably cannot overflow:
 * `⌊(2^31 − 1) / (128 · 128)⌋ = 131071`, since `|xq| ≤ 128` and `|q| ≤ 128`.
 */
export const MAX_K_GEMM_W8A8 = Math.floor(INT32_MAX / (128 * 128));

/** Reference of `gemm_w8a8`: xq i8[M×K], xscale f16[M], q i8[N×K], scale f16[N] → y f16[M×N] (bits). */
export const gemmW8a8: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const m = dims.M!;
  const n = dims.N!;
  const k = dims.K!;
  assertAccumulatorK("gemm_w8a8", k, MAX_K_GEMM_W8A8, "128·128");
  assertFinite("xscale", inputs.xscale!);
  assertFinite("scale", inputs.scale!);
  const xq = inputs.xq!.data as Int8Array;
  const q = inputs.q!.data as Int8Array;
  const sx = f16Values(inputs.xscale!);
  const sw = f16Values(inputs.scale!);
  const y = zeros("f16", [m, n]);
  for (let row = 0; row < m; row++) {
    for (let col = 0; col < n; col++) {
      let acc = 0; // exact: |acc| ≤ K·128·128 ≤ 2^31 − 1
      for (let i = 0; i < k; i++) acc += xq[row * k + i]! * q[col * k + i]!;
      y.data[row * n + col] = gemmEpilogue(acc, sw[col]!, sx[row]!);
    }
  }
  return { y };
};
