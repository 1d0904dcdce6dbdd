/**
 * `dequant_kv4` — KV4 dequantization (DESIGN.md §3.5): `v = f32(f32(q · scale) + min)` per element,
 * with the (token, head) row's binary16 `scale` and `min`. Output binary32.
 *
 * `q · scale` is exact in binary32 (a 4-bit integer times an 11-bit significand), so the only
 * rounding is the addition of `min`; a backend reproduces it with one correctly rounded add
 * (`__fadd_rn`), never a fused multiply-add.
 * @module
 */
import { assertFinite, fromF16Bits, RangeViolationError, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

/**
 * One dequantized KV4 value: `f32(f32(code · scale) + min)` for a UINT4 `code` and binary16
 * `scale` and `min` (given as numbers). The attention ops use exactly this.
 */
export function dequantKv4Value(code: number, scale: number, min: number): number {
  return Math.fround(Math.fround(code * scale) + min);
}

/** Largest UINT4 code. */
const CODE_MAX = 15;

/** Reference `dequant_kv4`: inputs `q`, `scale`, `min`; output `v` (binary32). */
export const dequantKv4: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const q = inputs.q!;
  const scale = inputs.scale!;
  const min = inputs.min!;
  assertFinite("scale", scale);
  assertFinite("min", min);
  const codes = q.data as Uint8Array;
  for (let i = 0; i < codes.length; i++) {
    if (codes[i]! > CODE_MAX) throw new RangeViolationError("q", i, `code ${codes[i]} is not a UINT4 code (0..15)`);
  }
  const rows = dims.T! * dims.H!;
  const d = dims.D!;
  const v = zeros("f32", [dims.T!, dims.H!, d]);
  const sBits = scale.data as Uint16Array;
  const mBits = min.data as Uint16Array;
  for (let r = 0; r < rows; r++) {
    const s = fromF16Bits(sBits[r]!);
    const m = fromF16Bits(mBits[r]!);
    for (let i = 0; i < d; i++) v.data[r * d + i] = dequantKv4Value(codes[r * d + i]!, s, m);
  }
  return { v };
};
