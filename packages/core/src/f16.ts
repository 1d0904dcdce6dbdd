/**
 * IEEE 754 binary16 ("fp16") conversion, round to nearest even, with subnormals, signed zeros,
 * infinities and NaN. Node 20 has no `Math.f16round`, and the contract needs one exact rounding
 * that every backend can reproduce, so it is written out here.
 * @module
 */

const f64 = new Float64Array(1);
const f64Words = new Uint32Array(f64.buffer);
/** Index of the high 32-bit word of a float64 on this (little-endian) host. */
const HI = 1;

/** The canonical NaN bit pattern produced by {@link toF16Bits} (quiet, positive). */
export const F16_NAN_BITS = 0x7e00;
/** Largest finite binary16 value. */
export const F16_MAX = 65504;
/** Smallest positive normal binary16 value, 2^-14. */
export const F16_MIN_NORMAL = 2 ** -14;
/** Smallest positive subnormal binary16 value, 2^-24. */
export const F16_MIN_SUBNORMAL = 2 ** -24;

/** Round half to even to an integer (what `cvt.rni`, `torch.round` and Python's `round` do). */
export function rne(x: number): number {
  const r = Math.round(x); // rounds halves towards +inf
  // A tie rounded up to an odd integer goes down to the even neighbour instead.
  if (r - x === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/**
 * Bits of the binary16 value nearest to `x` (ties to even). Any double is accepted; the
 * contract only ever passes binary32 values, for which this is the f32 → f16 conversion.
 */
export function toF16Bits(x: number): number {
  if (Number.isNaN(x)) return F16_NAN_BITS;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  // 65520 is the midpoint between 65504 and 2^16; the tie goes to the even pattern, which is infinity.
  if (a >= 65520) return sign | 0x7c00;
  if (a < F16_MIN_NORMAL) {
    // Subnormal grid has spacing 2^-24; scaling by a power of two is exact, so one rounding.
    return sign | rne(a * 2 ** 24); // 1024 here is the smallest normal, and its bits are 0x0400
  }
  f64[0] = a;
  const e = ((f64Words[HI]! >>> 20) & 0x7ff) - 1023;
  const m = rne((a / 2 ** e - 1) * 1024); // exact scaling, single rounding
  return sign | (((e + 15) << 10) + m); // m == 1024 carries into the exponent, as it should
}

/** The value of binary16 bits `h` (0..0xffff) as a number, computed from the fields. */
export function decodeF16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** Every binary16 value by bit pattern: decoding is on the hot path of every op, so it is a lookup. */
const F16_VALUES = new Float64Array(65536);
for (let h = 0; h < 65536; h++) F16_VALUES[h] = decodeF16Bits(h);

/** The value of binary16 bits `h` (0..0xffff) as a number. */
export function fromF16Bits(h: number): number {
  return F16_VALUES[h & 0xffff]!;
}

/** `f16(x)`: `x` rounded to the nearest binary16 value (ties to even), as a number. */
export function f16(x: number): number {
  return fromF16Bits(toF16Bits(x));
}

/** True when `x` is exactly representable in binary16 (NaN counts as representable). */
export function isF16Exact(x: number): boolean {
  return Number.isNaN(x) || f16(x) === x;
}

/**
 * Distance in binary16 units in the last place between two values that are binary16 values,
 * counting along the ordered bit patterns (+0 and −0 are 0 apart; 65504 is 1 from ∞).
 * NaN against anything is `Infinity` (0 against NaN).
 */
export function ulpDistance16(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  const key = (x: number): number => {
    const bits = toF16Bits(x);
    return bits & 0x8000 ? -(bits & 0x7fff) : bits;
  };
  return Math.abs(key(a) - key(b));
}
