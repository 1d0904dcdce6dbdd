import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DTypeError, fromNumbers, NonFiniteError, OverflowError, propertyOptions, RangeViolationError, ShapeError, tensor, type NamedTensors } from "@qoq/core";
import { runReference } from "../src/index.js";
import { MAX_K_GEMM_W4A8_CHN } from "../src/ops/gemm_w4a8_chn.js";
import { check, epilogue, EPILOGUE_VECTORS, f16FiniteBits, f16ScaleBits, f16Value, MISREADINGS } from "./independent.js";

/** Split acc ≥ 0 into terms xq·w with xq ∈ 0..127 and w ∈ 0..15: ⌊acc/1905⌋ × 127·15, then 127·c and d·1. */
function decompose(acc: number): { xq: number[]; w: number[] } {
  const t = Math.floor(acc / 1905);
  const rest = acc - 1905 * t;
  const xq = [...new Array<number>(t).fill(127), 127, rest % 127];
  const w = [...new Array<number>(t).fill(15), Math.floor(rest / 127), 1];
  return { xq, w };
}


interface Case {
  m: number;
  n: number;
  k: number;
  xq: ArrayLike<number>;
  xscale: number[];
  q: ArrayLike<number>;
  zero: number[];
  scale: number[];
}

/** Σ_k xq[m, k], computed here (the op checks the caller's xqsum against it). */
function rowSums(c: Case): number[] {
  const s: number[] = [];
  for (let r = 0; r < c.m; r++) {
    let t = 0;
    for (let i = 0; i < c.k; i++) t += c.xq[r * c.k + i]!;
    s.push(t);
  }
  return s;
}

function inputsOf(c: Case, xqsum = rowSums(c)): NamedTensors {
  return {
    xq: tensor("i8", [c.m, c.k], Int8Array.from(c.xq)),
    xscale: tensor("f16", [c.m], Uint16Array.from(c.xscale)),
    xqsum: tensor("i32", [c.m], Int32Array.from(xqsum)),
    q: tensor("u8", [c.n, c.k], Uint8Array.from(c.q)),
    zero: fromNumbers("u8", [c.n], c.zero),
    scale: tensor("f16", [c.n], Uint16Array.from(c.scale)),
  };
}

/** Accumulators with the zero point applied to each dequantized integer weight (q − z), in BigInt. */
function dequantizedAcc(c: Case): bigint[] {
  const acc: bigint[] = [];
  for (let r = 0; r < c.m; r++) {
    for (let col = 0; col < c.n; col++) {
      let a = 0n;
      for (let i = 0; i < c.k; i++) a += BigInt(c.xq[r * c.k + i]!) * BigInt(c.q[col * c.k + i]! - c.zero[col]!);
      acc.push(a);
    }
  }
  return acc;
}

const caseArb = (opts: { maxK: number; xmax: number; scales: fc.Arbitrary<number> }): fc.Arbitrary<Case> =>
  fc.record({ m: fc.integer({ min: 1, max: 3 }), n: fc.integer({ min: 1, max: 3 }), k: fc.integer({ min: 1, max: opts.maxK }) }).chain(({ m, n, k }) =>
    fc.record({
      m: fc.constant(m),
      n: fc.constant(n),
      k: fc.constant(k),
      xq: fc.array(fc.integer({ min: -opts.xmax - 1, max: opts.xmax }), { minLength: m * k, maxLength: m * k }),
      xscale: fc.array(opts.scales, { minLength: m, maxLength: m }),
      q: fc.array(fc.integer({ min: 0, max: 15 }), { minLength: n * k, maxLength: n * k }),
      zero: fc.array(fc.integer({ min: 0, max: 15 }), { minLength: n, maxLength: n }),
      scale: fc.array(opts.scales, { minLength: n, maxLength: n }),
    }),
  );

