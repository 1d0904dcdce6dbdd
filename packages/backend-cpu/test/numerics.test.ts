/**
 * The scalar building blocks against core's definitions: f32 → f16 rounding, the canonical
 * exponential, round-half-even, the R32 butterfly. (f32ToF16Bits was also checked on all 2^32
 * binary32 bit patterns and expFast on a dense sweep, see the README; these are the PR-tier checks.)
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { butterflyR32, expCanon, fromF16Bits, rne, toF16Bits } from "@qoq/core";
import { butterfly, decodeF16, expFast, f16Of32, f32ToF16Bits, rneSmall } from "../src/index.js";
import { SEED } from "./setup.js";

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
const fromBits = (b: number): number => {
  U32[0] = b >>> 0;
  return F32[0]!;
};
const bitsOf = (x: number): number => {
  F32[0] = x;
  return U32[0]!;
};
const runs = { numRuns: 20_000, seed: SEED };

describe("f32ToF16Bits equals core's toF16Bits on binary32 inputs", () => {
  it("on every binary16 value, every midpoint between neighbours, and the binary32 values next to them", () => {
    const bad: number[] = [];
    for (let h = 0; h < 0x7c00; h++) {
      for (const sign of [0, 0x80000000]) {
        const v = fromF16Bits(h);
        const next = fromF16Bits(h + 1); // h + 1 = 0x7c00 is +∞: the midpoint 65520 still is a binary32 value
        const mid = h === 0x7bff ? 65520 : (v + next) / 2; // binary32-exact: binary16 midpoints have 12 significant bits
        for (const x of [v, mid]) {
          const b = bitsOf(x);
          for (const nb of [b - 1, b, b + 1]) {
            if (nb < 0) continue;
            const y = fromBits(nb | sign);
            if (f32ToF16Bits(y) !== toF16Bits(y)) bad.push(y);
          }
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it("on random binary32 bit patterns (NaN, ±∞, subnormals included)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (b) => {
        const x = fromBits(b);
        return f32ToF16Bits(x) === toF16Bits(x);
      }),
      runs,
    );
  });

  it("rounds any double to binary32 first (it is toF16Bits(fround(x)))", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: false }), (x) => f32ToF16Bits(x) === toF16Bits(Math.fround(x)) && Object.is(f16Of32(x), fromF16Bits(toF16Bits(Math.fround(x))))),
      runs,
    );
  });

  it("decodeF16 is fromF16Bits", () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const got = decodeF16(all);
    const bad = Array.from(got).filter((v, h) => !Object.is(v, fromF16Bits(h)));
    expect(bad).toEqual([]);
  });
});

describe("expFast equals core's expCanon", () => {
  it("on every binary16 input", () => {
    const bad: number[] = [];
    for (let h = 0; h < 65536; h++) if (!Object.is(expFast(fromF16Bits(h)), expCanon(fromF16Bits(h)))) bad.push(h);
    expect(bad).toEqual([]);
  });

  it("on random binary32 inputs in [−90, 90], at the cut-offs and on random bit patterns", () => {
    for (const x of [-86, -86.00001, -85.99999, 88, 88.00001, 87.99999, 0, -0, -1e-30, 1e-30]) expect(Object.is(expFast(x), expCanon(x))).toBe(true);
    fc.assert(fc.property(fc.float({ min: -90, max: 90, noNaN: true }), (x) => Object.is(expFast(x), expCanon(x))), runs);
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (b) => Object.is(expFast(fromBits(b)), expCanon(fromBits(b)))), runs);
  });
});

describe("rneSmall and butterfly", () => {
  it("rneSmall is rne up to the sign of a zero", () => {
    const halves = fc.integer({ min: -1_000_000, max: 1_000_000 }).map((i) => i / 2);
    fc.assert(fc.property(fc.oneof(halves, fc.double({ min: -(2 ** 50), max: 2 ** 50, noNaN: true })), (x) => rneSmall(x) === rne(x)), runs);
  });

  it("butterfly over the first `active` lanes equals butterflyR32 over 32 lanes with +0 after them", () => {
    const lane = fc.oneof(fc.constant(0), fc.float({ noNaN: true, noDefaultInfinity: true }).map((x) => x + 0));
    fc.assert(
      fc.property(fc.array(lane, { minLength: 0, maxLength: 32 }), fc.array(fc.float(), { minLength: 32, maxLength: 32 }), (vals, junk) => {
        const want = new Float64Array(32);
        want.set(vals);
        // Lanes at and after `active` hold junk: butterfly must not read it as anything but +0.
        const got = Float64Array.from(junk);
        got.set(vals);
        const base = new Float64Array(40);
        base.set(got, 5);
        return Object.is(butterfly(base, 5, vals.length), butterflyR32(want));
      }),
      { numRuns: 5000, seed: SEED },
    );
  });
});
