import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DTypeError, fromNumbers, NonFiniteError, OverflowError, propertyOptions, RangeViolationError, ShapeError, tensor, type NamedTensors } from "@qoq/core";
import { runReference } from "../src/index.js";
import { MAX_K_GEMM_W4A8_G128 } from "../src/ops/gemm_w4a8_g128.js";
import { check, epilogue, EPILOGUE_VECTORS, f16Bits, f16FiniteBits, f16ScaleBits, f16Value, MISREADINGS } from "./independent.js";

/** Split acc ≥ 0 into terms xq·w with xq ∈ 0..127 and w ∈ 0..15: ⌊acc/1905⌋ × 127·15, then 127·c and d·1. */
function decompose(acc: number): { xq: number[]; w: number[] } {
  const t = Math.floor(acc / 1905);
  const rest = acc - 1905 * t;
  const xq = [...new Array<number>(t).fill(127), 127, rest % 127];
  const w = [...new Array<number>(t).fill(15), Math.floor(rest / 127), 1];
  return { xq, w };
}


/** xq, and a valid progressive-group weight (s2 ∈ 1..16, z ∈ 0..15, (q − z)·s2 ∈ [−128, 127]). */
const caseArb = fc
  .record({
    m: fc.integer({ min: 1, max: 3 }),
    n: fc.integer({ min: 1, max: 3 }),
    gs: fc.constantFrom(1, 2, 4, 8, 32, 128),
    groups: fc.integer({ min: 1, max: 3 }),
    anyScales: fc.boolean(),
  })
  .chain(({ m, n, gs, groups, anyScales }) => {
    const k = gs * groups;
    const scale = anyScales ? f16FiniteBits : f16ScaleBits;
    return fc.record({
      m: fc.constant(m),
      n: fc.constant(n),
      k: fc.constant(k),
      groups: fc.constant(groups),
      xq: fc.array(fc.integer({ min: -128, max: 127 }), { minLength: m * k, maxLength: m * k }),
      xscale: fc.array(scale, { minLength: m, maxLength: m }),
      s2: fc.array(fc.integer({ min: 1, max: 16 }), { minLength: n * groups, maxLength: n * groups }),
      zero: fc.array(fc.integer({ min: 0, max: 15 }), { minLength: n * groups, maxLength: n * groups }),
      pick: fc.array(fc.nat(), { minLength: n * k, maxLength: n * k }),
      s1: fc.array(scale, { minLength: n, maxLength: n }),
    });
  })
  .map((c) => {
    const q = c.pick.map((p, i) => {
      const gi = Math.floor(i / c.k) * c.groups + Math.floor((i % c.k) / (c.k / c.groups));
      const lo = Math.max(0, c.zero[gi]! + Math.ceil(-128 / c.s2[gi]!));
      const hi = Math.min(15, c.zero[gi]! + Math.floor(127 / c.s2[gi]!));
      return lo + (p % (hi - lo + 1));
    });
    return { ...c, q };
  });

type Case = { m: number; n: number; k: number; groups: number; xq: ArrayLike<number>; xscale: number[]; q: ArrayLike<number>; zero: number[]; s2: number[]; s1: number[] };
function inputsOf(c: Case): NamedTensors {
  return {
    xq: tensor("i8", [c.m, c.k], Int8Array.from(c.xq)),
    xscale: tensor("f16", [c.m], Uint16Array.from(c.xscale)),
    q: tensor("u8", [c.n, c.k], Uint8Array.from(c.q)),
    zero: fromNumbers("u8", [c.n, c.groups], c.zero),
    s2: fromNumbers("u8", [c.n, c.groups], c.s2),
    s1: tensor("f16", [c.n], Uint16Array.from(c.s1)),
  };
}

/** The straightforward computation: dequantize each weight to (q − z)·s2, BigInt dot product, epilogue. */
function expectY(c: Case): number[] {
  const gs = c.k / c.groups;
  const y: number[] = [];
  for (let r = 0; r < c.m; r++) {
    for (let col = 0; col < c.n; col++) {
      let acc = 0n;
      for (let i = 0; i < c.k; i++) {
        const gi = col * c.groups + Math.floor(i / gs);
        acc += BigInt(c.xq[r * c.k + i]!) * BigInt((c.q[col * c.k + i]! - c.zero[gi]!) * c.s2[gi]!);
      }
      y.push(epilogue(acc, f16Value(c.s1[col]!), f16Value(c.xscale[r]!)));
    }
  }
  return y;
}