describe("gemm_w4a8_chn", () => {
  it("the zero correction Σ xq·q − z·Σ xq equals the product with the integer weights (q − z), seen exactly through unit scales", () => {
    // With scale = xscale = 1 and |acc| ≤ 8·16·15 = 1920 < 2048, y = f16(acc) holds the accumulator exactly.
    fc.assert(
      fc.property(caseArb({ maxK: 8, xmax: 15, scales: fc.constant(0x3c00) }), (c) => {
        const y = runReference("gemm_w4a8_chn", inputsOf(c)).y!.data as Uint16Array;
        dequantizedAcc(c).forEach((a, i) => check(f16Value(y[i]!) === Number(a), () => `y[${i}] = ${f16Value(y[i]!)}, Σ xq·(q − z) = ${a}`));
      }),
      propertyOptions(300),
    );
  });

  it("y equals epilogue(Σ xq·(q − z)) computed independently, for any codes and scales", () => {
    fc.assert(
      fc.property(
        fc.boolean().chain((any) => caseArb({ maxK: 300, xmax: 127, scales: any ? f16FiniteBits : f16ScaleBits })),
        (c) => {
          const y = runReference("gemm_w4a8_chn", inputsOf(c)).y!.data as Uint16Array;
          dequantizedAcc(c).forEach((a, i) => {
            const want = epilogue(a, f16Value(c.scale[i % c.n]!), f16Value(c.xscale[Math.floor(i / c.n)]!));
            check(y[i] === want, () => `y[${i}] = 0x${y[i]!.toString(16)}, want 0x${want.toString(16)} (acc ${a})`);
          });
        },
      ),
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
      const c: Case = { m: 1, n: 1, k: xq.length, xq, xscale: [v.sx], q: w, zero: [0], scale: [v.sw] };
      expect(runReference("gemm_w4a8_chn", inputsOf(c)).y!.data[0]).toBe(want);
    }
  });

  it("MAX_K_GEMM_W4A8_CHN is the exact int32 bound, K = MAX runs exactly, K = MAX + 1 throws", () => {
    // Σ xq·q and z·Σ xq are each bounded by K·128·15 = K·1920: K_max·1920 ≤ 2^31 − 1 < (K_max + 1)·1920.
    const maxK = MAX_K_GEMM_W4A8_CHN;
    expect(maxK).toBe(1118481);
    expect(maxK * 1920).toBeLessThanOrEqual(2 ** 31 - 1);
    expect((maxK + 1) * 1920).toBeGreaterThan(2 ** 31 - 1);
    // Both partial accumulators at their extreme: xq = −128, q = 15, zero = 15 gives Σ xq·q = −K·1920 and
    // z·Σ xq = −K·1920 (acc = 0); zero = 0 gives acc = −K·1920 = −2147483520.
    const c: Case = { m: 1, n: 2, k: maxK, xq: new Int8Array(maxK).fill(-128), xscale: [0x0400], q: new Uint8Array(2 * maxK).fill(15), zero: [15, 0], scale: [0x0400, 0x0400] };
    const y = runReference("gemm_w4a8_chn", inputsOf(c)).y!.data as Uint16Array;
    expect(Array.from(y)).toEqual([epilogue(0n, 2 ** -14, 2 ** -14), epilogue(-2147483520n, 2 ** -14, 2 ** -14)]);
    const k = maxK + 1;
    const big: Case = { m: 1, n: 1, k, xq: new Int8Array(k), xscale: [0x3c00], q: new Uint8Array(k), zero: [0], scale: [0x3c00] };
    expect(() => runReference("gemm_w4a8_chn", inputsOf(big))).toThrowError(OverflowError);
    expect(() => runReference("gemm_w4a8_chn", inputsOf(big))).toThrowError(/K = 1118482.*1118481/);
  });

  it("rejects bad input with typed errors naming the tensor", () => {
    const base = (): Case => ({ m: 2, n: 2, k: 3, xq: [1, -2, 3, -128, 127, 0], xscale: [0x3c00, 0x3c00], q: [1, 2, 3, 4, 5, 6], zero: [3, 3], scale: [0x3c00, 0x3c00] });
    expect(() => runReference("gemm_w4a8_chn", inputsOf(base()))).not.toThrow();
    // A wrong activation sum would silently shift every output by z·(error): it must be rejected.
    expect(() => runReference("gemm_w4a8_chn", inputsOf(base(), [2, 0]))).toThrowError(RangeViolationError);
    expect(() => runReference("gemm_w4a8_chn", inputsOf(base(), [2, 0]))).toThrowError(/tensor 'xqsum' at flat index 1/);
    const cases: [string, (t: NamedTensors) => void, new (...a: never[]) => Error, RegExp][] = [
      ["code 16", (t) => ((t.q!.data as Uint8Array)[4] = 16), RangeViolationError, /tensor 'q' at flat index 4/],
      ["zero 200", (t) => ((t.zero!.data as Uint8Array)[1] = 200), RangeViolationError, /tensor 'zero' at flat index 1/],
      ["xscale inf", (t) => ((t.xscale!.data as Uint16Array)[1] = 0x7c00), NonFiniteError, /tensor 'xscale'.*index 1/],
      ["scale NaN", (t) => ((t.scale!.data as Uint16Array)[0] = 0xfe00), NonFiniteError, /tensor 'scale'.*index 0/],
      ["xqsum as f32", (t) => (t.xqsum = fromNumbers("f32", [2], [2, -1])), DTypeError, /'xqsum'/],
      ["q as i8", (t) => (t.q = fromNumbers("i8", [2, 3], [1, 2, 3, 4, 5, 6])), DTypeError, /'q'/],
      ["xqsum length", (t) => (t.xqsum = fromNumbers("i32", [3], [2, -1, 0])), ShapeError, /'xqsum'/],
    ];
    for (const [what, mutate, type, msg] of cases) {
      const t = inputsOf(base());
      mutate(t);
      expect(() => runReference("gemm_w4a8_chn", t), what).toThrowError(type);
      expect(() => runReference("gemm_w4a8_chn", t), what).toThrowError(msg);
    }
  });
});
