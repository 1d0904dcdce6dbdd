/**
 * The canonical exponential (DESIGN.md §3 rule 4): built only from binary32 + − × and exact
 * integer steps, so any backend can compute the same bits. Used by softmax and SiLU.
 * @module
 */
import { rne } from "./f16.js";

const f = Math.fround;

/** log2(e) rounded to binary32. */
export const EXP_LOG2E = f(1.4426950408889634);
/** High part of ln 2 with 16 significant bits, so `k · EXP_LN2_HI` is exact for |k| ≤ 256. */
export const EXP_LN2_HI = f(0.693145751953125);
/** Low part of ln 2 (ln 2 − EXP_LN2_HI, rounded to binary32). */
export const EXP_LN2_LO = f(Math.LN2 - 0.693145751953125);
/** Taylor coefficients 1/i! for i = 0..7, rounded to binary32; Horner from the highest. */
export const EXP_COEFFS: readonly number[] = [1, 1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040].map(f);
/** Above this input the result is +∞ by definition (e^88 ≈ 1.65e38 is still finite; keeping 2^k a normal binary32). */
export const EXP_MAX_INPUT = 88;
/**
 * Below this input the result is +0 by definition: e^-86 ≈ 4.5e-38 is the smallest result kept,
 * so every nonzero result is a normal binary32 and backends that flush subnormals agree.
 */
export const EXP_MIN_INPUT = -86;

/**
 * Canonical e^x for a binary32 `x`:
 * `k = rne(f32(x·log2e))`, `r = f32(f32(x − f32(k·ln2hi)) − f32(k·ln2lo))`,
 * `p = 1 + r(1 + r(1/2 + … r/5040))` by Horner in binary32, result `f32(p · 2^k)` (exact scaling).
 * NaN → NaN; x > 88 → +∞; x < −86 → +0.
 */
export function expCanon(x: number): number {
  x = f(x);
  if (Number.isNaN(x)) return NaN;
  if (x > EXP_MAX_INPUT) return Infinity;
  if (x < EXP_MIN_INPUT) return 0;
  const k = rne(f(x * EXP_LOG2E));
  const r = f(f(x - f(k * EXP_LN2_HI)) - f(k * EXP_LN2_LO));
  let p = EXP_COEFFS[7]!;
  for (let i = 6; i >= 0; i--) p = f(f(p * r) + EXP_COEFFS[i]!);
  return f(p * 2 ** k); // k ∈ [−124, 127] here, so 2^k and the product are normal binary32
}
