import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DTypeError, fromNumbers, NonFiniteError, OverflowError, propertyOptions, ShapeError, tensor, type NamedTensors } from "@qoq/core";
import { runReference } from "../src/index.js";
import { MAX_K_GEMM_W8A8 } from "../src/ops/gemm_w8a8.js";
import { gemmEpilogue } from "../src/ops/weight_common.js";
import { check, epilogue, EPILOGUE_VECTORS, f16Bits, f16FiniteBits, f16Value, MISREADINGS } from "./independent.js";

/** Split acc ≥ 0 into terms xq·w with xq ∈ 0..127 and w ∈ 0..15: ⌊acc/1905⌋ × 127·15, then 127·c and d·1. */
function decompose(acc: number): { xq: number[]; w: number[] } {
  const t = Math.floor(acc / 1905);
  const rest = acc - 1905 * t;
  const xq = [...new Array<number>(t).fill(127), 127, rest % 127];
  const w = [...new Array<number>(t).fill(15), Math.floor(rest / 127), 1];
  return { xq, w };
}

const f16ScaleBits = fc.integer({ min: 0x0400, max: 0x3c00 });

interface Case {
  m: number;
  n: number;
  k: number;
  xq: ArrayLike<number>;
  xscale: number[];
  q: ArrayLike<number>;
  scale: number[];
}
function inputsOf(c: Case): NamedTensors {
  return {
    xq: tensor("i8", [c.m, c.k], Int8Array.from(c.xq)),
    xscale: tensor("f16", [c.m], Uint16Array.from(c.xscale)),
    q: tensor("i8", [c.n, c.k], Int8Array.from(c.q)),
    scale: tensor("f16", [c.n], Uint16Array.from(c.scale)),
  };
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({ m: fc.integer({ min: 1, max: 3 }), n: fc.integer({ min: 1, max: 3 }), k: fc.integer({ min: 1, max: 300 }), any: fc.boolean() })
  .chain(({ m, n, k, any }) =>
    fc.record({
      m: fc.constant(m),
      n: fc.constant(n),
      k: fc.constant(k),
      xq: fc.array(fc.integer({ min: -128, max: 127 }), { minLength: m * k, maxLength: m * k }),
      xscale: fc.array(any ? f16FiniteBits : f16ScaleBits, { minLength: m, maxLength: m }),
      q: fc.array(fc.integer({ min: -128, max: 127 }), { minLength: n * k, maxLength: n * k }),
      scale: fc.array(any ? f16FiniteBits : f16ScaleBits, { minLength: n, maxLength: n }),
    }),
  );

describe("gemm_w8a8", () => {
  it("y equals an independent computation (BigInt accumulator, Float32Array/float16 epilogue)", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const y = runReference("gemm_w8a8", inputsOf(c)).y!.data as Uint16Array;
        for (let r = 0; r < c.m; r++) {
          for (let col = 0; col < c.n; col++) {
            let acc = 0n;
            for (let i = 0; i < c.k; i++) acc += BigInt(c.xq[r * c.k + i]!) * BigInt(c.q[col * c.k + i]!);
            const want = epilogue(acc, f16Value(c.scale[col]!), f16Value(c.xscale[r]!));
            const got = y[r * c.n + col]!;
            check(got === want, () => `y[${r}, ${col}] = 0x${got.toString(16)}, want 0x${want.toString(16)} (acc ${acc})`);
          }
        }
      }),
      propertyOptions(200),
    );
  });

  it("the shared epilogue matches the independent one over the whole int32 accumulator range and every finite scale", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), f16FiniteBits, f16FiniteBits, (acc, sw, sx) => {
        expect(gemmEpilogue(acc, f16Value(sw), f16Value(sx))).toBe(epilogue(BigInt(acc), f16Value(sw), f16Value(sx)));
      }),
      propertyOptions(2000),
    );
  });

  it("rounds acc to binary32 before the scale product (a pinned case where skipping it changes y)", () => {
    // acc = 1024·(−128)·(−128) + 1·1 = 2^24 + 1 → f32(acc) = 2^24; sw·sx = (3·2^−12)·(683·2^−13) = 2049·2^−25.
    // f32(2^24 · 2049·2^−25) = 1024.5, a binary16 tie → 1024. Without f32(acc): 1024.5 + 2049·2^−25 → 1025.
    const k = 1025;
    const xq = new Array<number>(k).fill(-128);
    xq[k - 1] = 1;
    const c: Case = { m: 1, n: 1, k, xq, xscale: [f16Bits(683 * 2 ** -13)], q: xq, scale: [f16Bits(3 * 2 ** -12)] };
    expect(f16Value(c.xscale[0]!) * f16Value(c.scale[0]!)).toBe(2049 * 2 ** -25);
    const y = runReference("gemm_w8a8", inputsOf(c)).y!.data as Uint16Array;
    expect(f16Value(y[0]!)).toBe(1024);
  });

  it("follows the pinned epilogue order exactly on vectors that separate it from its misreadings", () => {
    // Every misreading disagrees with the pinned order on at least one vector.
    for (const alt of MISREADINGS) {
      expect(EPILOGUE_VECTORS.some((v) => alt(v.acc, f16Value(v.sw), f16Value(v.sx)) !== epilogue(BigInt(v.acc), f16Value(v.sw), f16Value(v.sx)))).toBe(true);
    }
    for (const v of EPILOGUE_VECTORS) {
      const want = epilogue(BigInt(v.acc), f16Value(v.sw), f16Value(v.sx));
      const { xq, w } = decompose(v.acc);
      const c: Case = { m: 1, n: 1, k: xq.length, xq, xscale: [v.sx], q: w, scale: [v.sw] };
      expect(runReference("gemm_w8a8", inputsOf(c)).y!.data[0]).toBe(want);
    }
  });

  it("MAX_K_GEMM_W8A8 is the exact int32 bound, K = MAX runs exactly, K = MAX + 1 throws", () => {
    // |xq·q| ≤ 128·128 = 16384 (−128·−128): K_max·16384 ≤ 2^31 − 1 < (K_max + 1)·16384.
    const maxK = MAX_K_GEMM_W8A8;
    expect(maxK).toBe(131071);
    expect(maxK * 16384).toBeLessThanOrEqual(2 ** 31 - 1);
    expect((maxK + 1) * 16384).toBeGreaterThan(2 ** 31 - 1);
    const c: Case = { m: 1, n: 1, k: maxK, xq: new Int8Array(maxK).fill(-128), xscale: [0x0400], q: new Int8Array(maxK).fill(-128), scale: [0x0400] };
    const y = runReference("gemm_w8a8", inputsOf(c)).y!.data as Uint16Array;
    expect(y[0]).toBe(epilogue(2147467264n, 2 ** -14, 2 ** -14));
    const big: Case = { ...c, k: maxK + 1, xq: new Int8Array(maxK + 1), q: new Int8Array(maxK + 1) };
    expect(() => runReference("gemm_w8a8", inputsOf(big))).toThrowError(OverflowError);
    expect(() => runReference("gemm_w8a8", inputsOf(big))).toThrowError(/K = 131072.*131071/);
  });

  it("rejects bad input with typed errors naming the tensor", () => {
    const base = (): Case => ({ m: 1, n: 2, k: 2, xq: [1, -2], xscale: [0x3c00], q: [3, -128, 127, 5], scale: [0x3c00, 0x3800] });
    expect(Array.from(runReference("gemm_w8a8", inputsOf(base())).y!.data as Uint16Array, f16Value)).toEqual([259, 58.5]);
    const cases: [string, (t: NamedTensors) => void, new (...a: never[]) => Error, RegExp][] = [
      ["xscale NaN", (t) => ((t.xscale!.data as Uint16Array)[0] = 0x7e00), NonFiniteError, /tensor 'xscale'.*index 0/],
      ["scale −inf", (t) => ((t.scale!.data as Uint16Array)[1] = 0xfc00), NonFiniteError, /tensor 'scale'.*index 1/],
      ["q as u8", (t) => (t.q = fromNumbers("u8", [2, 2], [1, 2, 3, 4])), DTypeError, /'q'/],
      ["xscale as f32", (t) => (t.xscale = fromNumbers("f32", [1], [1])), DTypeError, /'xscale'/],
      ["K mismatch", (t) => (t.q = fromNumbers("i8", [2, 3], [1, 2, 3, 4, 5, 6])), ShapeError, /'q'/],
    ];
    for (const [what, mutate, type, msg] of cases) {
      const t = inputsOf(base());
      mutate(t);
      expect(() => runReference("gemm_w8a8", t), what).toThrowError(type);
      expect(() => runReference("gemm_w8a8", t), what).toThrowError(msg);
    }
  });
});
