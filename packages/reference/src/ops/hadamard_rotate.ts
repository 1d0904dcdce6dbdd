/**
 * `hadamard_rotate` — multiply a weight by a normalized Hadamard matrix, offline, in float64
 * (qoq-spec §5.1, residual-stream rotation).
 *
 * `side = "input"`: `W ← W·H`, i.e. each row of W (length n = C) is transformed.
 * `side = "output"`: `W ← Hᵀ·W`, i.e. each column of W (length n = R) is transformed.
 * H is symmetric and orthogonal, so rotating a producer on its output side and its consumer on
 * its input side leaves their product unchanged: `(W₂·H)·(Hᵀ·W₁) = W₂·W₁`.
 *
 * Which H, for the rotated size n:
 * - **n a power of two**: the normalized Sylvester Hadamard `H_n/√n`,
 *   `H[i][j] = (−1)^popcount(i & j) / √n`, as DeepCompressor's deterministic default
 *   (`scipy.linalg.hadamard`). Applied by a fast Walsh–Hadamard transform in natural order —
 *   stages `h = 1, 2, 4, …, n/2`, each butterfly `(a, b) → (a + b, a − b)` in float64 — and then
 *   each element is multiplied by `1/√n` (one float64 multiply; `1/√n` is exact when n is a
 *   power of four).
 * - **n = 2^a·m with m odd > 1, a ≥ 1**: the block-diagonal `I_m ⊗ (H_{2^a}/√(2^a))`, i.e. the
 *   power-of-two transform above on each run of `2^a` consecutive channels. It is orthogonal
 *   and symmetric, so the rotation is still exact for the model's function, but it only mixes
 *   channels *within* a block, so it spreads outliers far less than a full Hadamard would.
 *   DeepCompressor instead builds `H_K ⊗ H_{n/K}` from Sloane's tables of Hadamard matrices
 *   (K ∈ {172, 156, 140, 108, 60, 52, 36, 28, 40, 20, 12}; e.g. K = 172 for a hidden size of
 *   172); those tables are **not implemented** here, so for such sizes this op's rotation
 *   differs from DeepCompressor's (both are valid orthogonal rotations).
 * - **n odd, n > 1**: {@link ParamError} — no power-of-two block divides n.
 * - **n = 1** (or 0): the identity.
 *
 * A binary32 weight is widened exactly, transformed in float64, and rounded once to binary32.
 * @module
 */
import { ParamError, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { floatValues, weightTensor, type WeightDType } from "./transform_common.js";

/**
 * The size of the Hadamard blocks used for a rotation of size `n`: the largest power of two
 * dividing n (n itself when n is a power of two; 1 for n ≤ 1). Throws {@link ParamError} for
 * an odd n > 1, which has no power-of-two factor; `what` names the rotated dimension there.
 */
export function hadamardBlockSize(n: number, what = `n = ${n}`): number {
  if (n <= 1) return 1;
  let b = 1;
  while (n % (2 * b) === 0) b *= 2;
  if (b === 1) {
    throw new ParamError(
      `hadamard_rotate: cannot rotate ${what}: it is odd, so no power-of-two Hadamard block divides it ` +
        `(Sloane-table Hadamard matrices such as DeepCompressor's orders 12, 20, …, 172 are not implemented; ` +
        `pad the dimension to an even size first)`,
    );
  }
  return b;
}

/**
 * In place, the normalized Sylvester Hadamard transform `H_b/√b` of the `b` (a power of two)
 * elements `vec[offset + i·stride]`, i = 0 … b−1: natural-order fast Walsh–Hadamard butterflies
 * in float64, then one multiply by `1/√b` per element.
 */
export function walshHadamard(vec: Float64Array, offset: number, b: number, stride: number): void {
  for (let h = 1; h < b; h *= 2) {
    for (let i = 0; i < b; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const p = offset + j * stride;
        const q = p + h * stride;
        const a = vec[p]!;
        const c = vec[q]!;
        vec[p] = a + c;
        vec[q] = a - c;
      }
    }
  }
  // One normalization at the end (not 1/√2 per stage): one rounding per element instead of log₂ b.
  const s = 1 / Math.sqrt(b);
  for (let i = 0; i < b; i++) vec[offset + i * stride]! *= s;
}

/**
 * In place, the rotation this op applies to a vector of `n` elements `vec[offset + i·stride]`:
 * `H_n/√n` when n is a power of two, the block-diagonal `I_m ⊗ H_b/√b` with
 * `b = `{@link hadamardBlockSize}`(n)` otherwise (see the module comment). Throws
 * {@link ParamError} for an odd n > 1. The matrix is symmetric and orthogonal, so applying it
 * twice is the identity (up to float64 rounding).
 */
export function hadamardTransform(vec: Float64Array, offset: number, n: number, stride: number): void {
  const b = hadamardBlockSize(n);
  for (let start = 0; start + b <= n; start += b) walshHadamard(vec, offset + start * stride, b, stride);
}

/** Reference of `hadamard_rotate`: w (f32|f64)[R×C] → w·H (side=input) or Hᵀ·w (side=output), same dtype. */
export const hadamardRotate: ReferenceImpl = (inputs, params, dims): NamedTensors => {
  const w = inputs.w!;
  const rows = dims.R!;
  const cols = dims.C!;
  const side = params.side as "input" | "output";
  // Validate the size before touching the data, so the error names the dimension the caller chose.
  if (side === "input") hadamardBlockSize(cols, `the C = ${cols} columns of 'w' (side=input, W·H)`);
  else hadamardBlockSize(rows, `the R = ${rows} rows of 'w' (side=output, Hᵀ·W)`);
  const v = floatValues("w", w);
  if (side === "input") {
    for (let r = 0; r < rows; r++) hadamardTransform(v, r * cols, cols, 1);
  } else {
    // Hᵀ·W transforms each column: elements r·C + c for r = 0 … R−1 (stride C).
    for (let c = 0; c < cols; c++) hadamardTransform(v, c, rows, cols);
  }
  return { w: weightTensor("w", w.dtype as WeightDType, w.shape, v) };
};
