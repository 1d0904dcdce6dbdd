/**
 * The pinned pow of the smoothing factors. Its exact bits are checked against the WebGPU kernel
 * (a second port of the same algorithm, in emulated binary64) by that backend's conformance
 * suite; here: it is a pow (within one ULP of the engine's `Math.pow`, exact where the power is a
 * representable number), its special cases are the IEEE/fdlibm ones, and it refuses arguments
 * outside the domain it was written for.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { propertyOptions } from "@qoq/core";
import { fdlibmPow, smoothingFactor } from "../src/index.js";

const bits = new DataView(new ArrayBuffer(8));
/** The binary64 bit pattern of a non-negative double as a BigInt (consecutive doubles differ by 1). */
function ord(x: number): bigint {
  bits.setFloat64(0, x);
  return bits.getBigUint64(0);
}
function ulpsApart(a: number, b: number): bigint {
  const d = ord(a) - ord(b);
  return d < 0n ? -d : d;
}

/** Non-negative finite doubles over the whole range, subnormals included, from their bit patterns. */
const baseArb = fc.bigInt({ min: 0n, max: 0x7fefffffffffffffn }).map((b) => {
  bits.setBigUint64(0, b);
  return bits.getFloat64(0);
});
const expArb = fc.oneof(fc.constantFrom(0.05, 0.15, 0.25, 0.3, 0.7, 0.75, 0.85, 0.95), fc.double({ min: 0, max: 1, noNaN: true }));

describe("fdlibmPow", () => {
  it("is within one ULP of Math.pow over the whole domain (bases from every exponent, subnormals included)", () => {
    fc.assert(
      fc.property(baseArb, expArb, (x, y) => {
        const got = fdlibmPow(x, y);
        const want = Math.pow(x, y);
        // Both are faithful pows; neither is required to be correctly rounded, so they may differ in the last bit.
        return ulpsApart(got, want) <= 1n;
      }),
      propertyOptions(20000),
    );
  });

  it("is within one ULP of Math.pow for the calibration-like bases of the transforms (1e-3 … 1e4)", () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-3, max: 1e4, noNaN: true }), expArb, (x, y) => ulpsApart(fdlibmPow(x, y), Math.pow(x, y)) <= 1n),
      propertyOptions(20000),
    );
  });

  it("is exact where the power is representable: (2^4k)^0.25 = 2^k, (16^k)^0.75 = 8^k, (2^-1072)^0.75 = 2^-804", () => {
    for (let k = -250; k <= 250; k++) {
      expect(fdlibmPow(2 ** (4 * k), 0.25), `2^${4 * k}`).toBe(2 ** k);
      if (Math.abs(k) <= 60) expect(fdlibmPow(16 ** k, 0.75), `16^${k}`).toBe(8 ** k);
    }
    expect(fdlibmPow(2 ** -1072, 0.75)).toBe(2 ** -804);
    expect(fdlibmPow(2 ** -1064, 0.125)).toBe(2 ** -133);
  });

  it("rounds a subnormal result once: (2^-1074·m)^y near y = 1 stays within one ULP of Math.pow", () => {
    for (const m of [1, 3, 1000, 123456789, 2 ** 40 + 7]) {
      for (const y of [0.999, 0.9999999, 0.99]) {
        const x = m * 2 ** -1074;
        expect(ulpsApart(fdlibmPow(x, y), Math.pow(x, y)), `(${x})^${y}`).toBeLessThanOrEqual(1n);
      }
    }
  });

  it("has the special cases of e_pow.c: x^0 = 1, x^1 = x, x^0.5 = √x (correctly rounded), 0^y = +0, 1^y = 1", () => {
    for (const x of [0, 5e-324, 1e-300, 0.3, 1, 2, 1e300, Number.MAX_VALUE]) {
      expect(fdlibmPow(x, 0)).toBe(1);
      expect(fdlibmPow(x, 1)).toBe(x);
      expect(fdlibmPow(x, 0.5)).toBe(Math.sqrt(x));
    }
    for (const y of [1e-9, 0.3, 0.999]) {
      expect(Object.is(fdlibmPow(0, y), 0)).toBe(true);
      expect(Object.is(fdlibmPow(-0, y), 0)).toBe(true);
      expect(fdlibmPow(1, y)).toBe(1);
    }
  });

  it("refuses arguments outside the smoothing domain with a RangeError", () => {
    for (const [x, y] of [
      [-1, 0.3],
      [NaN, 0.3],
      [Infinity, 0.3],
      [2, -0.1],
      [2, 1.5],
      [2, NaN],
    ] as const) {
      expect(() => fdlibmPow(x, y), `(${x}, ${y})`).toThrow(RangeError);
    }
  });

  it("is what smoothingFactor uses: λ = a^α / b^β with its bits, 0/NaN/∞ → 1", () => {
    expect(smoothingFactor(7.25, 0.3, 0.5, 0.7)).toBe(fdlibmPow(7.25, 0.3) / fdlibmPow(0.5, 0.7));
    expect(smoothingFactor(0, 0.3, 2, 0.7)).toBe(1);
    expect(smoothingFactor(2, 0.3, 0, 0.7)).toBe(1);
  });
});
