import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { NonFiniteError, propertyOptions, RangeViolationError, Rng, ShapeError, tensor } from "@qoq/core";
import { runReference } from "../src/index.js";

const caseArb = fc.record({
  n: fc.integer({ min: 1, max: 8 }),
  k: fc.integer({ min: 1, max: 64 }),
  c: fc.integer({ min: 1, max: 8 }),
  // Few distinct maxima force ties, which must keep index order.
  levels: fc.integer({ min: 1, max: 6 }),
  seed: fc.integer(),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** Integer-valued weights: every product and sum below is exact in float64, so orders cannot matter. */
function build(cs: Case) {
  const rng = new Rng(cs.seed);
  const w = Float64Array.from({ length: cs.n * cs.k }, () => rng.int(-1000, 1000));
  const prev = Float64Array.from({ length: cs.k * cs.c }, () => rng.int(-1000, 1000));
  // Some zeros are −0: it ties with +0 (a maximum of absolute values may be either).
  const xmax = Float32Array.from({ length: cs.k }, () => {
    const v = rng.int(0, cs.levels - 1) * 0.75;
    return v === 0 && rng.float() < 0.5 ? -0 : v;
  });
  return { w, prev, xmax };
}

/** An independent stable sort: insertion sort by xmax, moving an element only past strictly larger ones. */
function insertionOrder(xmax: Float32Array): number[] {
  const idx: number[] = [];
  for (let i = 0; i < xmax.length; i++) {
    let p = idx.length;
    while (p > 0 && xmax[idx[p - 1]!]! > xmax[i]!) p--;
    idx.splice(p, 0, i);
  }
  return idx;
}

describe("reorder_channels", () => {
  it("perm is the stable ascending order of xmax (ties by index), a permutation of 0 … K−1", () => {
    fc.assert(
      fc.property(caseArb, (cs) => {
        const b = build(cs);
        const out = runReference("reorder_channels", { w: tensor("f64", [cs.n, cs.k], b.w), xmax: tensor("f32", [cs.k], b.xmax) });
        const perm = Array.from(out.perm!.data as Int32Array);
        expect(out.perm!.dtype).toBe("i32");
        expect([...perm].sort((a, c) => a - c)).toEqual(Array.from({ length: cs.k }, (_, i) => i));
        for (let j = 1; j < cs.k; j++) {
          const a = b.xmax[perm[j - 1]!]!;
          const c = b.xmax[perm[j]!]!;
          expect(a <= c).toBe(true);
          if (a === c) expect(perm[j - 1]! < perm[j]!).toBe(true);
        }
        expect(perm).toEqual(insertionOrder(b.xmax));
        expect(out.prev).toBeUndefined();
      }),
      propertyOptions(150),
    );
  });

  it("moves W's columns and prev's rows by perm, bit for bit, and keeps W·prev exactly", () => {
    fc.assert(
      fc.property(caseArb, fc.constantFrom("f32" as const, "f64" as const), (cs, dtype) => {
        const b = build(cs);
        const mk = (v: Float64Array, shape: number[]) => (dtype === "f64" ? tensor("f64", shape, v) : tensor("f32", shape, Float32Array.from(v)));
        const out = runReference("reorder_channels", { w: mk(b.w, [cs.n, cs.k]), xmax: tensor("f32", [cs.k], b.xmax), prev: mk(b.prev, [cs.k, cs.c]) });
        expect(out.w!.dtype).toBe(dtype);
        expect(out.prev!.dtype).toBe(dtype);
        const perm = out.perm!.data as Int32Array;
        const w2 = out.w!.data as Float32Array | Float64Array;
        const p2 = out.prev!.data as Float32Array | Float64Array;
        for (let r = 0; r < cs.n; r++) for (let j = 0; j < cs.k; j++) if (w2[r * cs.k + j] !== b.w[r * cs.k + perm[j]!]) expect.fail(`w[${r}, ${j}]`);
        for (let j = 0; j < cs.k; j++) for (let i = 0; i < cs.c; i++) if (p2[j * cs.c + i] !== b.prev[perm[j]! * cs.c + i]) expect.fail(`prev[${j}, ${i}]`);
        // Integer data with |w|, |prev| ≤ 1000 and k ≤ 64: every partial sum is an integer below 2^53,
        // so float64 sums are exact in any order and the check can be exact equality.
        for (let r = 0; r < cs.n; r++) for (let i = 0; i < cs.c; i++) {
          let before = 0;
          let after = 0;
          for (let j = 0; j < cs.k; j++) {
            before += b.w[r * cs.k + j]! * b.prev[j * cs.c + i]!;
            after += w2[r * cs.k + j]! * p2[j * cs.c + i]!;
          }
          expect(after).toBe(before);
        }
      }),
      propertyOptions(100),
    );
  });

  it("copies non-integer values unchanged (no arithmetic on the data)", () => {
    const w = Float32Array.from([0.1, -3e-40, 1e30, 7]);
    const out = runReference("reorder_channels", { w: tensor("f32", [1, 4], w), xmax: tensor("f32", [4], Float32Array.from([3, 0, 2, 0])) });
    expect(Array.from(out.perm!.data as Int32Array)).toEqual([1, 3, 2, 0]);
    expect(Array.from(out.w!.data as Float32Array)).toEqual([w[1], w[3], w[2], w[0]]);
  });

  it("rejects bad shapes and values with typed errors naming the tensor and index", () => {
    const w = tensor("f64", [2, 3], new Float64Array(6));
    const xm = (v: number[]) => tensor("f32", [v.length], Float32Array.from(v));
    const ro = (inputs: Parameters<typeof runReference>[1]) => () => runReference("reorder_channels", inputs);
    expect(ro({ w, xmax: xm([1, 2]) })).toThrowError(ShapeError);
    expect(ro({ w, xmax: xm([1, 2, 3]), prev: tensor("f64", [2, 4], new Float64Array(8)) })).toThrowError(ShapeError);
    expect(ro({ w, xmax: xm([1, NaN, 3]) })).toThrowError(NonFiniteError);
    expect(ro({ w, xmax: xm([1, NaN, 3]) })).toThrowError(/tensor 'xmax'.*index 1/);
    expect(ro({ w, xmax: xm([1, 2, -3]) })).toThrowError(RangeViolationError);
    expect(ro({ w, xmax: xm([1, 2, -3]) })).toThrowError(/tensor 'xmax'.*index 2/);
    const nanW = tensor("f64", [2, 3], Float64Array.from([0, 0, 0, 0, Infinity, 0]));
    expect(ro({ w: nanW, xmax: xm([1, 2, 3]) })).toThrowError(/tensor 'w'.*index 4/);
  });
});
