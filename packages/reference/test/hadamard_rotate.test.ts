import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { NonFiniteError, ParamError, propertyOptions, Rng, tensor, type Tensor } from "@qoq/core";
import { runReference } from "../src/index.js";

/** Rotated sizes exercised: powers of two and 2^a·m (m odd > 1), incl. the real model's 172. */
const POW2 = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const MIXED = [6, 12, 20, 24, 40, 96, 172];

function gaussian(rng: Rng, n: number, scale = 1): Float64Array {
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal() * scale;
  return v;
}

function rotate(w: Float64Array, rows: number, cols: number, side: "input" | "output"): Float64Array {
  return runReference("hadamard_rotate", { w: tensor("f64", [rows, cols], w) }, { side }).w!.data as Float64Array;
}

/** a (n×m) · b (m×p), plain float64. */
function matmul(a: Float64Array, b: Float64Array, n: number, m: number, p: number): Float64Array {
  const y = new Float64Array(n * p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) {
    let s = 0;
    for (let k = 0; k < m; k++) s += a[i * m + k]! * b[k * p + j]!;
    y[i * p + j] = s;
  }
  return y;
}

function popcount(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}

/** Largest power of two dividing n (the expected Hadamard block size). */
function blockOf(n: number): number {
  return n & -n;
}

