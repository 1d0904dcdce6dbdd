import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { NonFiniteError, propertyOptions, RangeViolationError, Rng, ShapeError, tensor, type NamedTensors } from "@qoq/core";
import { runReference } from "../src/index.js";

const caseArb = fc.record({
  n: fc.integer({ min: 1, max: 12 }),
  k: fc.integer({ min: 1, max: 48 }),
  c: fc.integer({ min: 1, max: 12 }),
  alpha: fc.double({ min: 0, max: 1, noNaN: true }),
  beta: fc.double({ min: 0, max: 1, noNaN: true }),
  seed: fc.integer(),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** Consumer W (n×k), producer prev (k×c) and activation maxima with a few outlier channels. */
function build(cs: Case) {
  const rng = new Rng(cs.seed);
  const w = Float64Array.from({ length: cs.n * cs.k }, () => rng.normal());
  const prev = Float64Array.from({ length: cs.k * cs.c }, () => rng.normal());
  // Activation outliers (×100) on some channels, ordinary magnitudes elsewhere.
  const xmax = Float32Array.from({ length: cs.k }, () => (rng.float() < 0.2 ? 100 : 1) * (0.1 + rng.float()));
  return { w, prev, xmax };
}

function run(cs: Case, b: ReturnType<typeof build>, dtype: "f32" | "f64" = "f64"): NamedTensors {
  const t = (v: Float64Array, shape: number[]) => (dtype === "f64" ? tensor("f64", shape, v) : tensor("f32", shape, Float32Array.from(v)));
  return runReference(
    "smooth_linear",
    { w: t(b.w, [cs.n, cs.k]), prev: t(b.prev, [cs.k, cs.c]), xmax: tensor("f32", [cs.k], b.xmax) },
    { alpha: cs.alpha, beta: cs.beta },
  );
}

describe("smooth_linear", () => {
  it("leaves the composition W·prev unchanged (float64, rel 1e-12 of Σ|W||prev|)", () => {
    fc.assert(
      fc.property(caseArb, (cs) => {
        const b = build(cs);
        const out = run(cs, b);
        const w2 = out.w!.data as Float64Array;
        const p2 = out.prev!.data as Float64Array;
        const bad: string[] = [];
        for (let r = 0; r < cs.n; r++) for (let i = 0; i < cs.c; i++) {
          let before = 0;
          let after = 0;
          let mag = 0;
          for (let j = 0; j < cs.k; j++) {
            before += b.w[r * cs.k + j]! * b.prev[j * cs.c + i]!;
            after += w2[r * cs.k + j]! * p2[j * cs.c + i]!;
            mag += Math.abs(b.w[r * cs.k + j]! * b.prev[j * cs.c + i]!);
          }
          // Each term gains ≤ 2 roundings (×λ, ÷λ) and the sums ≤ k each: ≈ (k + 2)·ε·Σ|W||prev| ≤ 1.1e-14·Σ for k ≤ 48.
          if (!(Math.abs(after - before) <= 1e-12 * mag)) bad.push(`(${r}, ${i}): ${before} → ${after}`);
        }
        expect(bad.slice(0, 3)).toEqual([]);
      }),
      propertyOptions(150),
    );
  });

  it("λ_j = xmax_j^α / max_n|W[n,j]|^β; W columns ×λ and prev rows ÷λ exactly", () => {
    fc.assert(
      fc.property(caseArb, (cs) => {
        const b = build(cs);
        const out = run(cs, b);
        const lambda = out.lambda!.data as Float64Array;
        const w2 = out.w!.data as Float64Array;
        const p2 = out.prev!.data as Float64Array;
        for (let j = 0; j < cs.k; j++) {
          let wmax = 0;
          for (let r = 0; r < cs.n; r++) wmax = Math.max(wmax, Math.abs(b.w[r * cs.k + j]!));
          let want = Math.pow(b.xmax[j]!, cs.alpha) / Math.pow(wmax, cs.beta);
          if (want === 0 || !Number.isFinite(want)) want = 1;
          // Math.pow is not required to be correctly rounded (the op uses sqrt at exponent 0.5): allow 2 ulp.
          expect(Math.abs(lambda[j]! - want)).toBeLessThanOrEqual(2 * Number.EPSILON * want);
          for (let r = 0; r < cs.n; r++) if (w2[r * cs.k + j] !== b.w[r * cs.k + j]! * lambda[j]!) expect.fail(`w[${r}, ${j}]`);
          for (let i = 0; i < cs.c; i++) if (p2[j * cs.c + i] !== b.prev[j * cs.c + i]! / lambda[j]!) expect.fail(`prev[${j}, ${i}]`);
        }
      }),
      propertyOptions(100),
    );
  });

  it("with α = β = 0.5 balances each channel: max|x_j|/λ_j equals max|W'[:, j]| (rel 1e-12)", () => {
    fc.assert(
      fc.property(caseArb, (cs0) => {
        const cs = { ...cs0, alpha: 0.5, beta: 0.5 };
        const b = build(cs);
        const out = run(cs, b);
        const lambda = out.lambda!.data as Float64Array;
        const w2 = out.w!.data as Float64Array;
        for (let j = 0; j < cs.k; j++) {
          let wmax = 0;
          for (let r = 0; r < cs.n; r++) wmax = Math.max(wmax, Math.abs(w2[r * cs.k + j]!));
          const xs = b.xmax[j]! / lambda[j]!;
          // Both sides are √(xmax·wmax) up to 3 roundings.
          expect(Math.abs(xs - wmax)).toBeLessThanOrEqual(1e-12 * wmax);
        }
      }),
      propertyOptions(100),
    );
  });

  it("a λ that would be 0, NaN or ∞ becomes 1 (zero xmax; all-zero weight column with β > 0)", () => {
    const w = tensor("f64", [2, 3], Float64Array.from([1, 0, 2, -4, 0, 8]));
    const prev = tensor("f64", [3, 1], Float64Array.from([3, 5, 7]));
    const xmax = tensor("f32", [3], Float32Array.from([0, 4, 16]));
    const out = runReference("smooth_linear", { w, prev, xmax }, { alpha: 0.5, beta: 0.5 });
    // j=0: 0/2 = 0 → 1; j=1: 2/0 = ∞ → 1; j=2: 4/√8.
    expect(Array.from(out.lambda!.data as Float64Array)).toEqual([1, 1, 4 / Math.sqrt(8)]);
    expect(Array.from(out.prev!.data as Float64Array)).toEqual([3, 5, 7 / (4 / Math.sqrt(8))]);
  });

  it("returns binary32 weights rounded once from the float64 result", () => {
    fc.assert(
      fc.property(caseArb, (cs) => {
        const b0 = build(cs);
        const b = { ...b0, w: Float64Array.from(Float32Array.from(b0.w)), prev: Float64Array.from(Float32Array.from(b0.prev)) };
        const o32 = run(cs, b, "f32");
        const o64 = run(cs, b, "f64");
        expect(o32.w!.dtype).toBe("f32");
        expect(o32.prev!.dtype).toBe("f32");
        expect(Array.from(o32.w!.data as Float32Array)).toEqual(Array.from(o64.w!.data as Float64Array, Math.fround));
        expect(Array.from(o32.prev!.data as Float32Array)).toEqual(Array.from(o64.prev!.data as Float64Array, Math.fround));
      }),
      propertyOptions(40),
    );
  });

  it("rejects bad shapes and values with typed errors naming the tensor and index", () => {
    const z = (r: number, c: number) => tensor("f64", [r, c], new Float64Array(r * c).fill(1));
    const xm = (k: number) => tensor("f32", [k], new Float32Array(k).fill(1));
    const sl = (inputs: NamedTensors) => () => runReference("smooth_linear", inputs);
    // prev must have exactly K rows.
    expect(sl({ w: z(2, 4), prev: z(3, 5), xmax: xm(4) })).toThrowError(ShapeError);
    expect(sl({ w: z(2, 4), prev: z(4, 5), xmax: xm(3) })).toThrowError(ShapeError);
    const nanPrev = z(4, 5);
    (nanPrev.data as Float64Array)[7] = NaN;
    expect(sl({ w: z(2, 4), prev: nanPrev, xmax: xm(4) })).toThrowError(NonFiniteError);
    expect(sl({ w: z(2, 4), prev: nanPrev, xmax: xm(4) })).toThrowError(/tensor 'prev'.*index 7/);
    const infX = xm(4);
    (infX.data as Float32Array)[1] = Infinity;
    expect(sl({ w: z(2, 4), prev: z(4, 5), xmax: infX })).toThrowError(/tensor 'xmax'.*index 1/);
    const negX = xm(4);
    (negX.data as Float32Array)[3] = -0.5;
    expect(sl({ w: z(2, 4), prev: z(4, 5), xmax: negX })).toThrowError(RangeViolationError);
    expect(sl({ w: z(2, 4), prev: z(4, 5), xmax: negX })).toThrowError(/tensor 'xmax'.*index 3/);
  });
});
