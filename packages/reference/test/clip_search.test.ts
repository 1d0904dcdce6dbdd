import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f16, NonFiniteError, propertyOptions, rne, Rng, ShapeError, tensor } from "@qoq/core";
import { runReference } from "../src/index.js";
import { quantizeWeightRowChn } from "../src/ops/quant_weight_chn.js";

/** The test's own ratio-1 per-channel UINT4 quantizer, straight from DESIGN.md §3.5; returns ŵ. */
function dequantRatio1(w: Float32Array, off: number, k: number): Float64Array {
  let vmax = 0;
  let vmin = 0;
  for (let i = 0; i < k; i++) {
    vmax = Math.max(vmax, w[off + i]!);
    vmin = Math.min(vmin, w[off + i]!);
  }
  const s = f16(Math.fround(Math.fround(vmax - vmin) / 15));
  const out = new Float64Array(k);
  if (s === 0) return out;
  const z = Math.min(15, Math.max(0, rne(Math.fround(-vmin / s))));
  for (let i = 0; i < k; i++) out[i] = s * (Math.min(15, Math.max(0, rne(Math.fround(w[off + i]! / s)) + z)) - z);
  return out;
}

/** ŵ of a row at `ratio` through the shared quantizer (what the op must be using). */
function dequantAt(w: Float32Array, off: number, k: number, ratio: number): Float64Array {
  const q = new Uint8Array(off + k);
  const { scale, zero } = quantizeWeightRowChn(w, off, k, ratio, q);
  return Float64Array.from({ length: k }, (_, i) => scale * (q[off + i]! - zero));
}

/** (1/T)·Σ_t (Σ_k x[t,k]·(w_k − ŵ_k))², float64, natural order. */
function outputErr(x: Float32Array, t: number, k: number, w: Float32Array, off: number, what: Float64Array): number {
  let total = 0;
  for (let tok = 0; tok < t; tok++) {
    let dot = 0;
    for (let i = 0; i < k; i++) dot += x[tok * k + i]! * (w[off + i]! - what[i]!);
    total += dot * dot;
  }
  return total / t;
}

function candidates(grid: number, maxShrink: number): number[] {
  return [1, ...Array.from({ length: grid }, (_, i) => Math.fround(1 - ((i + 1) * maxShrink) / grid))];
}

function search(w: Float32Array, x: Float32Array, n: number, k: number, t: number, grid: number, maxShrink: number) {
  const out = runReference("clip_search", { w: tensor("f32", [n, k], w), x: tensor("f32", [t, k], x) }, { grid, max_shrink: maxShrink });
  return { ratio: out.ratio!.data as Float32Array, err: out.err!.data as Float64Array };
}

