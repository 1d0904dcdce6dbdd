import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f16round } from "@petamoriken/float16";
import { bytesEqual, expCanon, fromF16Bits, fromNumbers, NonFiniteError, OverflowError, propertyOptions, toF16Bits } from "@qoq/core";
import { runReference } from "../src/index.js";

const f16Value = fc.integer({ min: 0, max: 0xffff }).filter((b) => (b & 0x7c00) !== 0x7c00).map(fromF16Bits);
const moderate = (r: number) => fc.float({ min: -r, max: r, noNaN: true }).map((x) => f16round(Math.fround(x)));
/** Unit in the last place of binary16 at magnitude v (subnormal spacing 2^-24 below 2^-14). */
const ulp16 = (v: number): number => (v === 0 ? 2 ** -24 : 2 ** (Math.max(Math.floor(Math.log2(v)), -14) - 10));
const silu64 = (g: number): number => g / (1 + Math.exp(-g));
const F = new Float32Array(1);
const r32 = (v: number): number => ((F[0] = v), F[0]!);

const case_ = fc
  .record({ m: fc.integer({ min: 1, max: 3 }), k: fc.integer({ min: 1, max: 64 }) })
  .chain(({ m, k }) =>
    fc.record({
      m: fc.constant(m),
      k: fc.constant(k),
      gate: fc.array(fc.oneof(moderate(12), moderate(100), f16Value), { minLength: m * k, maxLength: m * k }),
      up: fc.array(fc.oneof(moderate(1), moderate(300)), { minLength: m * k, maxLength: m * k }),
    }),
  )
  .filter(({ gate, up }) => gate.every((g, i) => Math.abs(silu64(g) * up[i]!) < 65000));

const run = (m: number, k: number, gate: number[], up: number[]) =>
  runReference("silu_mul_quant", { gate: fromNumbers("f16", [m, k], gate), up: fromNumbers("f16", [m, k], up) });

describe("silu_mul_quant", () => {
  it("y matches the pinned formula restated independently (silu rounded to fp16 before the product)", () => {
    fc.assert(
      fc.property(case_, ({ m, k, gate, up }) => {
        const y = Array.from(run(m, k, gate, up).y!.data as Uint16Array);
        const want = gate.map((g, i) => {
          const silu = f16round(r32(g / r32(1 + expCanon(r32(-g)))));
          return toF16Bits(f16round(r32(silu * up[i]!)));
        });
        expect(y).toEqual(want);
      }),
      propertyOptions(150),
    );
  });

  it("y is within the derived fp16 bound of float64 silu(g)·u", () => {
    // silu in binary32 (expCanon, 1 + e, one division) has relative error ≤ 2^-20 (16u, generous);
    // rounding it to fp16 adds ≤ ulp16/2; silu16·u is exact in binary32; the final f16 adds ≤ ulp16(y)/2:
    // |y − silu64·u| ≤ |u|·(ulp16(1.0001·|silu64|)/2 + 2^-20·|silu64|) + ulp16(|y_pre|)/2,
    // which is about 1.5 fp16 ULP of y in the normal range.
    fc.assert(
      fc.property(case_, ({ m, k, gate, up }) => {
        const y = Array.from(run(m, k, gate, up).y!.data as Uint16Array).map(fromF16Bits);
        gate.forEach((g, i) => {
          const s = silu64(g);
          const u = Math.abs(up[i]!);
          const errSilu = ulp16(1.0001 * Math.abs(s)) / 2 + 2 ** -20 * Math.abs(s);
          const bound = u * errSilu + ulp16(u * (Math.abs(s) + errSilu)) / 2;
          if (!(Math.abs(y[i]! - s * up[i]!) <= bound)) expect({ g, u: up[i], y: y[i], want: s * up[i]!, bound }).toBeUndefined();
        });
      }),
      propertyOptions(150),
    );
  });

  it("with up = 1, y is silu(g) rounded to fp16: within ulp16/2 + 2^-20 relative of float64", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(moderate(12), f16Value), { minLength: 1, maxLength: 64 }), (gate) => {
        const y = Array.from(run(1, gate.length, gate, gate.map(() => 1)).y!.data as Uint16Array).map(fromF16Bits);
        gate.forEach((g, i) => {
          const s = silu64(g);
          expect(Math.abs(y[i]! - s)).toBeLessThanOrEqual(ulp16(1.0001 * Math.abs(s)) / 2 + 2 ** -20 * Math.abs(s));
        });
      }),
      propertyOptions(100),
    );
  });

  it("saturates without NaN: silu(−65504) = −0 and silu(g) = g for large g", () => {
    const y = Array.from(run(1, 4, [-65504, -100, 100, 65504], [1, 1, 1, 1]).y!.data as Uint16Array);
    expect(y.map(fromF16Bits)).toEqual([-0, -0, 100, 65504]);
  });

  it("q, scale and qsum are exactly quant_act_int8 of the fp16 output y", () => {
    fc.assert(
      fc.property(case_, ({ m, k, gate, up }) => {
        const out = run(m, k, gate, up);
        const ref = runReference("quant_act_int8", { x: out.y! });
        expect(bytesEqual(out.q!, ref.q!) && bytesEqual(out.scale!, ref.scale!) && bytesEqual(out.qsum!, ref.qsum!)).toBe(true);
      }),
      propertyOptions(100),
    );
  });

  it("reports an fp16 overflow of y as a typed error naming 'y'", () => {
    expect(() => run(1, 3, [1, 60000, 1], [1, 2, 1])).toThrowError(OverflowError);
    expect(() => run(1, 3, [1, 60000, 1], [1, 2, 1])).toThrowError(/'y' at flat index 1/);
  });

  it("rejects NaN and infinity naming the tensor and index", () => {
    const gate = fromNumbers("f16", [1, 3], [1, 2, 3]);
    const up = fromNumbers("f16", [1, 3], [1, 2, 3]);
    (up.data as Uint16Array)[2] = 0x7c00;
    expect(() => runReference("silu_mul_quant", { gate, up })).toThrowError(NonFiniteError);
    expect(() => runReference("silu_mul_quant", { gate, up })).toThrowError(/tensor 'up'.*index 2/);
    const g2 = fromNumbers("f16", [1, 3], [1, 2, 3]);
    (g2.data as Uint16Array)[0] = 0x7e00;
    expect(() => runReference("silu_mul_quant", { gate: g2, up: fromNumbers("f16", [1, 3], [1, 1, 1]) })).toThrowError(/tensor 'gate'.*index 0/);
  });
});
