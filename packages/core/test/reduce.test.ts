/**
 * The canonical R32 reduction (reduce.ts). Oracle: an independent re-implementation of the
 * documented order written differently (lane-major strided loops, a full 32-lane xor-butterfly
 * into fresh arrays, every add rounded by a Float32Array store), plus hand-built inputs on which
 * other summation orders give different bits.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { butterflyR32, maxAbs, propertyOptions, R32_BUTTERFLY, R32_LANES, sumInt, sumR32 } from "../src/index.js";

/** R32 as DESIGN.md §3 rule 3 documents it. Returns lane 0 and checks that all 32 lanes agree. */
function r32Ref(xs: ArrayLike<number>): number {
  const n = xs.length;
  let lanes = new Float32Array(32); // +0 everywhere
  for (let l = 0; l < 32; l++) {
    for (let i = l; i < n; i += 32) lanes[l] = lanes[l]! + xs[i]!; // the store rounds to binary32
  }
  for (const off of [16, 8, 4, 2, 1]) {
    const next = new Float32Array(32);
    for (let l = 0; l < 32; l++) next[l] = lanes[l]! + lanes[l ^ off]!;
    lanes = next;
  }
  for (let l = 1; l < 32; l++) {
    const a = lanes[0]!;
    const b = lanes[l]!;
    if (!(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)))) throw new Error(`lane ${l} = ${b} differs from lane 0 = ${a}`);
  }
  return lanes[0]!;
}

/** Other plausible orders a backend might use by mistake. */
const naiveF32 = (xs: ArrayLike<number>): number => {
  const acc = new Float32Array(1);
  for (let i = 0; i < xs.length; i++) acc[0] = acc[0]! + xs[i]!;
  return acc[0]!;
};
const f64ThenRound = (xs: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return Math.fround(s);
};
/** Strided lanes, but the butterfly offsets in the opposite order (1, 2, 4, 8, 16). */
const reversedButterfly = (xs: ArrayLike<number>): number => {
  const lanes = new Float32Array(32);
  for (let i = 0; i < xs.length; i++) lanes[i % 32] = lanes[i % 32]! + xs[i]!;
  for (const off of [1, 2, 4, 8, 16]) for (let l = 0; l < 32; l++) if ((l & off) === 0) lanes[l] = lanes[l]! + lanes[l + off]!;
  return lanes[0]!;
};
/** 32 lanes over contiguous blocks instead of strided elements. */
const blockedLanes = (xs: ArrayLike<number>): number => {
  const lanes = new Float32Array(32);
  const per = Math.ceil(xs.length / 32);
  for (let i = 0; i < xs.length; i++) {
    const l = Math.floor(i / per);
    lanes[l] = lanes[l]! + xs[i]!;
  }
  for (const off of [16, 8, 4, 2, 1]) for (let l = 0; l < off; l++) lanes[l] = lanes[l]! + lanes[l + off]!;
  return lanes[0]!;
};

const same = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
const sumOf = (xs: Float32Array): number => sumR32(xs.length, (i) => xs[i]!);

