import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f16, fromF16Bits, fromNumbers, NonFiniteError, propertyOptions, toF16Bits, F16_MAX } from "@qoq/core";
import { runReference } from "../src/index.js";

/** Arbitrary binary16 values (finite), as numbers. */
const f16Value = fc.integer({ min: 0, max: 0xffff }).filter((b) => (b & 0x7c00) !== 0x7c00).map(fromF16Bits);

describe("quant_act_int8", () => {
  it("codes stay in [-127, 127], qsum is their sum, and the max element maps to ±127", () => {
    fc.assert(
      fc.property(fc.array(f16Value, { minLength: 1, maxLength: 300 }), (row) => {
        const x = fromNumbers("f16", [1, row.length], row);
        const out = runReference("quant_act_int8", { x });
        const [q, scale, qsum] = [out.q!, out.scale!, out.qsum!];
        const codes = Array.from(q.data as Int8Array);
        expect(codes.every((c) => c >= -127 && c <= 127)).toBe(true);
        expect((qsum.data as Int32Array)[0]).toBe(codes.reduce((a, b) => a + b, 0));
        const amax = Math.max(...row.map(Math.abs));
        const s = fromF16Bits((scale.data as Uint16Array)[0]!);
        if (amax === 0) {
          expect(s).toBe(0);
          expect(codes.every((c) => c === 0)).toBe(true);
        } else {
          expect(s).toBe(f16(Math.fround(amax / 127)));
          const i = row.findIndex((v) => Math.abs(v) === amax);
          expect(Math.abs(codes[i]!)).toBe(127);
        }
      }),
      propertyOptions(200),
    );
  });

  it("matches the pinned formula computed independently with a DataView round trip", () => {
    // An independent restatement: binary32 via Float32Array stores, ties to even via explicit checks.
    const f32 = new Float32Array(1);
    const r32 = (v: number) => ((f32[0] = v), f32[0]!);
    const rneIndep = (v: number) => {
      const fl = Math.floor(v);
      const d = v - fl;
      if (d > 0.5) return fl + 1;
      if (d < 0.5) return fl;
      return fl % 2 === 0 ? fl : fl + 1;
    };
    fc.assert(
      fc.property(fc.array(f16Value, { minLength: 1, maxLength: 64 }), (row) => {
        const x = fromNumbers("f16", [1, row.length], row);
        const q = runReference("quant_act_int8", { x }).q!;
        const amax = row.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const inv = r32(127 / amax);
        row.forEach((v, i) => {
          const want = amax === 0 ? 0 : Math.max(-127, Math.min(127, rneIndep(r32(v * inv))));
          expect((q.data as Int8Array)[i]).toBe(want);
        });
      }),
      propertyOptions(200),
    );
  });

  it("handles fp16 extremes: ±65504, subnormals, signed zeros", () => {
    const row = [F16_MAX, -F16_MAX, 2 ** -24, -(2 ** -24), -0, 0, 1];
    const out = runReference("quant_act_int8", { x: fromNumbers("f16", [1, row.length], row) });
    const [q, scale] = [out.q!, out.scale!];
    expect(Array.from(q.data as Int8Array)).toEqual([127, -127, 0, 0, 0, 0, 0]);
    expect((scale.data as Uint16Array)[0]).toBe(toF16Bits(Math.fround(F16_MAX / 127)));
    const tiny = [2 ** -24, -(2 ** -24), 0];
    const t = runReference("quant_act_int8", { x: fromNumbers("f16", [1, 3], tiny) });
    expect(Array.from(t.q!.data as Int8Array)).toEqual([127, -127, 0]);
    expect(fromF16Bits((t.scale!.data as Uint16Array)[0]!)).toBe(0); // 2^-24/127 underflows binary16 to 0
  });

  it("rejects NaN and infinity with a typed error naming the tensor and index", () => {
    const x = fromNumbers("f16", [1, 3], [1, 2, 3]);
    (x.data as Uint16Array)[2] = 0x7c00;
    expect(() => runReference("quant_act_int8", { x })).toThrowError(NonFiniteError);
    expect(() => runReference("quant_act_int8", { x })).toThrowError(/tensor 'x'.*index 2/);
  });
});
