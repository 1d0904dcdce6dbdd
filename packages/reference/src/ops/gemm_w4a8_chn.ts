/**
 * `gemm_w4a8_chn` — W4A8 GEMM with per-channel UINT4 weights (DESIGN.md §3.5, QoQ-ref v1).
 *
 * `acc[m,n] = Σ_k xq[m,k] · q[n,k] − zero[n] · xqsum[m]` (exact int32; equal to
 * `Σ_k xq · (q − zero)`), and the epilogue `y[m,n] = f16(f32(f32(acc) · f32(scale[n] · xscale[m])))`.
 * QServe's approximation of the zero term through the fp16 sum of unquantized activations is
 * not used. `xqsum[m]` must equal `Σ_k xq[m,k]` (a mismatch would silently give wrong outputs),
 * codes and zero points must be ≤ 15, scales finite. The accumulator bound: a GPU accumulates
 * `Σ xq · q` and `zero · xqsum` separately, each at most `K · 128 · 15` in magnitude, so both fit
 * int32 for `K ≤` {@link MAX_K_GEMM_W4A8_CHN}; a larger K is an {@link OverflowError}.
 * @module
 */
import { assertFinite, RangeViolationError, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { f16Values } from "./quant_act_int8.js";
import { assertAccumulatorK, checkUint4, gemmEpilogue, INT32_MAX } from "./weight_common.js";

/**
 * Largest K for which both int32 accumulators of `gemm_w4a8_chn` provably cannot overflow:
 * `⌊(2^31 − 1) / (128 · 15)⌋ = 1118481`, since `|xq| ≤ 128`, `q ≤ 15` and `zero ≤ 15`.
 */
export const MAX_K_GEMM_W4A8_CHN = Math.floor(INT32_MAX / (128 * 15));

/** Reference of `gemm_w4a8_chn`: xq i8[M×K], xscale f16[M], xqsum i32[M], q u8[N×K], zero u8[N], scale f16[N] → y f16[M×N] (bits). */
export const gemmW4a8Chn: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const m = dims.M!;
  const n = dims.N!;
  const k = dims.K!;
  assertAccumulatorK("gemm_w4a8_chn", k, MAX_K_GEMM_W4A8_CHN, "128·15");
  const xq = inputs.xq!.data as Int8Array;
  const xqsum = inputs.xqsum!.data as Int32Array;
  const q = inputs.q!.data as Uint8Array;
  const zero = inputs.zero!.data as Uint8Array;
  checkUint4("q", q);
  checkUint4("zero", zero);
  assertFinite("xscale", inputs.xscale!);
  assertFinite("scale", inputs.scale!);
  for (let row = 0; row < m; row++) {
    let s = 0;
    for (let i = 0; i < k; i++) s += xq[row * k + i]!;
    if (s !== xqsum[row]) throw new RangeViolationError("xqsum", row, `${xqsum[row]} is not the sum of row ${row} of 'xq' (${s})`);
  }
  const sx = f16Values(inputs.xscale!);
  const sw = f16Values(inputs.scale!);
  const y = zeros("f16", [m, n]);
  for (let row = 0; row < m; row++) {
    for (let col = 0; col < n; col++) {
      let dot = 0; // exact: |dot| ≤ K·128·15 ≤ 2^31 − 1
      for (let i = 0; i < k; i++) dot += xq[row * k + i]! * q[col * k + i]!;
      // The zero correction uses the exact integer code sum, so acc = Σ xq·(q − zero) exactly.
      const acc = dot - zero[col]! * xqsum[row]!;
      y.data[row * n + col] = gemmEpilogue(acc, sw[col]!, sx[row]!);
    }
  }
  return { y };
};
