/**
 * Seeded test-data generators shared by every op spec: Gaussian bodies, outlier channels,
 * all-zero and all-equal rows, binary16 extremes.
 * @module
 */
import { F16_MAX, fromNumbers, Rng, type Tensor } from "@qoq/core";

/** How a generated matrix is filled. */
export type DataKind = "gaussian" | "outliers" | "zeros" | "equal" | "extremes" | "mixed";

/** Every data kind, in the order edge cases use them. */
export const DATA_KINDS: readonly DataKind[] = ["gaussian", "outliers", "zeros", "equal", "extremes", "mixed"];

const EXTREMES = [F16_MAX, -F16_MAX, 2 ** -24, -(2 ** -24), 2 ** -14, -0, 0, 1, -1, 65472, 0.5];

/**
 * Values for a rows×cols matrix. `outliers` scales a few fixed channels (columns) by 20–60×,
 * as activations of real LLMs have; `mixed` picks a kind per row (zero, equal, outlier, plain).
 */
export function matrixValues(rng: Rng, rows: number, cols: number, kind: DataKind, sigma = 1): Float64Array {
  const out = new Float64Array(rows * cols);
  const outlierCols = new Set<number>();
  const nOut = Math.max(1, Math.round(cols / 64));
  while (outlierCols.size < Math.min(nOut, cols)) outlierCols.add(rng.int(0, cols - 1));
  const factor = 20 + 40 * rng.float();
  for (let r = 0; r < rows; r++) {
    let rowKind: DataKind = kind;
    if (kind === "mixed") rowKind = (["zeros", "equal", "outliers", "gaussian", "extremes"] as const)[rng.int(0, 4)]!;
    const c0 = sigma * rng.normal();
    for (let c = 0; c < cols; c++) {
      let v: number;
      switch (rowKind) {
        case "zeros":
          v = 0;
          break;
        case "equal":
          v = c0;
          break;
        case "extremes":
          v = rng.float() < 0.5 ? EXTREMES[rng.int(0, EXTREMES.length - 1)]! : sigma * rng.normal();
          break;
        case "outliers":
          v = sigma * rng.normal() * (outlierCols.has(c) ? factor : 1);
          break;
        default:
          v = sigma * rng.normal();
      }
      out[r * cols + c] = v;
    }
  }
  return out;
}

/** A binary16 tensor of the given shape filled by {@link matrixValues} (the last dim is the column). */
export function f16Data(rng: Rng, shape: readonly number[], kind: DataKind, sigma = 1): Tensor<"f16"> {
  const cols = shape[shape.length - 1] ?? 1;
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return fromNumbers("f16", shape, matrixValues(rng, rows, cols, kind, sigma));
}

/** A binary32 tensor filled by {@link matrixValues}; extremes are binary32-scaled. */
export function f32Data(rng: Rng, shape: readonly number[], kind: DataKind, sigma = 1): Tensor<"f32"> {
  const cols = shape[shape.length - 1] ?? 1;
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return fromNumbers("f32", shape, matrixValues(rng, rows, cols, kind, sigma));
}

/** A binary64 tensor filled by {@link matrixValues}. */
export function f64Data(rng: Rng, shape: readonly number[], kind: DataKind, sigma = 1): Tensor<"f64"> {
  const cols = shape[shape.length - 1] ?? 1;
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return fromNumbers("f64", shape, matrixValues(rng, rows, cols, kind, sigma));
}

/** Per-channel maxima (non-negative binary32), with a few large outliers. */
export function maxima(rng: Rng, n: number): Tensor<"f32"> {
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.abs(rng.normal()) * (rng.float() < 0.05 ? 30 : 1) + 0.01;
  return fromNumbers("f32", [n], v);
}

/** Pick one element of a list. */
export function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(0, xs.length - 1)]!;
}

/** Sizes that catch edge handling: 1, primes, odd, around powers of two. */
export const ODD_SIZES: readonly number[] = [1, 2, 3, 5, 7, 13, 31, 32, 33, 63, 64, 65, 127, 128, 129];

/** A fixed generator for edge case `i`, so edge cases are the same every run. */
export function rngFor(i: number): Rng {
  return new Rng(0x5eed0000 + i);
}
