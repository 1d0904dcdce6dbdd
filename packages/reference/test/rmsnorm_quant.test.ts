import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f16round } from "@petamoriken/float16";
import { bytesEqual, fromF16Bits, fromNumbers, NonFiniteError, OverflowError, propertyOptions, toF16Bits } from "@qoq/core";
import { runReference } from "../src/index.js";

const f16Value = fc.integer({ min: 0, max: 0xffff }).filter((b) => (b & 0x7c00) !== 0x7c00).map(fromF16Bits);
const smallValue = fc.float({ min: -4, max: 4, noNaN: true }).map((x) => f16round(Math.fround(x)));

/** Independent binary32 rounding through a Float32Array store. */
const F = new Float32Array(1);
const r32 = (v: number): number => ((F[0] = v), F[0]!);

/**
 * Independent restatement of the R32 order: 32 lane accumulators in a Float32Array (every store
 * rounds), lane l takes terms l, l+32, …; then lanes are folded in halves (l += l + half for
 * half = 16, 8, 4, 2, 1), which is what the xor-butterfly leaves in lane 0.
 */
function sumR32Indep(terms: number[]): number {
  const lanes = new Float32Array(32);
  terms.forEach((t, i) => (lanes[i % 32] = lanes[i % 32]! + t));
  for (let half = 16; half >= 1; half /= 2) for (let l = 0; l < half; l++) lanes[l] = lanes[l]! + lanes[l + half]!;
  return lanes[0]!;
}

/** The pinned RMSNorm of one row, restated with Float32Array stores and f16round. */
function rmsnormIndep(x: number[], gamma: number[], eps: number): number[] {
  const ss = sumR32Indep(x.map((v) => r32(v * v)));
  const den = r32(r32(ss / x.length) + r32(eps));
  if (den === 0) return x.map(() => 0);
  const r = r32(1 / r32(Math.sqrt(den)));
  return x.map((v, k) => f16round(r32(r32(v * r) * gamma[k]!)));
}

const case_ = fc
  .record({ m: fc.integer({ min: 1, max: 4 }), k: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constant(256)), eps: fc.constantFrom(1e-5, 1e-6, 0) })
  .chain(({ m, k, eps }) =>
    fc.record({
      m: fc.constant(m),
      k: fc.constant(k),
      eps: fc.constant(eps),
      x: fc.oneof(
        fc.array(smallValue, { minLength: m * k, maxLength: m * k }),
        fc.array(f16Value, { minLength: m * k, maxLength: m * k }),
        fc.constant(new Array<number>(m * k).fill(0)),
      ),
      gamma: fc.array(smallValue, { minLength: k, maxLength: k }),
    }),
  );

const run = (m: number, k: number, x: number[], gamma: number[], eps: number) =>
  runReference("rmsnorm_quant", { x: fromNumbers("f16", [m, k], x), gamma: fromNumbers("f16", [k], gamma) }, { eps });

