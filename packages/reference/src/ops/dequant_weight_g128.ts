/**
 * `dequant_weight_g128` — reconstruct progressive-group weights (DESIGN.md §3.5, QoQ-ref v1).
 *
 * With group size `g = K / G` (inferred from the shapes; G must divide K):
 * `w8[n,k] = (q[n,k] − zero[n, k/g]) · s2[n, k/g]` (exact integer) and `w[n,k] = f32(s1[n] · w8[n,k])`,
 * which is exact: an 11-bit binary16 significand times an 8-bit integer fits binary32's 24 bits.
 * Inputs are validated: codes and zero points ≤ 15, `s2` in 1..16, `w8` in [−128, 127] (the
 * protective range; a checkpoint that breaks it would wrap in the GPU's byte lanes), `s1` finite.
 * @module
 */
import { assertFinite, fromF16Bits, tensor, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { expandW8 } from "./weight_common.js";

/** Reference of `dequant_weight_g128`: q, zero, s2 (u8) and s1 (f16 bits) → w8 i8[N×K] and w f32[N×K]. */
export const dequantWeightG128: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const s1 = inputs.s1!;
  assertFinite("s1", s1);
  const n = dims.N!;
  const k = dims.K!;
  const w8 = tensor("i8", [n, k], expandW8("dequant_weight_g128", inputs.q!.data as Uint8Array, inputs.zero!.data as Uint8Array, inputs.s2!.data as Uint8Array, n, k, dims.G!));
  const w = zeros("f32", [n, k]);
  for (let row = 0; row < n; row++) {
    const s = fromF16Bits((s1.data as Uint16Array)[row]!);
    for (let i = row * k; i < (row + 1) * k; i++) w.data[i] = Math.fround(s * w8.data[i]!); // exact; fround documents the binary32 store
  }
  return { w8, w };
};