describe("gemm_w4a8_g128", () => {
  it("y equals an independent straightforward computation (BigInt accumulator, Float32Array/float16 epilogue)", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const y = runReference("gemm_w4a8_g128", inputsOf(c)).y!.data as Uint16Array;
        const want = expectY(c);
        for (let i = 0; i < want.length; i++) check(y[i] === want[i], () => `y[${i}] = 0x${y[i]!.toString(16)}, want 0x${want[i]!.toString(16)}`);
      }),
      propertyOptions(200),
    );
  });

  it("follows the pinned epilogue order exactly on vectors that separate it from its misreadings", () => {
    // Every misreading disagrees with the pinned order on at least one vector.
    for (const alt of MISREADINGS) {
      expect(EPILOGUE_VECTORS.some((v) => alt(v.acc, f16Value(v.sw), f16Value(v.sx)) !== epilogue(BigInt(v.acc), f16Value(v.sw), f16Value(v.sx)))).toBe(true);
    }
    for (const v of EPILOGUE_VECTORS) {
      const want = epilogue(BigInt(v.acc), f16Value(v.sw), f16Value(v.sx));
      const { xq, w } = decompose(v.acc);
      const c: Case = { m: 1, n: 1, k: xq.length, groups: xq.length, xq, xscale: [v.sx], q: w, zero: new Array<number>(xq.length).fill(0), s2: new Array<number>(xq.length).fill(1), s1: [v.sw] };
      expect(runReference("gemm_w4a8_g128", inputsOf(c)).y!.data[0]).toBe(want);
    }
  });

  it("MAX_K_GEMM_W4A8_G128 is the exact int32 bound, K = MAX runs exactly, K = MAX + 1 throws", () => {
    // |xq·w8| ≤ 128·128 = 16384: K_max·16384 ≤ 2^31 − 1 < (K_max + 1)·16384.
    const maxK = MAX_K_GEMM_W4A8_G128;
    expect(maxK).toBe(131071);
    expect(maxK * 16384).toBeLessThanOrEqual(2 ** 31 - 1);
    expect((maxK + 1) * 16384).toBeGreaterThan(2 ** 31 - 1);
    // K = 131071 (a prime, so one group of 131071): every term (−128)·(0 − 8)·16 = +16384 reaches the bound.
    const ones = (len: number, v: number) => new Array<number>(len).fill(v);
    const c: Case = { m: 1, n: 1, k: maxK, groups: 1, xq: new Int8Array(maxK).fill(-128), xscale: [0x0400], q: new Uint8Array(maxK), zero: [8], s2: [16], s1: [0x0400] };
    const y = runReference("gemm_w4a8_g128", inputsOf(c)).y!.data as Uint16Array;
    expect(y[0]).toBe(epilogue(BigInt(maxK) * 16384n, 2 ** -14, 2 ** -14));
    expect(BigInt(maxK) * 16384n).toBe(2147467264n);
    const big: Case = { ...c, k: maxK + 1, groups: 1024, xq: new Int8Array(maxK + 1), q: new Uint8Array(maxK + 1), zero: ones(1024, 8), s2: ones(1024, 16) };
    expect(() => runReference("gemm_w4a8_g128", inputsOf(big))).toThrowError(OverflowError);
    expect(() => runReference("gemm_w4a8_g128", inputsOf(big))).toThrowError(/K = 131072.*131071/);
  });

  it("rounds past the binary16 range to infinity (pinned rounding, no saturation)", () => {
    // acc = 127·(15 − 0)·8 = 15240; 15240 · 8 = 121920 > 65520 → +∞; with a negative scale → −∞.
    const c: Case = { m: 1, n: 2, k: 1, groups: 1, xq: [127], xscale: [f16Bits(8)], q: [15, 15], zero: [0, 0], s2: [8, 8], s1: [0x3c00, 0xbc00] };
    expect(Array.from(runReference("gemm_w4a8_g128", inputsOf(c)).y!.data as Uint16Array)).toEqual([0x7c00, 0xfc00]);
  });

  it("rejects bad input with typed errors naming the tensor", () => {
    const base = (): Case => ({ m: 1, n: 2, k: 4, groups: 2, xq: [1, -2, 3, -128], xscale: [0x3c00], q: [1, 2, 3, 4, 5, 6, 7, 8], zero: [3, 3, 3, 3], s2: [2, 2, 2, 2], s1: [0x3c00, 0x3c00] });
    expect(() => runReference("gemm_w4a8_g128", inputsOf(base()))).not.toThrow();
    const cases: [string, (t: NamedTensors) => void, new (...a: never[]) => Error, RegExp][] = [
      ["code 16", (t) => ((t.q!.data as Uint8Array)[6] = 16), RangeViolationError, /tensor 'q' at flat index 6/],
      ["zero 16", (t) => ((t.zero!.data as Uint8Array)[3] = 16), RangeViolationError, /tensor 'zero' at flat index 3/],
      ["s2 0", (t) => ((t.s2!.data as Uint8Array)[2] = 0), RangeViolationError, /tensor 's2' at flat index 2/],
      ["s2 17", (t) => ((t.s2!.data as Uint8Array)[0] = 17), RangeViolationError, /tensor 's2' at flat index 0/],
      [
        "protective range",
        (t) => {
          (t.zero!.data as Uint8Array)[1] = 15;
          (t.s2!.data as Uint8Array)[1] = 16;
          (t.q!.data as Uint8Array)[2] = 15; // (15 − 15)·16 = 0 is fine
          (t.q!.data as Uint8Array)[3] = 0;
        },
        RangeViolationError,
        /tensor 'q' at flat index 3.*-240/,
      ],
      ["xscale NaN", (t) => ((t.xscale!.data as Uint16Array)[0] = 0x7e00), NonFiniteError, /tensor 'xscale'.*index 0/],
      ["s1 inf", (t) => ((t.s1!.data as Uint16Array)[1] = 0x7c00), NonFiniteError, /tensor 's1'.*index 1/],
      ["xq as u8", (t) => (t.xq = fromNumbers("u8", [1, 4], [1, 2, 3, 4])), DTypeError, /'xq'/],
      ["s1 as f32", (t) => (t.s1 = fromNumbers("f32", [2], [1, 1])), DTypeError, /'s1'/],
      ["K mismatch", (t) => (t.xq = fromNumbers("i8", [1, 3], [1, 2, 3])), ShapeError, /'q'.*K/],
      [
        "G does not divide K",
        (t) => {
          t.zero = fromNumbers("u8", [2, 3], [0, 0, 0, 0, 0, 0]);
          t.s2 = fromNumbers("u8", [2, 3], [1, 1, 1, 1, 1, 1]);
        },
        ShapeError,
        /K = 4.*G = 3/,
      ],
    ];
    for (const [what, mutate, type, msg] of cases) {
      const t = inputsOf(base());
      mutate(t);
      expect(() => runReference("gemm_w4a8_g128", t), what).toThrowError(type);
      expect(() => runReference("gemm_w4a8_g128", t), what).toThrowError(msg);
    }
  });
});