describe("rmsnorm_quant", () => {
  it("y matches an independent restatement, including the R32 order of the sum of squares", () => {
    fc.assert(
      fc.property(case_, ({ m, k, x, gamma, eps }) => {
        const y = run(m, k, x, gamma, eps).y!.data as Uint16Array;
        for (let r = 0; r < m; r++) {
          const want = rmsnormIndep(x.slice(r * k, r * k + k), gamma, eps).map((v) => toF16Bits(v));
          expect(Array.from(y.subarray(r * k, r * k + k))).toEqual(want);
        }
      }),
      propertyOptions(150),
    );
  });

  it("the R32 order is observable: a sequential sum gives other output bits on this row", () => {
    // x0² = 2^26 (binary32 spacing 8 there), then 2047 squares in [2.25, 4): a left-to-right sum
    // drops every one of them, R32's 31 other lanes keep them, and ~5% of the outputs change.
    const k = 2048;
    const x = [8192, ...Array.from({ length: k - 1 }, (_, i) => f16round(1.5 + (i % 500) / 1000))];
    const gamma = new Array<number>(k).fill(1);
    const y = Array.from(run(1, k, x, gamma, 0).y!.data as Uint16Array);
    expect(y).toEqual(rmsnormIndep(x, gamma, 0).map((v) => toF16Bits(v)));
    let seq = 0;
    for (const v of x) seq = r32(seq + r32(v * v));
    const r = r32(1 / r32(Math.sqrt(r32(seq / k))));
    const ySeq = x.map((v) => toF16Bits(f16round(r32(v * r))));
    expect(ySeq.filter((b, i) => b !== y[i]).length).toBeGreaterThan(10); // the row really separates the orders
  });

  it("the square root is rounded to binary32 before the division (a row where that decides an output bit)", () => {
    const x = [1.0224609375, 1.5517578125];
    const gamma = [-2.537109375, -4.48046875];
    const y = Array.from(run(1, 2, x, gamma, 1e-5).y!.data as Uint16Array);
    expect(y).toEqual(rmsnormIndep(x, gamma, 1e-5).map((v) => toF16Bits(v)));
    const den = r32(r32(sumR32Indep(x.map((v) => r32(v * v))) / 2) + r32(1e-5));
    const rUnrounded = r32(1 / Math.sqrt(den));
    expect(x.map((v, k) => toF16Bits(f16round(r32(r32(v * rUnrounded) * gamma[k]!))))).not.toEqual(y); // the row separates them
  });

  it("q, scale and qsum are exactly quant_act_int8 of the fp16 output y", () => {
    fc.assert(
      fc.property(case_, ({ m, k, x, gamma, eps }) => {
        const out = run(m, k, x, gamma, eps);
        const ref = runReference("quant_act_int8", { x: out.y! });
        expect(bytesEqual(out.q!, ref.q!)).toBe(true);
        expect(bytesEqual(out.scale!, ref.scale!)).toBe(true);
        expect(bytesEqual(out.qsum!, ref.qsum!)).toBe(true);
      }),
      propertyOptions(100),
    );
  });

  it("an all-zero row with eps = 0 gives zeros (no NaN); with eps > 0 it gives zeros too", () => {
    for (const eps of [0, 1e-5]) {
      const out = run(2, 4, [0, 0, 0, 0, 1, 2, 3, 4], [1, 1, 1, 1], eps);
      expect(Array.from((out.y!.data as Uint16Array).subarray(0, 4)).map(fromF16Bits)).toEqual([0, 0, 0, 0]);
      expect(Array.from((out.q!.data as Int8Array).subarray(0, 4))).toEqual([0, 0, 0, 0]);
      expect((out.scale!.data as Uint16Array)[0]).toBe(0);
    }
  });

  it("reports an fp16 overflow of y (large γ) as a typed error naming 'y'", () => {
    // |x·r| = √K·… for a one-hot row; with K = 4, x·r = 2 and γ = 60000 the output is 120000 > 65504.
    expect(() => run(1, 4, [0, 0, 5, 0], [1, 1, 60000, 1], 0)).toThrowError(OverflowError);
    expect(() => run(1, 4, [0, 0, 5, 0], [1, 1, 60000, 1], 0)).toThrowError(/'y' at flat index 2/);
  });

  it("rejects NaN and infinity naming the tensor and index", () => {
    const x = fromNumbers("f16", [1, 3], [1, 2, 3]);
    const gamma = fromNumbers("f16", [3], [1, 1, 1]);
    (x.data as Uint16Array)[1] = 0xfc00;
    expect(() => runReference("rmsnorm_quant", { x, gamma })).toThrowError(NonFiniteError);
    expect(() => runReference("rmsnorm_quant", { x, gamma })).toThrowError(/tensor 'x'.*index 1/);
    const x2 = fromNumbers("f16", [1, 3], [1, 2, 3]);
    (gamma.data as Uint16Array)[2] = 0x7e00;
    expect(() => runReference("rmsnorm_quant", { x: x2, gamma })).toThrowError(/tensor 'gamma'.*index 2/);
  });
});
