/**
 * `silu_mul_quant` — SwiGLU with per-token INT8 quantization of its binary16 output.
 *
 * For gate g and up u (binary16): `e = expCanon(f32(−g))`, `silu = f16(f32(g / f32(1 + e)))`,
 * `y = f16(f32(silu · u))`; then `q`, `scale`, `qsum` are exactly `quant_act_int8` of the row y.
 *
 * `silu` is rounded to binary16 before the product, as QServe's `silu_and_mul` kernel does
 * (silu in fp32, stored as fp16, multiplied in fp16). `silu · u` is exact in binary32 (two 11-bit
 * significands), so `y` is the correctly rounded binary16 product. The canonical `expCanon`
 * saturates (+∞ for −g > 88, +0 for −g < −86), which gives silu = −0 and silu = g there: no NaN.
 * A y beyond the binary16 range is an {@link OverflowError} naming 'y' and the flat index, since an
 * infinite row has no INT8 scale.
 * @module
 */
import { assertFinite, expCanon, f16, OverflowError, toF16Bits, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { f16Values, quantizeActivations } from "./quant_act_int8.js";

/** `f16(f32(g / f32(1 + expCanon(−g))))` for a binary16 `g`: SiLU rounded to binary16. */
export function siluF16(g: number): number {
  const e = expCanon(Math.fround(-g));
  return f16(Math.fround(g / Math.fround(1 + e)));
}

/** Reference `silu_mul_quant`: inputs `gate`, `up`; outputs `y`, `q`, `scale`, `qsum`. */
export const siluMulQuant: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const gate = inputs.gate!;
  const up = inputs.up!;
  assertFinite("gate", gate);
  assertFinite("up", up);
  const m = dims.M!;
  const k = dims.K!;
  const g = f16Values(gate);
  const u = f16Values(up);
  const yValues = new Float64Array(m * k);
  const y = zeros("f16", [m, k]);
  for (let i = 0; i < m * k; i++) {
    const v = f16(Math.fround(siluF16(g[i]!) * u[i]!));
    if (!Number.isFinite(v)) throw new OverflowError(`silu_mul_quant: output 'y' at flat index ${i} overflows binary16 (${v})`);
    yValues[i] = v;
    y.data[i] = toF16Bits(v);
  }
  const { q, scale, qsum } = quantizeActivations(yValues, m, k);
  return { y, q, scale, qsum };
};
