/**
 * binary16 conversion (f16.ts). Oracles: @petamoriken/float16 (an independent implementation
 * of the IEEE 754 binary16 conversions: DataView get/setFloat16, Float16Array, f16round),
 * exhaustive enumeration of all 65536 bit patterns, and hand-written expected bits.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f16round, Float16Array, getFloat16, setFloat16 } from "@petamoriken/float16";
import {
  F16_MAX,
  F16_MIN_NORMAL,
  F16_MIN_SUBNORMAL,
  F16_NAN_BITS,
  f16,
  fromF16Bits,
  isF16Exact,
  propertyOptions,
  rne,
  toF16Bits,
} from "../src/index.js";

// ---- independent helpers ---------------------------------------------------------------

const dv = new DataView(new ArrayBuffer(8));

/** Value of half bits according to the oracle package. */
function oracleValue(h: number): number {
  dv.setUint16(0, h, true);
  return getFloat16(dv, 0, true);
}

/** Half bits of `x` according to the oracle package (NaN comes out as 0x7e00 there too). */
function oracleBits(x: number): number {
  setFloat16(dv, 0, x, true);
  return dv.getUint16(0, true);
}

const f32Buf = new Float32Array(1);
const u32Buf = new Uint32Array(f32Buf.buffer);
function f32FromBits(b: number): number {
  u32Buf[0] = b >>> 0;
  return f32Buf[0]!;
}
function f32Bits(x: number): number {
  f32Buf[0] = x;
  return u32Buf[0]!;
}

const hex = (h: number): string => `0x${h.toString(16).padStart(4, "0")}`;

/** Round half to even to an integer, written independently of f16.ts (sign-magnitude, floor-based). */
function rneRef(x: number): number {
  if (!Number.isFinite(x)) return x;
  const a = Math.abs(x);
  const fl = Math.floor(a);
  const d = a - fl; // exact for a >= 0
  const r = d < 0.5 ? fl : d > 0.5 ? fl + 1 : fl % 2 === 0 ? fl : fl + 1;
  return x < 0 || Object.is(x, -0) ? -r : r;
}

// ---- exhaustive -----------------------------------------------------------------------

describe("f16: all 65536 bit patterns", () => {
  it("fromF16Bits agrees with the oracle and toF16Bits round-trips every non-NaN pattern", () => {
    let nans = 0;
    const failures: string[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const v = fromF16Bits(h);
      const o = oracleValue(h);
      const isNaNPattern = (h & 0x7c00) === 0x7c00 && (h & 0x03ff) !== 0;
      if (isNaNPattern) {
        nans++;
        if (!Number.isNaN(v)) failures.push(`${hex(h)}: fromF16Bits gave ${v}, expected NaN`);
        if (toF16Bits(v) !== F16_NAN_BITS) failures.push(`${hex(h)}: NaN re-encoded as ${hex(toF16Bits(v))}`);
      } else {
        if (!Object.is(v, o)) failures.push(`${hex(h)}: fromF16Bits gave ${v}, oracle ${o}`);
        if (toF16Bits(v) !== h) failures.push(`${hex(h)}: toF16Bits(fromF16Bits) gave ${hex(toF16Bits(v))}`);
        if (oracleBits(v) !== h) failures.push(`${hex(h)}: oracle re-encodes ${v} as ${hex(oracleBits(v))}`);
        if (!isF16Exact(v)) failures.push(`${hex(h)}: isF16Exact(${v}) is false`);
        if (!Object.is(f16(v), v)) failures.push(`${hex(h)}: f16 is not the identity on ${v}`);
      }
      if (failures.length > 10) break;
    }
    expect(failures).toEqual([]);
    expect(nans).toBe(2 * 1023); // the count of NaN patterns: a sanity check of the loop itself
  });

  it("agrees with the oracle's Float16Array on a whole-array decode", () => {
    const bits = new Uint16Array(0x10000);
    for (let h = 0; h < 0x10000; h++) bits[h] = h;
    const decoded = new Float16Array(bits.buffer);
    for (let h = 0; h < 0x10000; h++) {
      const v = fromF16Bits(h);
      const o = decoded[h]!;
      if (!(Object.is(v, o) || (Number.isNaN(v) && Number.isNaN(o)))) expect.fail(`${hex(h)}: ${v} vs Float16Array ${o}`);
    }
  });

  it("decodes well-known patterns", () => {
    const known: [number, number][] = [
      [0x0000, 0],
      [0x8000, -0],
      [0x3c00, 1],
      [0xbc00, -1],
      [0x4000, 2],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x3e00, 1.5],
      [0x7bff, 65504],
      [0xfbff, -65504],
      [0x0400, 2 ** -14],
      [0x03ff, 1023 * 2 ** -24],
      [0x0001, 2 ** -24],
      [0x8001, -(2 ** -24)],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
      [0x3bff, 1 - 2 ** -11],
      [0x3c01, 1 + 2 ** -10],
    ];
    for (const [h, v] of known) {
      expect(Object.is(fromF16Bits(h), v), `${hex(h)} -> ${v}`).toBe(true);
      expect(toF16Bits(v), `${v} -> ${hex(h)}`).toBe(h);
    }
    expect(Number.isNaN(fromF16Bits(0x7e00))).toBe(true);
    expect(Number.isNaN(fromF16Bits(0xfc01))).toBe(true);
    expect(Number.isNaN(fromF16Bits(0x7c01))).toBe(true);
  });

  it("exports the right constants", () => {
    expect(F16_MAX).toBe(oracleValue(0x7bff));
    expect(F16_MIN_NORMAL).toBe(oracleValue(0x0400));
    expect(F16_MIN_SUBNORMAL).toBe(oracleValue(0x0001));
    expect(F16_NAN_BITS).toBe(0x7e00);
  });
});

