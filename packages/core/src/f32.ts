/**
 * Binary32 arithmetic. For binary32 operands, the double result of + − × ÷ √ rounded once by
 * `Math.fround` equals the correctly rounded binary32 result (53 ≥ 2·24 + 2 bits), so these
 * helpers are exactly IEEE single-precision operations, round to nearest even, no FMA, no FTZ.
 * @module
 */

/** `f32(x)`: round a double to the nearest binary32 value (ties to even). */
export const f32: (x: number) => number = Math.fround;

/** Binary32 addition. */
export function add32(a: number, b: number): number {
  return Math.fround(a + b);
}
/** Binary32 subtraction. */
export function sub32(a: number, b: number): number {
  return Math.fround(a - b);
}
/** Binary32 multiplication. */
export function mul32(a: number, b: number): number {
  return Math.fround(a * b);
}
/** Binary32 division (correctly rounded). */
export function div32(a: number, b: number): number {
  return Math.fround(a / b);
}
/** Binary32 square root (correctly rounded). */
export function sqrt32(a: number): number {
  return Math.fround(Math.sqrt(a));
}

/** Largest finite binary32 value. */
export const F32_MAX = 3.4028234663852886e38;
/** Smallest positive normal binary32 value, 2^-126. */
export const F32_MIN_NORMAL = 2 ** -126;

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Bits of the binary32 value nearest to `x`. */
export function toF32Bits(x: number): number {
  f32Scratch[0] = x;
  return u32Scratch[0]!;
}
/** The value of binary32 bits `b`. */
export function fromF32Bits(b: number): number {
  u32Scratch[0] = b >>> 0;
  return f32Scratch[0]!;
}

/**
 * Distance in units in the last place between two binary32 values, counting along the ordered
 * bit patterns (so +0 and −0 are 0 apart, and the largest finite value is 1 from infinity).
 * NaN against anything is `Infinity`.
 */
export function ulpDistance32(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  const key = (x: number): number => {
    const bits = toF32Bits(x);
    return bits & 0x80000000 ? -(bits & 0x7fffffff) : bits;
  };
  return Math.abs(key(a) - key(b));
}
