/**
 * `quant_weight_g128` — progressive group quantization of weights (DESIGN.md §3.5, QoQ-ref v1,
 * pre-scale integer zero points, protective range `P = 119`, group `g` from the `group` param).
 *
 * Level 1, per output channel (row) of binary32 weights w:
 * `amax = max|w|`, `s1 = f16(f32(amax / 119))`, `u = clamp(rne(f32(w / s1)), −119, 119)` (integers).
 * Level 2, per group of g input channels, on the integers u:
 * `vmax = max(max u, 0)`, `vmin = min(min u, 0)`, `s2 = max(1, rne((vmax − vmin) / 15))`,
 * `z = clamp(rne(−vmin / s2), 0, 15)`, `q = clamp(rne(u / s2) + z, 0, 15)`.
 *
 * Then `w8 = (q − z)·s2` lies in [−127, 127] ⊂ [−128, 127]: `q − z = clamp(rne(u/s2), −z, 15 − z)`
 * with `−z ≤ 0 ≤ 15 − z`, so `|w8| ≤ |rne(u/s2)|·s2 ≤ |u| + s2/2 ≤ 119 + 8` (`s2 ≤ rne(238/15) = 16`).
 * `s1 = 0` (an all-zero row, or `f32(amax / 119) ≤ 2^−25`) gives u = 0, hence s2 = 1, z = 0, q = 0.
 * An `s1` that rounds to binary16 infinity (`f32(amax / 119) ≥ 65520`) is an {@link OverflowError}.
 * @module
 */
import { assertFinite, f16, OverflowError, rne, ShapeError, toF16Bits, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";

/** The protective level-1 range: level-1 integers lie in [−119, 119] so that `w8` can never leave INT8. */
export const PROTECTIVE_RANGE_G128 = 119;

/** Level-2 quantization of the integers `u` of one group (`u[start … start+len)`), writing codes to `q` at `qOffset`. */
function quantizeGroup(u: Int32Array, start: number, len: number, q: Uint8Array, qOffset: number): { s2: number; zero: number } {
  let vmax = 0;
  let vmin = 0;
  for (let i = 0; i < len; i++) {
    vmax = Math.max(vmax, u[start + i]!);
    vmin = Math.min(vmin, u[start + i]!);
  }
  // Integer ratios: the double quotient is never within rounding distance of a wrong half, so rne is exact.
  const s2 = Math.max(1, rne((vmax - vmin) / 15));
  const zero = Math.min(15, Math.max(0, rne(-vmin / s2)));
  for (let i = 0; i < len; i++) q[qOffset + i] = levelTwoCode(u[start + i]!, s2, zero);
  return { s2, zero };
}

/** Level 1 of one weight: `u = clamp(rne(f32(w / s1)), −119, 119)`, 0 when `s1 = 0`. */
export function levelOneCode(w: number, s1: number): number {
  // A scale rounded down (or a subnormal binary16 scale) can put |w/s1| past 119: clamp to the protective range.
  return s1 === 0 ? 0 : Math.min(PROTECTIVE_RANGE_G128, Math.max(-PROTECTIVE_RANGE_G128, rne(Math.fround(w / s1))));
}

/** Level 2 of one level-1 integer: `q = clamp(rne(u / s2) + z, 0, 15)`. */
export function levelTwoCode(u: number, s2: number, zero: number): number {
  // Clamping after adding z keeps q − z between −z and 15 − z, i.e. on the same side of 0 as rne(u/s2).
  return Math.min(15, Math.max(0, rne(u / s2) + zero));
}

/** Reference of `quant_weight_g128`: w f32[N×K] → q, zero, s2 (u8) and s1 (f16 bits), per the module formulas. */
export const quantWeightG128: ReferenceImpl = (inputs, params, dims): NamedTensors => {
  const w = inputs.w!;
  assertFinite("w", w);
  const wd = w.data as Float32Array;
  const n = dims.N!;
  const k = dims.K!;
  const g = params.group as number;
  if (k % g !== 0) throw new ShapeError(`quant_weight_g128: K = ${k} of 'w' is not a multiple of the group size ${g}`);
  const groups = k / g;
  const q = zeros("u8", [n, k]);
  const zero = zeros("u8", [n, groups]);
  const s2 = zeros("u8", [n, groups]);
  const s1 = zeros("f16", [n]);
  const u = new Int32Array(k);
  for (let row = 0; row < n; row++) {
    const off = row * k;
    let amax = 0;
    for (let i = 0; i < k; i++) amax = Math.max(amax, Math.abs(wd[off + i]!));
    const scale = f16(Math.fround(amax / PROTECTIVE_RANGE_G128));
    if (scale === Infinity) {
      throw new OverflowError(
        `quant_weight_g128: row ${row} of 'w' has max|w| = ${amax}; its level-1 scale max|w|/119 overflows binary16 (largest finite 65504)`,
      );
    }
    s1.data[row] = toF16Bits(scale);
    for (let i = 0; i < k; i++) u[i] = levelOneCode(wd[off + i]!, scale);
    for (let j = 0; j < groups; j++) {
      const r = quantizeGroup(u, j * g, g, q.data, off + j * g);
      zero.data[row * groups + j] = r.zero;
      s2.data[row * groups + j] = r.s2;
    }
  }
  return { q, zero, s2, s1 };
};