describe("sumR32", () => {
  it("documents 32 lanes and the butterfly offsets 16, 8, 4, 2, 1", () => {
    expect(R32_LANES).toBe(32);
    expect([...R32_BUTTERFLY]).toEqual([16, 8, 4, 2, 1]);
  });

  it("equals an independent implementation of the documented order on random binary32 arrays", () => {
    const len = fc.oneof(fc.constantFrom(0, 1, 2, 31, 32, 33, 63, 64, 65, 1000), fc.integer({ min: 0, max: 300 }));
    const value = fc.oneof(
      { weight: 4, arbitrary: fc.float({ min: -1000, max: 1000, noNaN: true }) },
      { weight: 2, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }) },
      { weight: 1, arbitrary: fc.float() },
      { weight: 2, arbitrary: fc.integer({ min: -40, max: 40 }).chain((e) => fc.integer({ min: -(2 ** 23), max: 2 ** 23 }).map((m) => Math.fround(m * 2 ** e))) },
    );
    const arr = len.chain((n) => fc.array(value, { minLength: n, maxLength: n })).map((a) => Float32Array.from(a));
    fc.assert(
      fc.property(arr, (xs) => {
        const got = sumOf(xs);
        const want = r32Ref(xs);
        expect(same(got, want), `n=${xs.length}: sumR32 = ${got}, reference = ${want}`).toBe(true);
      }),
      propertyOptions(600),
    );
  });

  it("sums of 0, 1, 31, 32, 33 and 1000 ones, and of nothing", () => {
    for (const n of [0, 1, 31, 32, 33, 1000]) expect(sumR32(n, () => 1)).toBe(n);
    expect(Object.is(sumR32(0, () => 1), 0)).toBe(true);
    // lanes start at +0, so a row of −0 sums to +0
    expect(Object.is(sumR32(5, () => -0), 0)).toBe(true);
  });

  it("rounds each term to binary32 before adding it", () => {
    expect(sumR32(1, () => 0.1)).toBe(Math.fround(0.1));
    // lane 0 gets 1 and then t = 2^-24 + 2^-60 (not a binary32). Rounded first, t is 2^-24 and
    // 1 + 2^-24 is a tie that goes back to 1; added unrounded, 1 + t lies above the tie → 1 + 2^-23.
    const t = 2 ** -24 + 2 ** -49; // 26 significant bits: fround(t) = 2^-24, while 1 + t is exact in double
    expect(sumR32(33, (i) => (i === 0 ? 1 : i === 32 ? t : 0))).toBe(1);
    expect(Math.fround(1 + t)).toBe(1 + 2 ** -23); // (the unrounded alternative really differs)
  });

  it("uses its documented order: inputs on which other orders give different bits", () => {
    // [1, 1, 2^24]: left to right is exact (2 + 2^24); R32 pairs lane 0 with lane 2 first, a tie back to 2^24.
    const a = Float32Array.from([1, 1, 2 ** 24]);
    expect(sumOf(a)).toBe(2 ** 24);
    expect(naiveF32(a)).toBe(2 ** 24 + 2);
    expect(f64ThenRound(a)).toBe(2 ** 24 + 2);

    // [2^24, 1, −2^24, 1]: R32 adds lanes (0,2) and (1,3) first: 0 + 2 = 2. Left to right: 2^24+1 → 2^24, then 0 + 1 = 1.
    const b = Float32Array.from([2 ** 24, 1, -(2 ** 24), 1]);
    expect(sumOf(b)).toBe(2);
    expect(naiveF32(b)).toBe(1);
    // the butterfly in the reverse order pairs (0,1) and (2,3) first: 2^24 + (−2^24 + 1) = 1
    expect(reversedButterfly(b)).toBe(1);

    // 64 elements: strided lanes put x0 with x32 and x1 with x33; contiguous blocks of 2 would pair x0 with x1.
    const c = new Float32Array(64);
    c[0] = 2 ** 24;
    c[1] = 1;
    c[32] = -(2 ** 24);
    c[33] = 1;
    expect(sumOf(c)).toBe(2);
    expect(blockedLanes(c)).toBe(1);
    expect(naiveF32(c)).toBe(1);

    for (const xs of [a, b, c]) expect(sumOf(xs)).toBe(r32Ref(xs));
  });

  it("on random wide-range rows, naive and f64 orders differ from R32 often (so a wrong backend order is caught)", () => {
    // a deterministic LCG so the test does not depend on the RNG under test
    let s = 12345;
    const next = (): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 2 ** 32;
    };
    let diffNaive = 0;
    let diffF64 = 0;
    let diffRev = 0;
    const rows = 50;
    for (let r = 0; r < rows; r++) {
      const xs = new Float32Array(1000);
      for (let i = 0; i < xs.length; i++) xs[i] = (next() - 0.5) * 2 ** Math.floor(next() * 20);
      const got = sumOf(xs);
      expect(got).toBe(r32Ref(xs));
      if (got !== naiveF32(xs)) diffNaive++;
      if (got !== f64ThenRound(xs)) diffF64++;
      if (got !== reversedButterfly(xs)) diffRev++;
    }
    expect(diffNaive).toBeGreaterThan(rows / 2);
    expect(diffF64).toBeGreaterThan(rows / 2);
    expect(diffRev).toBeGreaterThan(rows / 5);
  });

  it("NaN and infinities propagate as binary32 sums do", () => {
    expect(sumR32(3, (i) => [1, Infinity, 2][i]!)).toBe(Infinity);
    expect(Number.isNaN(sumR32(2, (i) => [Infinity, -Infinity][i]!))).toBe(true);
    expect(Number.isNaN(sumR32(40, (i) => (i === 37 ? NaN : 1)))).toBe(true);
    // overflow in binary32 even though the double sum is finite
    expect(sumR32(2, () => 3e38)).toBe(Infinity);
  });
});

describe("butterflyR32", () => {
  it("combines 32 lanes in the documented order and mutates its argument", () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 32, maxLength: 32 }), (vals) => {
        const lanes = Float64Array.from(vals);
        const want = r32Ref(Float32Array.from(vals)); // exactly one element per lane
        expect(same(butterflyR32(lanes), want)).toBe(true);
        expect(same(lanes[0]!, want)).toBe(true);
      }),
      propertyOptions(300),
    );
    const lanes = new Float64Array(32);
    lanes[0] = 2 ** 24;
    lanes[16] = 1;
    lanes[1] = 1;
    lanes[17] = 1;
    // offset 16: lane0 = 2^24 + 1 → 2^24 (tie), lane1 = 2; offset 1: 2^24 + 2
    expect(butterflyR32(lanes)).toBe(2 ** 24 + 2);
  });
});

describe("sumInt and maxAbs", () => {
  it("sumInt is the exact integer sum", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 200 }), (xs) => {
        let want = 0n;
        for (const x of xs) want += BigInt(x);
        expect(sumInt(xs.length, (i) => xs[i]!)).toBe(Number(want));
      }),
      propertyOptions(300),
    );
    expect(sumInt(0, () => 1)).toBe(0);
  });

  it("maxAbs is the largest magnitude, 0 for an empty row", () => {
    expect(maxAbs(0, () => 5)).toBe(0);
    expect(maxAbs(3, (i) => [-3, 2, 1][i]!)).toBe(3);
    expect(maxAbs(2, (i) => [-0, 0][i]!)).toBe(0);
    expect(maxAbs(2, (i) => [1, -Infinity][i]!)).toBe(Infinity);
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true }), { maxLength: 100 }), (xs) => {
        const want = xs.reduce((m, x) => (Math.abs(x) > m ? Math.abs(x) : m), 0);
        expect(maxAbs(xs.length, (i) => xs[i]!)).toBe(want);
      }),
      propertyOptions(300),
    );
  });
});
