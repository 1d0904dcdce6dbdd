import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f16round } from "@petamoriken/float16";
import { fromF16Bits, fromNumbers, NonFiniteError, propertyOptions, toF16Bits } from "@qoq/core";
import { runReference } from "../src/index.js";

const f16Value = fc.integer({ min: 0, max: 0xffff }).filter((b) => (b & 0x7c00) !== 0x7c00).map(fromF16Bits);

describe("residual_add", () => {
  it("y is the correctly rounded fp16 sum (f16round of the exact double sum)", () => {
    // a + b of two binary16 values is exact in float64, so f16round of it is the correctly rounded
    // result; the op's f16(f32(a + b)) must equal it (binary32 has ≥ 2·11 + 2 bits: no double rounding).
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.tuple(f16Value, f16Value), { minLength: 1, maxLength: 64 }), (m, pairs) => {
        const k = pairs.length;
        const a = Array.from({ length: m * k }, (_, i) => pairs[i % k]![0]);
        const b = Array.from({ length: m * k }, (_, i) => pairs[(i * 7) % k]![1]);
        const y = Array.from(runReference("residual_add", { a: fromNumbers("f16", [m, k], a), b: fromNumbers("f16", [m, k], b) }).y!.data as Uint16Array);
        expect(y).toEqual(a.map((v, i) => toF16Bits(f16round(v + b[i]!))));
      }),
      propertyOptions(200),
    );
  });

  it("overflows to ±inf as IEEE fp16 does; ties round to even; signed zeros follow IEEE", () => {
    const a = [65504, -65504, 65504, 2048, 0, -0];
    const b = [16, -16, 8, 1, -0, -0];
    const y = Array.from(runReference("residual_add", { a: fromNumbers("f16", [1, 6], a), b: fromNumbers("f16", [1, 6], b) }).y!.data as Uint16Array);
    // 65520 is the midpoint to 2^16 and goes to infinity; 65512 rounds back to 65504; 2049 ties to 2048.
    expect(y).toEqual([0x7c00, 0xfc00, toF16Bits(65504), toF16Bits(2048), 0x0000, 0x8000]);
  });

  it("rejects NaN and infinity naming the tensor and index", () => {
    const a = fromNumbers("f16", [1, 2], [1, 2]);
    const b = fromNumbers("f16", [1, 2], [1, 2]);
    (b.data as Uint16Array)[1] = 0xfc00;
    expect(() => runReference("residual_add", { a, b })).toThrowError(NonFiniteError);
    expect(() => runReference("residual_add", { a, b })).toThrowError(/tensor 'b'.*index 1/);
  });
});
