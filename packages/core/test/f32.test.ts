/**
 * binary32 arithmetic (f32.ts). Oracle: storing the double result into a Float32Array (the
 * engine's own IEEE conversion), hand-computed roundings, and bit patterns read through a
 * Float32Array/Uint32Array pair.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  add32,
  div32,
  f32,
  F32_MAX,
  F32_MIN_NORMAL,
  fromF32Bits,
  mul32,
  propertyOptions,
  sqrt32,
  sub32,
  toF32Bits,
  ulpDistance32,
} from "../src/index.js";

const store = new Float32Array(1);
const storeBits = new Uint32Array(store.buffer);
/** Round through a Float32Array store. */
const st = (x: number): number => {
  store[0] = x;
  return store[0]!;
};
const bitsOf = (x: number): number => {
  store[0] = x;
  return storeBits[0]!;
};
const fromBits = (b: number): number => {
  storeBits[0] = b >>> 0;
  return store[0]!;
};
const same = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

/** Any binary32 value: random bit patterns (NaNs, infinities, subnormals, ±0 included) and ordinary floats. */
const anyF32 = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }).map(fromBits),
  fc.float(),
  fc.float({ min: -1e6, max: 1e6, noNaN: true }),
  fc.constantFrom(0, -0, 1, -1, F32_MAX, -F32_MAX, 2 ** -149, -(2 ** -149), F32_MIN_NORMAL, Infinity, -Infinity, NaN),
);

describe("binary32 operations", () => {
  it("add32/sub32/mul32/div32/sqrt32 agree with a Float32Array-store computation on random binary32 operands", () => {
    fc.assert(
      fc.property(
        anyF32,
        anyF32,
        (a, b) =>
          same(add32(a, b), st(a + b)) &&
          same(sub32(a, b), st(a - b)) &&
          same(mul32(a, b), st(a * b)) &&
          same(div32(a, b), st(a / b)) &&
          same(sqrt32(a), st(Math.sqrt(a))) &&
          same(f32(a * b), st(a * b)),
      ),
      propertyOptions(10000),
    );
  });

  it("results are always binary32 values", () => {
    fc.assert(
      fc.property(anyF32, anyF32, (a, b) => {
        for (const r of [add32(a, b), sub32(a, b), mul32(a, b), div32(a, b), sqrt32(a)]) expect(same(st(r), r)).toBe(true);
      }),
      propertyOptions(2000),
    );
  });

  it("hand-checked roundings: ties to even, no flush to zero, overflow", () => {
    expect(add32(1, 2 ** -24)).toBe(1); // tie, 1 is even
    expect(add32(1, fromBits(bitsOf(2 ** -24) + 1))).toBe(1 + 2 ** -23); // just above the tie
    expect(add32(1 + 2 ** -23, 2 ** -24)).toBe(1 + 2 ** -22); // tie, 1+2^-22 is even
    expect(sub32(1, 2 ** -25)).toBe(1); // tie below 1: ulp is 2^-24 there, 1 - 2^-25 is a tie → 1 (even)
    expect(add32(2 ** -149, 2 ** -149)).toBe(2 ** -148); // subnormals are kept
    expect(sub32(F32_MIN_NORMAL, 2 ** -149)).toBe(F32_MIN_NORMAL - 2 ** -149);
    expect(mul32(2 ** -75, 2 ** -75)).toBe(0); // 2^-150: tie between 0 and 2^-149, 0 is even
    expect(mul32(2 ** -75, 3 * 2 ** -75)).toBe(2 ** -148); // 1.5·2^-149: tie between 1 and 2 (×2^-149) → 2 (even)
    expect(mul32(2 ** -75, 3 * 2 ** -76)).toBe(2 ** -149); // 0.75·2^-149 → nearest is 2^-149
    expect(mul32(F32_MAX, 2)).toBe(Infinity);
    expect(add32(F32_MAX, 2 ** 102)).toBe(F32_MAX); // a quarter ulp (the ulp at F32_MAX is 2^104)
    expect(add32(F32_MAX, fromBits(0x73000000))).toBe(Infinity); // + 2^103 = half an ulp: the tie overflows to infinity
    expect(add32(-F32_MAX, -(2 ** 103))).toBe(-Infinity);
    expect(div32(1, 3)).toBe(0.3333333432674408);
    expect(div32(1, 0)).toBe(Infinity);
    expect(div32(-1, 0)).toBe(-Infinity);
    expect(div32(1, -0)).toBe(-Infinity);
    expect(Number.isNaN(div32(0, 0))).toBe(true);
    expect(sqrt32(2)).toBe(1.4142135381698608);
    expect(Number.isNaN(sqrt32(-1))).toBe(true);
    expect(Object.is(sqrt32(-0), -0)).toBe(true);
    expect(f32(0.1)).toBe(0.10000000149011612);
    expect(Object.is(add32(-0, -0), -0)).toBe(true);
    expect(Object.is(add32(0, -0), 0)).toBe(true);
  });

  it("constants and bit conversions", () => {
    expect(F32_MAX).toBe(fromBits(0x7f7fffff));
    expect(F32_MIN_NORMAL).toBe(fromBits(0x00800000));
    expect(toF32Bits(1)).toBe(0x3f800000);
    expect(toF32Bits(-2)).toBe(0xc0000000);
    expect(toF32Bits(-0)).toBe(0x80000000);
    expect(toF32Bits(Infinity)).toBe(0x7f800000);
    expect(toF32Bits(0.1)).toBe(0x3dcccccd);
    expect(fromF32Bits(0x7f7fffff)).toBe(F32_MAX);
    expect(fromF32Bits(1)).toBe(2 ** -149);
    expect(Object.is(fromF32Bits(0x80000000), -0)).toBe(true);
    expect(Number.isNaN(fromF32Bits(0x7fc00000))).toBe(true);
    expect(fromF32Bits(-1)).toBe(fromBits(0xffffffff)); // taken modulo 2^32
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (b) => {
        const x = fromF32Bits(b);
        if (Number.isNaN(x)) return;
        expect(toF32Bits(x)).toBe(b);
        expect(x).toBe(fromBits(b));
      }),
      propertyOptions(5000),
    );
  });
});

