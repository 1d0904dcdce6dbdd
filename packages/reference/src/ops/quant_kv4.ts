/**
 * `quant_kv4` — KV4 cache quantization, asymmetric UINT4 per (token, KV head) (DESIGN.md §3.5).
 *
 * For each row v of D binary16 values (one token, one KV head):
 * `mx = max v`, `mn = min v`, `scale = f16(f32(f32(mx − mn) / 15))`;
 * `scale = 0` → all codes 0; else `inv = f32(1 / scale)`,
 * `q = clamp(rne(f32(f32(v − mn) · inv)), 0, 15)`. Outputs the codes (one per byte), `scale`
 * (binary16) and `min = mn` (binary16, exact: it is one of the inputs). Dequantization is
 * `v̂ = f32(f32(q · scale) + min)` (see `dequant_kv4`).
 *
 * Signed zeros: `mx` and `mn` are taken over the values with −0 read as +0, so a zero minimum is
 * stored as +0 and `mx − mn` is never −0; the stored bits then do not depend on which zero a
 * backend's min/max reduction meets first.
 * @module
 */
import { assertFinite, f16, rne, toF16Bits, zeros, type NamedTensors, type Tensor } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { f16Values } from "./quant_act_int8.js";

/** One quantized KV4 row: its binary16 scale and minimum, as numbers. */
export interface Kv4Row {
  /** `f16((max − min) / 15)`; 0 for a row whose range rounds to a zero scale. */
  scale: number;
  /** The row's minimum (+0 for a zero minimum). */
  min: number;
}

/**
 * Quantize one row of `d` binary16 values (`v[offset … offset+d)`, as numbers) into UINT4 codes
 * written to `q` at the same offset; returns the row's scale and minimum.
 */
export function quantizeKv4Row(v: ArrayLike<number>, offset: number, d: number, q: Uint8Array): Kv4Row {
  if (d === 0) return { scale: 0, min: 0 };
  let mx = -Infinity;
  let mn = Infinity;
  for (let i = 0; i < d; i++) {
    const x = v[offset + i]! + 0; // −0 + 0 = +0: the sign of a zero extreme must not depend on visiting order
    if (x > mx) mx = x;
    if (x < mn) mn = x;
  }
  const scale = f16(Math.fround(Math.fround(mx - mn) / 15));
  if (scale === 0) {
    // A range of at most 7·2^-24 underflows the binary16 scale to 0: no division, codes 0, v̂ = min.
    q.fill(0, offset, offset + d);
    return { scale: 0, min: mn };
  }
  // Codes use the reciprocal of the *rounded* scale: they index the grid q·scale + min that dequantization rebuilds.
  const inv = Math.fround(1 / scale);
  for (let i = 0; i < d; i++) {
    const t = Math.fround(Math.fround(v[offset + i]! - mn) * inv);
    // t ≥ 0 always; when the scale rounded down, the top of the range can land above 15.5, hence the clamp.
    q[offset + i] = Math.min(15, Math.max(0, rne(t)));
  }
  return { scale, min: mn };
}

/** Quantized KV rows: codes, and per-row binary16 scale and minimum bits. */
export interface QuantizedKv4 {
  /** UINT4 codes, one per byte, same shape as the input. */
  q: Tensor<"u8">;
  /** Per-row scale, binary16 bits. */
  scale: Tensor<"f16">;
  /** Per-row minimum, binary16 bits. */
  min: Tensor<"f16">;
}

/**
 * Quantize `rows` rows of `d` binary16 values (as numbers); `rowShape` is the shape of the scale
 * and min tensors (e.g. `[T, H]`), whose element count must be `rows`.
 */
export function quantizeKv4(values: ArrayLike<number>, rowShape: readonly number[], d: number): QuantizedKv4 {
  const scale = zeros("f16", rowShape);
  const min = zeros("f16", rowShape);
  const rows = scale.data.length;
  const q = zeros("u8", [...rowShape, d]);
  for (let r = 0; r < rows; r++) {
    const row = quantizeKv4Row(values, r * d, d, q.data);
    scale.data[r] = toF16Bits(row.scale);
    min.data[r] = toF16Bits(row.min);
  }
  return { q, scale, min };
}

/** Reference `quant_kv4`: inputs `v`; outputs `q`, `scale`, `min`. */
export const quantKv4: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const v = inputs.v!;
  assertFinite("v", v);
  const { q, scale, min } = quantizeKv4(f16Values(v), [dims.T!, dims.H!], dims.D!);
  return { q, scale, min };
};
