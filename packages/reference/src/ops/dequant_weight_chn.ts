/**
 * `dequant_weight_chn` — reconstruct per-channel UINT4 weights (DESIGN.md §3.5, QoQ-ref v1).
 *
 * `w[n,k] = f32(scale[n] · (q[n,k] − zero[n]))`, which is exact: an 11-bit binary16 significand
 * times an integer in [−15, 15] fits binary32's 24 bits. Codes and zero points must be ≤ 15 and
 * scales finite.
 * @module
 */
import { assertFinite, fromF16Bits, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { checkUint4 } from "./weight_common.js";

/** Reference of `dequant_weight_chn`: q, zero (u8) and scale (f16 bits) → w f32[N×K]. */
export const dequantWeightChn: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const q = inputs.q!.data as Uint8Array;
  const zero = inputs.zero!.data as Uint8Array;
  const scale = inputs.scale!;
  checkUint4("q", q);
  checkUint4("zero", zero);
  assertFinite("scale", scale);
  const n = dims.N!;
  const k = dims.K!;
  const w = zeros("f32", [n, k]);
  for (let row = 0; row < n; row++) {
    const s = fromF16Bits((scale.data as Uint16Array)[row]!);
    const z = zero[row]!;
    for (let i = row * k; i < (row + 1) * k; i++) w.data[i] = Math.fround(s * (q[i]! - z)); // exact; fround documents the binary32 store
  }
  return { w };
};