describe("ulpDistance32", () => {
  /** Non-NaN bit patterns. */
  const finiteBits = fc.integer({ min: 0, max: 0xffffffff }).filter((b) => (b & 0x7fffffff) <= 0x7f800000);

  it("adjacent binary32 values are 1 apart; along one sign the distance is the difference of the bit patterns", () => {
    fc.assert(
      fc.property(finiteBits, fc.integer({ min: 0, max: 1 << 20 }), (b, k) => {
        const mag = b & 0x7fffffff;
        const sign = b & 0x80000000;
        if (mag === 0x7f800000) return; // infinity has no successor
        const x = fromBits(b);
        const next = fromBits((sign | (mag + 1)) >>> 0);
        expect(ulpDistance32(x, next)).toBe(1);
        expect(ulpDistance32(next, x)).toBe(1);
        const m2 = Math.min(mag + k, 0x7f800000);
        expect(ulpDistance32(x, fromBits((sign | m2) >>> 0))).toBe(m2 - mag);
      }),
      propertyOptions(5000),
    );
  });

  it("is symmetric, zero on equal values, and counts across zero", () => {
    fc.assert(
      fc.property(finiteBits, finiteBits, (a, b) => {
        const x = fromBits(a);
        const y = fromBits(b);
        expect(ulpDistance32(x, y)).toBe(ulpDistance32(y, x));
        expect(ulpDistance32(x, x)).toBe(0);
        // across the sign: distance = |x|'s steps to zero + |y|'s steps to zero
        const key = (bits: number): number => ((bits & 0x80000000) !== 0 ? -(bits & 0x7fffffff) : bits);
        expect(ulpDistance32(x, y)).toBe(Math.abs(key(a) - key(b)));
      }),
      propertyOptions(5000),
    );
    expect(ulpDistance32(0, -0)).toBe(0);
    expect(ulpDistance32(-0, 0)).toBe(0);
    expect(ulpDistance32(2 ** -149, -(2 ** -149))).toBe(2);
    expect(ulpDistance32(2 ** -149, 0)).toBe(1);
    expect(ulpDistance32(1, 2)).toBe(2 ** 23);
    expect(ulpDistance32(1, 1 + 2 ** -23)).toBe(1);
    expect(ulpDistance32(1, 1 - 2 ** -24)).toBe(1);
    expect(ulpDistance32(F32_MAX, Infinity)).toBe(1);
    expect(ulpDistance32(-F32_MAX, -Infinity)).toBe(1);
    expect(ulpDistance32(NaN, 1)).toBe(Infinity);
    expect(ulpDistance32(1, NaN)).toBe(Infinity);
    expect(ulpDistance32(NaN, NaN)).toBe(0);
  });
});
