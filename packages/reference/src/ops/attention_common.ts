/**
 * Shared pieces of `attention_prefill` and `attention_kv4_decode`: the GQA head mapping, the
 * score scale, one score, and the canonical two-pass softmax-weighted sum.
 *
 * For one query row over keys j = 0 … n−1 (in that order):
 * `s_j = f32(Σ_R32 f32(q_d · k_jd) · sc)` with `sc = f32(1 / f32(√D))`; `m = max_j s_j`;
 * `e_j = expCanon(f32(s_j − m))`; `l = Σ_R32 e_j`; `o_d = f16(f32(Σ_R32 f32(e_j · v_jd) / l))`.
 *
 * Why two passes and one division per output element: the unnormalized weights e_j are exact
 * functions of the scores, and every sum runs over the keys in index order in the R32 lane
 * layout, so a backend reproduces the result from fixed-order partial sums (32 strided lanes
 * and a butterfly) with no online-softmax rescaling, whose rounding depends on the tile size.
 * @module
 */
import { dotR32, expCanon, ShapeError, sumR32, toF16Bits } from "@qoq/core";

/**
 * Check the grouped-query head counts (`HKV ≥ 1` divides `HQ`) and the head dimension (`D ≥ 1`);
 * returns the group size `HQ / HKV`. Query head h reads KV head `floor(h / group)`.
 */
export function checkAttentionHeads(op: string, hq: number, hkv: number, d: number): number {
  if (hkv < 1 || hq % hkv !== 0) {
    throw new ShapeError(`${op}: 'q' has HQ = ${hq} heads, which is not a multiple of the HKV = ${hkv} heads of 'k'/'v'`);
  }
  if (d < 1) throw new ShapeError(`${op}: head dimension D of 'q' must be at least 1, got ${d}`);
  return hq / hkv;
}

/** The score scale `f32(1 / f32(√D))` (one correctly rounded sqrt and one division). */
export function scoreScale(d: number): number {
  return Math.fround(1 / Math.fround(Math.sqrt(d)));
}

/**
 * Attention of one query row over `n` keys (j = 0 … n−1, in that order):
 * `s_j = f32(Σ_R32 f32(q_c · k_jc) · sc)`, then the canonical softmax-weighted sum of the values,
 * written as binary16 bits to `out[outOff … outOff+d)`. Key j, channel c is
 * `keys[kOff + j·kStride + c]`, value j, channel c is `values[vOff + j·vStride + c]`; all values
 * are binary32 values held in doubles. `n ≥ 1`.
 */
export function attendRow(
  q: Float64Array,
  qOff: number,
  keys: Float64Array,
  kOff: number,
  kStride: number,
  values: Float64Array,
  vOff: number,
  vStride: number,
  n: number,
  d: number,
  sc: number,
  out: Uint16Array,
  outOff: number,
): void {
  const scores = new Float64Array(n);
  for (let j = 0; j < n; j++) scores[j] = Math.fround(dotR32(d, q, qOff, 1, keys, kOff + j * kStride, 1) * sc);
  let m = -Infinity;
  for (let j = 0; j < n; j++) if (scores[j]! > m) m = scores[j]!;
  const e = new Float64Array(n);
  // Subtracting the max keeps every e_j ≲ 1 (no overflow) and makes the max term expCanon(0) = 1 exactly, so l ≥ 1.
  for (let j = 0; j < n; j++) e[j] = expCanon(Math.fround(scores[j]! - m));
  const l = sumR32(n, (j) => e[j]!);
  for (let c = 0; c < d; c++) {
    // One division per output element (not a multiply by 1/l), so the normalization rounds once.
    const num = dotR32(n, e, 0, 1, values, vOff + c, vStride);
    out[outOff + c] = toF16Bits(Math.fround(num / l)); // toF16Bits is the final f16() rounding
  }
}