// ---- rounding -------------------------------------------------------------------------

describe("f16: round to nearest even", () => {
  it("midpoints of every pair of adjacent finite halves go to the even one; neighbours of midpoints go to the nearest", () => {
    const failures: string[] = [];
    const check = (x: number, want: number, what: string): void => {
      const got = toF16Bits(x);
      if (got !== want && failures.length < 10) failures.push(`${what}: toF16Bits(${x}) = ${hex(got)}, want ${hex(want)}`);
    };
    for (const sign of [0, 0x8000]) {
      // h, h+1: adjacent finite halves of one sign (the step from 65504 to infinity is tested below)
      for (let m = 0; m < 0x7bff; m++) {
        const h = sign | m;
        const lo = fromF16Bits(h);
        const hi = fromF16Bits(h + 1);
        const mid = (lo + hi) / 2; // exact in double
        const even = m % 2 === 0 ? h : h + 1;
        check(mid, even, `midpoint of ${hex(h)}, ${hex(h + 1)}`);
        // a double just inside each side of the midpoint
        const eps = Math.abs(hi - lo) * 2 ** -30;
        const towardLo = sign ? mid + eps : mid - eps;
        const towardHi = sign ? mid - eps : mid + eps;
        check(towardLo, h, "just below midpoint (double)");
        check(towardHi, h + 1, "just above midpoint (double)");
        // the binary32 neighbours of the midpoint (the midpoint is itself a binary32 value)
        const mb = f32Bits(mid);
        if (f32FromBits(mb) !== mid) failures.push(`midpoint ${mid} is not a binary32`);
        check(f32FromBits(mb - 1), h, "binary32 predecessor of midpoint"); // toward zero
        check(f32FromBits(mb + 1), h + 1, "binary32 successor of midpoint"); // away from zero
        // also the values themselves and the oracle's opinion of the midpoint
        check(lo, h, "exact value");
        if (oracleBits(mid) !== even && failures.length < 10) failures.push(`oracle disagrees at midpoint ${mid}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("overflows exactly at 65520 = 65504 + half an ulp (the tie goes to the even pattern, infinity)", () => {
    expect(toF16Bits(65504)).toBe(0x7bff);
    expect(toF16Bits(65519.99)).toBe(0x7bff);
    expect(toF16Bits(65519.999999999)).toBe(0x7bff);
    expect(toF16Bits(f32FromBits(f32Bits(65520) - 1))).toBe(0x7bff); // largest binary32 below 65520
    expect(toF16Bits(65520)).toBe(0x7c00);
    expect(toF16Bits(65520.000001)).toBe(0x7c00);
    expect(toF16Bits(-65519.99)).toBe(0xfbff);
    expect(toF16Bits(-65520)).toBe(0xfc00);
    expect(toF16Bits(65536)).toBe(0x7c00);
    expect(toF16Bits(1e10)).toBe(0x7c00);
    expect(toF16Bits(3.4028234663852886e38)).toBe(0x7c00);
    expect(toF16Bits(Number.MAX_VALUE)).toBe(0x7c00);
    expect(toF16Bits(-Number.MAX_VALUE)).toBe(0xfc00);
    expect(f16(65519.99)).toBe(65504);
    expect(f16(65520)).toBe(Infinity);
  });

  it("subnormals: ties to even on the 2^-24 grid, and underflow keeps the sign", () => {
    const cases: [number, number][] = [
      [2 ** -25, 0x0000], // tie between 0 and 2^-24: 0 is even
      [-(2 ** -25), 0x8000],
      [2 ** -25 + 2 ** -40, 0x0001],
      [2 ** -25 - 2 ** -40, 0x0000],
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 (×2^-24): 2 is even
      [5 * 2 ** -25, 0x0002], // tie between 2 and 3: 2
      [7 * 2 ** -25, 0x0004], // tie between 3 and 4: 4
      [-3 * 2 ** -25, 0x8002],
      [2 ** -26, 0x0000],
      [2 ** -24, 0x0001],
      [1.4 * 2 ** -24, 0x0001],
      [1.6 * 2 ** -24, 0x0002],
      [1023.5 * 2 ** -24, 0x0400], // tie between the largest subnormal (odd) and the smallest normal
      [1022.5 * 2 ** -24, 0x03fe],
      [2 ** -149, 0x0000], // smallest binary32 subnormal
      [-(2 ** -149), 0x8000],
      [Number.MIN_VALUE, 0x0000],
      [-Number.MIN_VALUE, 0x8000],
      [1e-300, 0x0000],
    ];
    for (const [x, h] of cases) expect(toF16Bits(x), `toF16Bits(${x})`).toBe(h);
    expect(Object.is(f16(-(2 ** -25)), -0)).toBe(true);
    expect(Object.is(f16(2 ** -25), 0)).toBe(true);
    expect(f16(3 * 2 ** -25)).toBe(2 ** -23);
  });

  it("signed zeros, infinities and NaN", () => {
    expect(toF16Bits(0)).toBe(0x0000);
    expect(toF16Bits(-0)).toBe(0x8000);
    expect(Object.is(f16(-0), -0)).toBe(true);
    expect(Object.is(f16(0), 0)).toBe(true);
    expect(toF16Bits(Infinity)).toBe(0x7c00);
    expect(toF16Bits(-Infinity)).toBe(0xfc00);
    expect(toF16Bits(NaN)).toBe(0x7e00);
    expect(toF16Bits(f32FromBits(0xffc00001))).toBe(0x7e00); // a negative binary32 NaN with payload
    expect(toF16Bits(f32FromBits(0x7f800001))).toBe(0x7e00); // a signalling-pattern binary32 NaN
    expect(Number.isNaN(f16(NaN))).toBe(true);
    expect(isF16Exact(NaN)).toBe(true);
    expect(isF16Exact(0.1)).toBe(false);
    expect(isF16Exact(1 + 2 ** -11)).toBe(false);
    expect(isF16Exact(1 + 2 ** -10)).toBe(true);
    expect(isF16Exact(65536)).toBe(false);
  });

  it("a few hand-checked normal roundings", () => {
    expect(toF16Bits(0.1)).toBe(0x2e66);
    expect(toF16Bits(-0.1)).toBe(0xae66);
    expect(toF16Bits(1 / 3)).toBe(0x3555);
    expect(toF16Bits(Math.PI)).toBe(0x4248);
    expect(toF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, 1 is even
    expect(toF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie between 0x3c01 and 0x3c02
    expect(toF16Bits(2 - 2 ** -12)).toBe(0x4000); // rounds up across the binade: mantissa carry
    expect(toF16Bits(2048 + 1)).toBe(0x6800); // ulp is 2 there: tie to 2048
    expect(toF16Bits(2048 + 3)).toBe(0x6802); // tie to 2052
  });
});

// ---- properties against the oracle -----------------------------------------------------

describe("f16: properties against @petamoriken/float16", () => {
  /** Same bits and value as the oracle; for NaN (whose payload the oracle keeps) the canonical 0x7e00. */
  const agrees = (x: number): boolean => {
    const o = oracleBits(x);
    const bitsOk = Number.isNaN(x) ? toF16Bits(x) === F16_NAN_BITS && (o & 0x7c00) === 0x7c00 && (o & 0x3ff) !== 0 : toF16Bits(x) === o;
    const y = f16(x);
    const r = f16round(x);
    return bitsOk && (Object.is(y, r) || (Number.isNaN(y) && Number.isNaN(r)));
  };

  /** Doubles concentrated where binary16 rounding is interesting, plus the whole double range. */
  const interestingDouble = fc.oneof(
    fc.double(),
    fc.double({ min: -70000, max: 70000 }),
    fc.double({ min: -(2 ** -12), max: 2 ** -12 }),
    // near a half's midpoint, by a few binary64 or binary32 ulps
    fc.tuple(fc.integer({ min: 0, max: 0x7bfe }), fc.boolean(), fc.integer({ min: -4, max: 4 }), fc.boolean()).map(([m, neg, k, wide]) => {
      const mid = (fromF16Bits(m) + fromF16Bits(m + 1)) / 2;
      const step = wide ? Math.abs(fromF16Bits(m + 1) - fromF16Bits(m)) * 2 ** -24 : Math.abs(mid) * 2 ** -52;
      const x = mid + k * step;
      return neg ? -x : x;
    }),
  );

  it("toF16Bits(x) equals the oracle's bits for random doubles", () => {
    fc.assert(
      fc.property(interestingDouble, agrees),
      propertyOptions(10000),
    );
  });

  it("toF16Bits(x) equals the oracle's bits for random binary32 values", () => {
    fc.assert(
      fc.property(fc.oneof(fc.float(), fc.float({ min: -70000, max: 70000 }), fc.integer().map((b) => f32FromBits(b))), agrees),
      propertyOptions(10000),
    );
  });

  it("f16(x) is the nearest half: no half lies strictly closer (finite, in range)", () => {
    fc.assert(
      fc.property(fc.double({ min: -65519, max: 65519, noNaN: true }), (x) => {
        const h = toF16Bits(x);
        const y = fromF16Bits(h);
        const err = Math.abs(x - y);
        // neighbours in the ordered list of halves
        for (const n of [h - 1, h + 1, h ^ 0x8000]) {
          if (n < 0 || n > 0xffff) continue;
          const z = fromF16Bits(n);
          if (Number.isFinite(z)) expect(Math.abs(x - z)).toBeGreaterThanOrEqual(err);
        }
      }),
      propertyOptions(5000),
    );
  });
});

// ---- rne ------------------------------------------------------------------------------

describe("rne", () => {
  it("ties go to the even integer, for positive and negative halves", () => {
    const cases: [number, number][] = [
      [0.5, 0],
      [1.5, 2],
      [2.5, 2],
      [3.5, 4],
      [4.5, 4],
      [-0.5, -0],
      [-1.5, -2],
      [-2.5, -2],
      [-3.5, -4],
      [-4.5, -4],
      [126.5, 126],
      [127.5, 128],
      [-127.5, -128],
      [1e6 + 0.5, 1e6],
      [1e6 + 1.5, 1e6 + 2],
      [2 ** 52 - 0.5, 2 ** 52],
      [2 ** 52 - 1.5, 2 ** 52 - 2],
      [-(2 ** 52 - 1.5), -(2 ** 52 - 2)],
    ];
    for (const [x, want] of cases) expect(Object.is(rne(x), want), `rne(${x}) = ${rne(x)}, want ${want}`).toBe(true);
  });

  it("non-ties go to the nearest integer", () => {
    const cases: [number, number][] = [
      [0.49999999999999994, 0], // largest double below 0.5
      [0.5000000000000001, 1],
      [2.4999999999999996, 2],
      [2.5000000000000004, 3],
      [-2.5000000000000004, -3],
      [-2.4999999999999996, -2],
      [1.4, 1],
      [1.6, 2],
      [-1.6, -2],
      [7, 7],
      [-7, -7],
      [2 ** 53, 2 ** 53],
      [2 ** 60 + 2 ** 10, 2 ** 60 + 2 ** 10],
    ];
    for (const [x, want] of cases) expect(rne(x), `rne(${x})`).toBe(want);
    expect(rne(Infinity)).toBe(Infinity);
    expect(rne(-Infinity)).toBe(-Infinity);
    expect(Number.isNaN(rne(NaN))).toBe(true);
    expect(Object.is(rne(0), 0)).toBe(true);
  });

  it("agrees with an independent floor-based implementation on random doubles", () => {
    const half = fc.integer({ min: -(2 ** 31), max: 2 ** 31 }).map((i) => i + 0.5);
    const quarter = fc.integer({ min: -(2 ** 31), max: 2 ** 31 }).map((i) => i / 4);
    const nearTwo52 = fc.tuple(fc.nat(1000), fc.boolean()).map(([n, neg]) => (neg ? -1 : 1) * (2 ** 52 - n - 0.5));
    fc.assert(
      fc.property(fc.oneof(fc.double({ noNaN: true }), fc.double({ min: -1e6, max: 1e6 }), half, quarter, nearTwo52), (x) => Object.is(rne(x), rneRef(x))),
      propertyOptions(10000),
    );
  });
});