describe("hadamard_rotate", () => {
  it("is orthogonal: rotating a producer's output side and its consumer's input side keeps W2·W1 (rel 1e-12)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...POW2, ...MIXED), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer(), (n, k1, n2, seed) => {
        const rng = new Rng(seed);
        const w1 = gaussian(rng, n * k1); // producer: n output rows, rotated as Hᵀ·W1
        const w2 = gaussian(rng, n2 * n); // consumer: n input columns, rotated as W2·H
        const before = matmul(w2, w1, n2, n, k1);
        const after = matmul(rotate(w2, n2, n, "input"), rotate(w1, n, k1, "output"), n2, n, k1);
        for (let i = 0; i < n2; i++) for (let j = 0; j < k1; j++) {
          // An orthogonal transform changes a dot product by O(log n · ε)·‖row‖·‖col‖, not relative to the (possibly tiny) dot itself.
          let a2 = 0;
          let b2 = 0;
          for (let k = 0; k < n; k++) {
            a2 += w2[i * n + k]! ** 2;
            b2 += w1[k * k1 + j]! ** 2;
          }
          expect(Math.abs(after[i * k1 + j]! - before[i * k1 + j]!)).toBeLessThanOrEqual(1e-12 * Math.sqrt(a2 * b2));
        }
      }),
      propertyOptions(60),
    );
  });

  it("equals the dense product with entries (−1)^popcount(i&j)/√b on each block, bit for bit on integer data", () => {
    // Integer inputs make the butterfly sums exact, so the op must equal fl(S · (1/√b)) exactly,
    // where S is the exact dense ±1 sum over the block; any off-block leakage or wrong sign shows.
    fc.assert(
      fc.property(fc.constantFrom(...POW2, ...MIXED), fc.integer({ min: 1, max: 4 }), fc.constantFrom("input" as const, "output" as const), fc.integer(), (n, other, side, seed) => {
        const rng = new Rng(seed);
        const rows = side === "input" ? other : n;
        const cols = side === "input" ? n : other;
        const w = new Float64Array(rows * cols);
        for (let i = 0; i < w.length; i++) w[i] = rng.int(-1000, 1000);
        const got = rotate(w, rows, cols, side);
        const b = blockOf(n);
        const s = 1 / Math.sqrt(b);
        // Element (vector v, position i) of the rotated vectors, whichever side is rotated.
        const at = (v: number, i: number) => (side === "input" ? v * cols + i : i * cols + v);
        for (let v = 0; v < other; v++) for (let i = 0; i < n; i++) {
          const base = i - (i % b);
          let sum = 0;
          for (let j = base; j < base + b; j++) sum += (popcount((i - base) & (j - base)) % 2 ? -1 : 1) * w[at(v, j)]!;
          expect(got[at(v, i)]).toBe(sum * s);
        }
      }),
      propertyOptions(60),
    );
  });

  it("matches the dense O(n²) product with (−1)^popcount(i&j)/√n entries on Gaussian data (power-of-two n)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...POW2), fc.integer(), (n, seed) => {
        const rng = new Rng(seed);
        const x = gaussian(rng, n, 3);
        const got = rotate(x, 1, n, "input");
        let norm = 0;
        for (const v of x) norm += v * v;
        norm = Math.sqrt(norm);
        for (let i = 0; i < n; i++) {
          let dense = 0;
          for (let j = 0; j < n; j++) dense += ((popcount(i & j) % 2 ? -1 : 1) / Math.sqrt(n)) * x[j]!;
          // Dense summation error ≤ n·ε·‖x‖₁/√n ≤ n·ε·‖x‖₂ (2.8e-14·‖x‖ at n = 256); the butterflies add log₂n·ε·‖x‖.
          expect(Math.abs(got[i]! - dense)).toBeLessThanOrEqual(1e-13 * norm);
        }
      }),
      propertyOptions(60),
    );
  });

  it("applied twice is the identity (H symmetric and orthogonal), on both sides", () => {
    fc.assert(
      fc.property(fc.constantFrom(...POW2, ...MIXED), fc.integer({ min: 1, max: 5 }), fc.constantFrom("input" as const, "output" as const), fc.integer(), (n, other, side, seed) => {
        const rng = new Rng(seed);
        const rows = side === "input" ? other : n;
        const cols = side === "input" ? n : other;
        const w = gaussian(rng, rows * cols);
        const twice = rotate(rotate(w, rows, cols, side), rows, cols, side);
        let maxAbs = 0;
        for (const v of w) maxAbs = Math.max(maxAbs, Math.abs(v));
        // Two transforms of ≤ 8 stages each: error ≲ 2·(log₂n + 1)·ε·‖v‖₂ ≤ 2·9·1.1e-16·√n·max|v| < 1e-13·max|w| for n ≤ 256.
        for (let i = 0; i < w.length; i++) expect(Math.abs(twice[i]! - w[i]!)).toBeLessThanOrEqual(1e-13 * maxAbs);
      }),
      propertyOptions(60),
    );
  });

  it("non-power-of-two sizes (12 = 4·3, 172 = 4·43, 40 = 8·5) rotate with an orthogonal block-diagonal I_m ⊗ H_b/√b", () => {
    for (const n of [12, 172, 40]) {
      const b = blockOf(n);
      const eye = new Float64Array(n * n);
      for (let i = 0; i < n; i++) eye[i * n + i] = 1;
      const h = rotate(eye, n, n, "input"); // I·H = H
      // The output side of I is Hᵀ·I = Hᵀ; H symmetric means the very same bits.
      expect(Array.from(rotate(eye, n, n, "output"))).toEqual(Array.from(h));
      // Collect the first violation per check (one expect per check keeps 172² elements fast).
      const bad: string[] = [];
      const hht = matmul(h, h, n, n, n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        const v = h[i * n + j]!;
        const sameBlock = Math.floor(i / b) === Math.floor(j / b);
        if (sameBlock ? Math.abs(v) !== 1 / Math.sqrt(b) : v !== 0) bad.push(`n=${n}: H[${i}][${j}] = ${v}`);
        if (v !== h[j * n + i]) bad.push(`n=${n}: H not symmetric at (${i}, ${j})`);
        // H·Hᵀ = H·H (symmetric) must be I; entries are sums of ≤ b products s², s = 1/√b.
        if (Math.abs(hht[i * n + j]! - (i === j ? 1 : 0)) > 1e-15) bad.push(`n=${n}: (H·Hᵀ)[${i}][${j}] = ${hht[i * n + j]}`);
      }
      expect(bad.slice(0, 5)).toEqual([]);
    }
  });

  it("rounds binary32 weights once from the float64 result", () => {
    fc.assert(
      fc.property(fc.constantFrom(...POW2, ...MIXED), fc.integer({ min: 1, max: 4 }), fc.integer(), (n, rows, seed) => {
        const w32 = Float32Array.from(gaussian(new Rng(seed), rows * n, 10));
        const got = runReference("hadamard_rotate", { w: tensor("f32", [rows, n], w32) }, { side: "input" }).w!;
        expect(got.dtype).toBe("f32");
        const want = rotate(Float64Array.from(w32), rows, n, "input");
        expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want, Math.fround));
      }),
      propertyOptions(40),
    );
  });

  it("n = 1 is the identity; odd n > 1 throws a ParamError naming the dimension", () => {
    const w = Float64Array.from([1.5, -2.25, 3e-300]);
    expect(Array.from(rotate(w, 3, 1, "input"))).toEqual(Array.from(w));
    expect(Array.from(rotate(w, 1, 3, "output"))).toEqual(Array.from(w));
    const odd = (r: number, c: number): Tensor => tensor("f64", [r, c], new Float64Array(r * c));
    expect(() => runReference("hadamard_rotate", { w: odd(2, 43) }, { side: "input" })).toThrowError(ParamError);
    expect(() => runReference("hadamard_rotate", { w: odd(2, 43) }, { side: "input" })).toThrowError(/C = 43 columns/);
    expect(() => runReference("hadamard_rotate", { w: odd(7, 4) }, { side: "output" })).toThrowError(/R = 7 rows/);
    // The other side's size does not matter: 7 rows with side=input rotate the 4 columns.
    expect(() => runReference("hadamard_rotate", { w: odd(7, 4) }, { side: "input" })).not.toThrow();
  });

  it("rejects NaN and infinity with a typed error naming the tensor and index", () => {
    const w = new Float64Array(8);
    w[5] = NaN;
    expect(() => runReference("hadamard_rotate", { w: tensor("f64", [2, 4], w) })).toThrowError(NonFiniteError);
    expect(() => runReference("hadamard_rotate", { w: tensor("f64", [2, 4], w) })).toThrowError(/tensor 'w'.*index 5/);
  });
});
