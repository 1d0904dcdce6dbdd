/**
 * `residual_add` — residual add in binary16: `y = f16(f32(a + b))`.
 *
 * Binary32 has 24 ≥ 2·11 + 2 significand bits, so rounding the sum first to binary32 and then
 * to binary16 gives the correctly rounded binary16 sum (no double-rounding error); this is what
 * PyTorch's fp16 add computes. A sum beyond the binary16 range becomes ±∞ — IEEE overflow,
 * deliberately not an error: the op mirrors the fp16 hardware add, and the next op that needs
 * finite input (RMSNorm) rejects it with a typed error naming its tensor.
 * @module
 */
import { assertFinite, fromF16Bits, toF16Bits, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

/** Reference `residual_add`: inputs `a`, `b`; output `y`. */
export const residualAdd: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const a = inputs.a!;
  const b = inputs.b!;
  assertFinite("a", a);
  assertFinite("b", b);
  const ab = a.data as Uint16Array;
  const bb = b.data as Uint16Array;
  const y = zeros("f16", [dims.M!, dims.K!]);
  for (let i = 0; i < ab.length; i++) {
    // toF16Bits is the f16() rounding (nearest even; ≥ 65520 in magnitude becomes ±∞).
    y.data[i] = toF16Bits(Math.fround(fromF16Bits(ab[i]!) + fromF16Bits(bb[i]!)));
  }
  return { y };
};
