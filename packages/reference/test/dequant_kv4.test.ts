import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { fromF16Bits, fromNumbers, NonFiniteError, propertyOptions, RangeViolationError, tensor } from "@qoq/core";
import { runReference } from "../src/index.js";
import { dequantKv4Value } from "../src/ops/dequant_kv4.js";

const f16Value = fc.integer({ min: 0, max: 0xffff }).filter((b) => (b & 0x7c00) !== 0x7c00).map(fromF16Bits);
const F = new Float32Array(1);
const r32 = (v: number): number => ((F[0] = v), F[0]!);

describe("dequant_kv4", () => {
  it("computes f32(f32(q·scale) + min) per element, with each row's own scale and min", () => {
    const block = fc
      .record({ t: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 3 }), d: fc.integer({ min: 1, max: 20 }) })
      .chain(({ t, h, d }) =>
        fc.record({
          t: fc.constant(t),
          h: fc.constant(h),
          d: fc.constant(d),
          codes: fc.array(fc.integer({ min: 0, max: 15 }), { minLength: t * h * d, maxLength: t * h * d }),
          scales: fc.array(f16Value, { minLength: t * h, maxLength: t * h }),
          mins: fc.array(f16Value, { minLength: t * h, maxLength: t * h }),
        }),
      );
    fc.assert(
      fc.property(block, ({ t, h, d, codes, scales, mins }) => {
        const { v } = runReference("dequant_kv4", {
          q: tensor("u8", [t, h, d], Uint8Array.from(codes)),
          scale: fromNumbers("f16", [t, h], scales),
          min: fromNumbers("f16", [t, h], mins),
        });
        const want = codes.map((c, i) => r32(r32(c * scales[Math.floor(i / d)]!) + mins[Math.floor(i / d)]!));
        expect(Array.from(v!.data as Float32Array)).toEqual(want);
        expect(codes.map((c, i) => dequantKv4Value(c, scales[Math.floor(i / d)]!, mins[Math.floor(i / d)]!))).toEqual(want);
      }),
      propertyOptions(100),
    );
  });

  it("rejects codes above 15 naming 'q' and the flat index", () => {
    const q = tensor("u8", [1, 2, 3], Uint8Array.from([0, 15, 3, 4, 16, 2]));
    const scale = fromNumbers("f16", [1, 2], [1, 1]);
    const min = fromNumbers("f16", [1, 2], [0, 0]);
    expect(() => runReference("dequant_kv4", { q, scale, min })).toThrowError(RangeViolationError);
    expect(() => runReference("dequant_kv4", { q, scale, min })).toThrowError(/tensor 'q'.*index 4/);
  });

  it("rejects non-finite scales and minima naming the tensor", () => {
    const q = tensor("u8", [1, 2, 1], Uint8Array.from([1, 2]));
    const scale = fromNumbers("f16", [1, 2], [1, 1]);
    const min = fromNumbers("f16", [1, 2], [0, 0]);
    const badScale = fromNumbers("f16", [1, 2], [1, 1]);
    (badScale.data as Uint16Array)[1] = 0x7c00;
    const badMin = fromNumbers("f16", [1, 2], [0, 0]);
    (badMin.data as Uint16Array)[0] = 0x7e00;
    expect(() => runReference("dequant_kv4", { q, scale: badScale, min })).toThrowError(NonFiniteError);
    expect(() => runReference("dequant_kv4", { q, scale: badScale, min })).toThrowError(/tensor 'scale'.*index 1/);
    expect(() => runReference("dequant_kv4", { q, scale, min: badMin })).toThrowError(/tensor 'min'.*index 0/);
  });
});
