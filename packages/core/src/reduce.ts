/**
 * The canonical reduction order "R32" (DESIGN.md §3 rule 3). A row of n terms is summed by 32
 * lanes: lane l adds terms l, l+32, l+64, … in order into a binary32 accumulator that starts at
 * +0; then an xor-butterfly over offsets 16, 8, 4, 2, 1 adds lane pairs. Every lane ends with
 * the same value (addition is commutative), so a GPU warp or workgroup reproduces it with 32
 * strided partial sums and five shuffles.
 * @module
 */

/** Number of lanes of the canonical reduction. */
export const R32_LANES = 32;

/** Butterfly offsets, in the order they are applied. */
export const R32_BUTTERFLY: readonly number[] = [16, 8, 4, 2, 1];

/**
 * Sum `term(0) … term(n-1)` in the canonical R32 order, every addition in binary32.
 * Each term is rounded to binary32 before it is added (a no-op for terms that already are).
 */
export function sumR32(n: number, term: (i: number) => number): number {
  // Lane buffers are reused (one per nesting depth, since a term may itself call sumR32):
  // reductions run millions of times in attention, and a fresh array each time dominates.
  const lanes = (LANE_POOL[depth] ??= new Float64Array(R32_LANES)); // every entry holds a binary32 value
  lanes.fill(0);
  depth++;
  try {
    for (let i = 0; i < n; i++) {
      const l = i % R32_LANES;
      lanes[l] = Math.fround(lanes[l]! + Math.fround(term(i)));
    }
  } finally {
    depth--;
  }
  return butterflyR32(lanes);
}

const LANE_POOL: Float64Array[] = [];
let depth = 0;

const DOT_LANES = new Float64Array(R32_LANES);

/**
 * `Σ_R32 f32(a[ao + i·as] · b[bo + i·bs])` for i < n: exactly {@link sumR32} over those
 * products, without a callback (the hot loop of attention and matrix products).
 */
export function dotR32(n: number, a: ArrayLike<number>, ao: number, as: number, b: ArrayLike<number>, bo: number, bs: number): number {
  const lanes = DOT_LANES;
  lanes.fill(0);
  for (let i = 0; i < n; i++) {
    const l = i & (R32_LANES - 1);
    lanes[l] = Math.fround(lanes[l]! + Math.fround(a[ao + i * as]! * b[bo + i * bs]!));
  }
  return butterflyR32(lanes);
}

/**
 * Combine 32 lane partial sums with the xor-butterfly; returns lane 0's final value
 * (lane l ← lane l + lane l^offset for offsets 16, 8, 4, 2, 1). Mutates `lanes`.
 */
export function butterflyR32(lanes: Float64Array): number {
  for (const off of R32_BUTTERFLY) {
    for (let l = 0; l < off; l++) lanes[l] = Math.fround(lanes[l]! + lanes[l + off]!);
  }
  return lanes[0]!;
}

/** Exact integer sum in canonical order (any order gives the same integer; kept for symmetry). */
export function sumInt(n: number, term: (i: number) => number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += term(i);
  return s;
}

/** Largest absolute value of `term(0) … term(n-1)`; 0 for n = 0. Order-independent. */
export function maxAbs(n: number, term: (i: number) => number): number {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(term(i));
    if (a > m) m = a;
  }
  return m;
}