const caseArb = fc.record({
  n: fc.integer({ min: 1, max: 4 }),
  k: fc.integer({ min: 1, max: 40 }),
  t: fc.integer({ min: 1, max: 8 }),
  grid: fc.integer({ min: 1, max: 24 }),
  maxShrink: fc.double({ min: 0, max: 0.99, noNaN: true }),
  seed: fc.integer(),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function build(cs: Case) {
  const rng = new Rng(cs.seed);
  // Gaussian rows, some with one outlier weight; inputs that sometimes never touch a channel.
  const w = Float32Array.from({ length: cs.n * cs.k }, () => rng.normal() * (rng.float() < 0.05 ? 20 : 1));
  const dead = Array.from({ length: cs.k }, () => rng.float() < 0.2);
  const x = Float32Array.from({ length: cs.t * cs.k }, (_, i) => (dead[i % cs.k] ? 0 : rng.normal()));
  return { w, x };
}

describe("clip_search", () => {
  it("never does worse than no clipping: err ≤ the independently recomputed ratio-1 error, ratio in [1 − max_shrink, 1]", () => {
    fc.assert(
      fc.property(caseArb, (cs) => {
        const { w, x } = build(cs);
        const got = search(w, x, cs.n, cs.k, cs.t, cs.grid, cs.maxShrink);
        const cands = candidates(cs.grid, cs.maxShrink);
        for (let r = 0; r < cs.n; r++) {
          const err1 = outputErr(x, cs.t, cs.k, w, r * cs.k, dequantRatio1(w, r * cs.k, cs.k));
          expect(got.err[r]!).toBeLessThanOrEqual(err1);
          expect(got.ratio[r]!).toBeLessThanOrEqual(1);
          // The last candidate is f32(1 − grid·s/grid): within a binary32 ulp (2^-24 near 1) of 1 − s.
          expect(got.ratio[r]!).toBeGreaterThanOrEqual(1 - cs.maxShrink - 2 ** -23);
          expect(cands).toContain(got.ratio[r]);
        }
      }),
      propertyOptions(100),
    );
  });

  it("returns the first minimizer over 1, f32(1 − i·s/grid): brute force over every candidate agrees exactly", () => {
    fc.assert(
      fc.property(caseArb, (cs) => {
        const { w, x } = build(cs);
        const got = search(w, x, cs.n, cs.k, cs.t, cs.grid, cs.maxShrink);
        for (let r = 0; r < cs.n; r++) {
          let best = Infinity;
          let bestRatio = NaN;
          for (const c of candidates(cs.grid, cs.maxShrink)) {
            const e = outputErr(x, cs.t, cs.k, w, r * cs.k, dequantAt(w, r * cs.k, cs.k, c));
            if (e < best) {
              best = e;
              bestRatio = c;
            }
          }
          expect(got.err[r]).toBe(best);
          expect(got.ratio[r]).toBe(bestRatio);
        }
      }),
      propertyOptions(60),
    );
  });

  it("clips a row with one huge outlier whose channel the inputs rarely hit (default grid 80, max_shrink 0.8)", () => {
    const rng = new Rng(7);
    const k = 64;
    const t = 32;
    const w = Float32Array.from({ length: k }, () => rng.normal() * 0.5);
    w[5] = 40;
    // Channel 5 is touched by one token, weakly: its clipping error costs little, the finer grid gains a lot.
    const x = Float32Array.from({ length: t * k }, (_, i) => (i % k === 5 ? (i === 5 ? 0.01 : 0) : rng.normal()));
    const got = search(w, x, 1, k, t, 80, 0.8);
    const err1 = outputErr(x, t, k, w, 0, dequantRatio1(w, 0, k));
    expect(got.ratio[0]!).toBeLessThan(1);
    expect(candidates(80, 0.8)).toContain(got.ratio[0]);
    // Clipping also shrinks the (small) negative side of the range, so the gain is bounded; here it halves the error.
    expect(got.err[0]!).toBeLessThan(0.75 * err1);
  });

  it("quantizes with the binary32-rounded candidate f32(1 − i·s/grid), not the float64 value", () => {
    // grid 1, max_shrink 0.3: the only shrunk candidate is f32(0.7) = 0.699999988…, not 0.7.
    const r64 = 1 - 0.3;
    const r32 = Math.fround(r64);
    const k = 9;
    const rng = new Rng(11);
    const row = Float32Array.from({ length: k }, (_, i) => (i === 0 ? 0 : 0.05 + 0.1 * rng.float()));
    // The row's range is [0, row[0]]: scale = f16(f32(f32(row[0]·r) / 15)).
    const scaleAt = (r: number) => f16(Math.fround(Math.fround(row[0]! * r) / 15));
    // Put the scaled range on a binary16 tie that rounds up (odd k: the upper neighbour is even), so the
    // half-ulp difference between r32 and r64 flips the scale; try the f32 neighbours of each such point.
    search: for (let k2 = 1; k2 < 1024; k2 += 2) {
      const tie = 2 ** -4 * (1 + (k2 + 0.5) / 1024);
      const v0 = Math.fround((15 * tie) / r64);
      for (const v of [v0, Math.fround(v0 * (1 - 2 ** -24)), Math.fround(v0 * (1 + 2 ** -23))]) {
        row[0] = v;
        if (scaleAt(r32) !== scaleAt(r64)) break search;
      }
    }
    expect(scaleAt(r32)).not.toBe(scaleAt(r64)); // the case is a real discriminator
    // Inputs never touch the outlier channel, so the finer shrunk grid wins.
    const t = 6;
    const x = Float32Array.from({ length: t * k }, (_, i) => (i % k === 0 ? 0 : rng.normal()));
    const got = search(row, x, 1, k, t, 1, 0.3);
    expect(got.ratio[0]).toBe(r32);
    expect(got.err[0]).toBe(outputErr(x, t, k, row, 0, dequantAt(row, 0, k, r32)));
    expect(got.err[0]).not.toBe(outputErr(x, t, k, row, 0, dequantAt(row, 0, k, r64)));
  });

  it("ties keep the earlier, larger ratio: zero inputs or an all-zero row give ratio 1", () => {
    const rng = new Rng(3);
    const w = Float32Array.from({ length: 3 * 16 }, () => rng.normal());
    w.fill(0, 16, 32); // row 1 all zero
    const zeroX = search(w, new Float32Array(4 * 16), 3, 16, 4, 10, 0.5);
    expect(Array.from(zeroX.ratio)).toEqual([1, 1, 1]);
    expect(Array.from(zeroX.err)).toEqual([0, 0, 0]);
    const x = Float32Array.from({ length: 4 * 16 }, () => rng.normal());
    expect(search(w, x, 3, 16, 4, 10, 0.5).ratio[1]).toBe(1);
  });

  it("rejects bad shapes and values with typed errors naming the tensor and index", () => {
    const w = tensor("f32", [2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]));
    const cs = (x: Float32Array, t: number, k = 3) => () => runReference("clip_search", { w, x: tensor("f32", [t, k], x) });
    expect(cs(new Float32Array(0), 0)).toThrowError(ShapeError);
    expect(cs(new Float32Array(0), 0)).toThrowError(/T = 0/);
    expect(cs(new Float32Array(4), 1, 4)).toThrowError(ShapeError);
    expect(cs(Float32Array.from([1, NaN, 3]), 1)).toThrowError(NonFiniteError);
    expect(cs(Float32Array.from([1, NaN, 3]), 1)).toThrowError(/tensor 'x'.*index 1/);
    const bad = tensor("f32", [2, 3], Float32Array.from([1, 2, 3, 4, -Infinity, 6]));
    expect(() => runReference("clip_search", { w: bad, x: tensor("f32", [1, 3], new Float32Array(3)) })).toThrowError(/tensor 'w'.*index 4/);
  });
});
