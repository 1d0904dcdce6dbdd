/**
 * Fast scalar building blocks with exactly the bits of `@qoq/core`'s definitions:
 * binary32 → binary16 rounding by integer operations on the binary32 bit pattern (equal to
 * `toF16Bits` on every binary32 input; checked exhaustively, see the README), a table decode of
 * binary16, round-half-even by the 1.5·2^52 constant, the canonical exponential with a table of
 * powers of two, and the R32 reduction's butterfly for lanes held in a reusable buffer.
 * @module
 */
import { EXP_COEFFS, EXP_LN2_HI, EXP_LN2_LO, EXP_LOG2E, EXP_MAX_INPUT, EXP_MIN_INPUT, F16_NAN_BITS, fromF16Bits } from "@qoq/core";

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/**
 * Bits of the binary16 value nearest (ties to even) to the binary32 value of `x`: equal to
 * core's `toF16Bits(Math.fround(x))` for every number, and to `toF16Bits(x)` for every binary32
 * value `x` (the only inputs the ops pass). Store to a Float32Array, then integer rounding on
 * the bit pattern: normal results add `0x0fff` plus the lowest kept bit before the shift (ties to
 * even, a carry moves into the exponent), subnormal results shift the significand with an explicit
 * half-way test, |x| ≥ 65520 gives ±∞, NaN gives {@link F16_NAN_BITS}.
 */
export function f32ToF16Bits(x: number): number {
  F32[0] = x;
  const b = U32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const a = b & 0x7fffffff;
  if (a >= 0x477ff000) {
    // 0x477ff000 is 65520, the midpoint between 65504 and 2^16 (its tie goes to ∞); ∞ and NaN above.
    if (a > 0x7f800000) return F16_NAN_BITS;
    return sign | 0x7c00;
  }
  if (a >= 0x38800000) {
    // Normal binary16 (|x| ≥ 2^-14): rebias the exponent by 127 − 15 = 112, round off 13 bits.
    return sign | ((a - 0x38000000 + 0x0fff + ((a >>> 13) & 1)) >>> 13);
  }
  // Subnormal binary16: value = mant · 2^(e − 150) with the implicit bit; in units of 2^-24 that is mant >> (126 − e).
  const e = a >>> 23;
  const shift = 126 - e;
  if (shift > 24) return sign; // below 2^-25: rounds to zero (2^-25 exactly is a tie, to the even 0)
  const mant = (a & 0x7fffff) | 0x800000;
  let r = mant >>> shift;
  const rem = mant & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (r & 1) === 1)) r++;
  return sign | r;
}

/** `f16(x)` of a binary32 value `x`, as a number (through {@link f32ToF16Bits}). */
export function f16Of32(x: number): number {
  return F16_TABLE[f32ToF16Bits(x)]!;
}

/** Every binary16 value by bit pattern (index = bits), as doubles: the decode table. */
export const F16_TABLE: Float64Array = (() => {
  const t = new Float64Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = fromF16Bits(h);
  return t;
})();

/** Decode binary16 bits into a reusable or new Float64Array of values. */
export function decodeF16(bits: Uint16Array, out: Float64Array = new Float64Array(bits.length)): Float64Array {
  const t = F16_TABLE;
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]!]!;
  return out;
}

/** 1.5 · 2^52: adding and subtracting it rounds a double with |v| < 2^51 to an integer, ties to even. */
const RNE_MAGIC = 6755399441055744;

/**
 * Round half to even to an integer, for |v| < 2^51 (core's `rne` up to the sign of a zero result:
 * this gives +0 where `rne` gives −0; callers only store the result as an integer or use it
 * where the sign of zero cannot matter).
 */
export function rneSmall(v: number): number {
  return v + RNE_MAGIC - RNE_MAGIC;
}

/** 2^k for k = −150 … 150 at index k + 150. */
const POW2 = (() => {
  const t = new Float64Array(301);
  for (let k = -150; k <= 150; k++) t[k + 150] = 2 ** k;
  return t;
})();

const C0 = EXP_COEFFS[0]!;
const C1 = EXP_COEFFS[1]!;
const C2 = EXP_COEFFS[2]!;
const C3 = EXP_COEFFS[3]!;
const C4 = EXP_COEFFS[4]!;
const C5 = EXP_COEFFS[5]!;
const C6 = EXP_COEFFS[6]!;
const C7 = EXP_COEFFS[7]!;

/**
 * core's `expCanon` for a binary32 `x` (the same operations in the same order, unrolled; `rne`
 * by the 1.5·2^52 constant, whose +0 for a −0 ties cannot change `r` or the result; 2^k from a
 * table). Non-binary32 inputs are rounded to binary32 first, as `expCanon` does.
 */
export function expFast(x: number): number {
  const f = Math.fround;
  x = f(x);
  if (x !== x) return NaN;
  if (x > EXP_MAX_INPUT) return Infinity;
  if (x < EXP_MIN_INPUT) return 0;
  const k = f(x * EXP_LOG2E) + RNE_MAGIC - RNE_MAGIC;
  const r = f(f(x - f(k * EXP_LN2_HI)) - f(k * EXP_LN2_LO));
  let p = C7;
  p = f(f(p * r) + C6);
  p = f(f(p * r) + C5);
  p = f(f(p * r) + C4);
  p = f(f(p * r) + C3);
  p = f(f(p * r) + C2);
  p = f(f(p * r) + C1);
  p = f(f(p * r) + C0);
  return f(p * POW2[k + 150]!);
}

/**
 * The R32 butterfly over `lanes[base … base+32)` when only the first `active` lanes can be
 * nonzero (the rest hold +0): returns what core's `butterflyR32` returns for those 32 lanes.
 * Lanes of an R32 sum start at +0 and are never −0 afterwards (+0 + (−0) = +0, and an exact zero
 * sum rounds to +0), so adding a +0 lane is the identity and the butterfly levels whose offset is
 * at least the next power of two of `active` can be skipped. Lanes `active …` need not be
 * cleared by the caller (the ones read are set to +0 here). Mutates the lanes.
 */
export function butterfly(lanes: Float64Array, base: number, active: number): number {
  const f = Math.fround;
  if (active >= 32) {
    // All 32 lanes: the five levels written out.
    for (let l = 0; l < 16; l++) lanes[base + l] = f(lanes[base + l]! + lanes[base + l + 16]!);
    for (let l = 0; l < 8; l++) lanes[base + l] = f(lanes[base + l]! + lanes[base + l + 8]!);
    const b = base;
    const x0 = f(lanes[b]! + lanes[b + 4]!);
    const x1 = f(lanes[b + 1]! + lanes[b + 5]!);
    const x2 = f(lanes[b + 2]! + lanes[b + 6]!);
    const x3 = f(lanes[b + 3]! + lanes[b + 7]!);
    return f(f(x0 + x2) + f(x1 + x3));
  }
  let off = 16;
  while (off > 1 && off >= active) off >>= 1;
  // Now off is the largest butterfly offset < active (or 1): levels above it only add +0 lanes.
  // The levels that run read lanes below 2·off; those at or above `active` must be +0.
  for (let l = Math.max(active, 0); l < 2 * off; l++) lanes[base + l] = 0;
  for (; off >= 1; off >>= 1) {
    for (let l = 0; l < off; l++) lanes[base + l] = f(lanes[base + l]! + lanes[base + l + off]!);
  }
  return lanes[base]!;
}
