/**
 * Shared pieces of the weight-quantization and GEMM reference ops (DESIGN.md §3.5):
 * UINT4 code checks, binary16 scale checks, the group size of a progressive-group weight, the
 * exact INT8 reconstruction `w8 = (q − z)·s2` with its protective-range validation, the int32
 * accumulator bound (DESIGN.md §3 rule 2), and the GEMM epilogue
 * `y = f16(f32(f32(acc) · f32(s_w · s_x)))`.
 * @module
 */
import { OverflowError, RangeViolationError, ShapeError, toF16Bits } from "@qoq/core";

/** Largest UINT4 code. */
export const UINT4_MAX = 15;

/** Largest int32 value, 2^31 − 1: the bound every exact accumulator must stay within. */
export const INT32_MAX = 2147483647;

/** Smallest and largest level-2 integer scale of a progressive-group weight. */
export const S2_RANGE: readonly [number, number] = [1, 16];

/** Range `w8 = (q − z)·s2` must lie in: it is fed to INT8 tensor cores as a signed byte. */
export const W8_RANGE: readonly [number, number] = [-128, 127];

/** Throw {@link RangeViolationError} naming `name` and the flat index of the first code above 15. */
export function checkUint4(name: string, data: Uint8Array): void {
  for (let i = 0; i < data.length; i++) {
    if (data[i]! > UINT4_MAX) throw new RangeViolationError(name, i, `code ${data[i]} is not a UINT4 code 0..${UINT4_MAX}`);
  }
}

/**
 * Input channels per group of a progressive-group weight with `k` input channels and `g` groups:
 * `k / g`. Throws {@link ShapeError} when `g` does not divide `k`. `k = g = 0` gives 0 (no groups).
 */
export function groupSizeOf(op: string, k: number, g: number): number {
  if (g === 0) {
    if (k === 0) return 0;
    throw new ShapeError(`${op}: 'zero' and 's2' have G = 0 groups per row but K = ${k}; G must divide K`);
  }
  if (k % g !== 0) throw new ShapeError(`${op}: K = ${k} is not a multiple of the G = ${g} groups of 'zero' and 's2'`);
  return k / g;
}

/**
 * Validate a progressive-group weight and reconstruct its exact INT8 values
 * `w8[n,k] = (q[n,k] − zero[n,g]) · s2[n,g]`, g = ⌊k / groupSize⌋. Rejects, with a
 * {@link RangeViolationError} naming the tensor and flat index: zero points above 15, level-2
 * scales outside 1..16, codes above 15, and any `w8` outside [−128, 127] (the protective range
 * guarantees it for quantizer output; a checkpoint that breaks it would wrap in the GPU's byte lanes).
 */
export function expandW8(op: string, q: Uint8Array, zero: Uint8Array, s2: Uint8Array, n: number, k: number, g: number): Int8Array {
  const gs = groupSizeOf(op, k, g);
  checkUint4("zero", zero);
  for (let i = 0; i < s2.length; i++) {
    const s = s2[i]!;
    if (s < S2_RANGE[0] || s > S2_RANGE[1]) {
      throw new RangeViolationError("s2", i, `level-2 scale ${s} is outside ${S2_RANGE[0]}..${S2_RANGE[1]}`);
    }
  }
  checkUint4("q", q);
  const w8 = new Int8Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < k; col++) {
      const i = row * k + col;
      const gi = row * g + Math.floor(col / gs);
      const v = (q[i]! - zero[gi]!) * s2[gi]!;
      if (v < W8_RANGE[0] || v > W8_RANGE[1]) {
        throw new RangeViolationError(
          "q",
          i,
          `(q − zero)·s2 = (${q[i]} − ${zero[gi]})·${s2[gi]} = ${v} leaves the INT8 range [${W8_RANGE[0]}, ${W8_RANGE[1]}] (zero/s2 flat index ${gi})`,
        );
      }
      w8[i] = v;
    }
  }
  return w8;
}

/**
 * Throw {@link OverflowError} when `k` exceeds `maxK`, the largest reduction length for which an
 * int32 accumulator of terms bounded by `termBound` in magnitude provably cannot overflow.
 */
export function assertAccumulatorK(op: string, k: number, maxK: number, termBound: string): void {
  if (k > maxK) {
    throw new OverflowError(
      `${op}: K = ${k} exceeds ${maxK}, the largest K for which the int32 accumulator cannot overflow (K·${termBound} ≤ 2^31 − 1)`,
    );
  }
}

/**
 * The GEMM epilogue of every quantized GEMM: binary16 bits of `f16(f32(f32(acc) · f32(sw · sx)))`,
 * for an exact integer accumulator `acc` and binary16 scale values `sw`, `sx`. A result past the
 * binary16 range rounds to ±infinity, as `__float2half_rn` does (the contract pins the rounding,
 * not a saturation).
 */
export function gemmEpilogue(acc: number, sw: number, sx: number): number {
  // sw·sx of two binary16 values (11-bit significands, exponents ≥ −24) is exact in binary32; f32() documents it.
  const s = Math.fround(sw * sx);
  // acc is rounded to binary32 first (|acc| may exceed 2^24), then one binary32 product, then one f32 → f16 rounding.
  return toF16Bits(Math.fround(Math.fround(acc) * s));
}
