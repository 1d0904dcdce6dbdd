import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f16round } from "@petamoriken/float16";
import { fromF16Bits, fromNumbers, NonFiniteError, propertyOptions, toF16Bits } from "@qoq/core";
import { runReference } from "../src/index.js";

/** Arbitrary finite binary16 values, as numbers. */
const f16Value = fc.integer({ min: 0, max: 0xffff }).filter((b) => (b & 0x7c00) !== 0x7c00).map(fromF16Bits);
/** Binary16 values of moderate size (what post-RoPE K/V look like). */
const smallValue = fc.float({ min: -8, max: 8, noNaN: true }).map((x) => f16round(Math.fround(x)));

/** Independent binary32 rounding through a Float32Array store. */
const F = new Float32Array(1);
const r32 = (v: number): number => ((F[0] = v), F[0]!);
/** Independent round-half-to-even. */
const rneIndep = (v: number): number => {
  const fl = Math.floor(v);
  const d = v - fl;
  if (d > 0.5) return fl + 1;
  if (d < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
};

/** A [T, H, D] block of values: mixtures of full-range, moderate and constant rows. */
const kvBlock = fc
  .record({ t: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 3 }), d: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constant(128)) })
  .chain(({ t, h, d }) => {
    const n = t * h * d;
    const row = fc.oneof(
      fc.array(smallValue, { minLength: d, maxLength: d }),
      fc.array(f16Value, { minLength: d, maxLength: d }),
      smallValue.map((v) => new Array<number>(d).fill(v)),
    );
    return fc.array(row, { minLength: t * h, maxLength: t * h }).map((rows) => ({ t, h, d, values: rows.flat().slice(0, n) }));
  });

const quant = (t: number, h: number, d: number, values: number[]) => {
  const out = runReference("quant_kv4", { v: fromNumbers("f16", [t, h, d], values) });
  return { q: out.q!.data as Uint8Array, scale: out.scale!.data as Uint16Array, min: out.min!.data as Uint16Array, out };
};

describe("quant_kv4", () => {
  it("matches the pinned formula restated independently (Float32Array stores, f16round)", () => {
    fc.assert(
      fc.property(kvBlock, ({ t, h, d, values }) => {
        const { q, scale, min } = quant(t, h, d, values);
        for (let r = 0; r < t * h; r++) {
          const row = values.slice(r * d, r * d + d);
          const mx = Math.max(...row);
          const mn = Math.min(...row);
          const s = f16round(r32(r32(mx - mn) / 15));
          expect(fromF16Bits(scale[r]!)).toBe(s);
          expect(fromF16Bits(min[r]!) === mn).toBe(true); // numeric equality: a zero minimum is stored as +0
          const inv = r32(1 / s);
          const want = row.map((v) => (s === 0 ? 0 : Math.min(15, Math.max(0, rneIndep(r32(r32(v - mn) * inv))))));
          expect(Array.from(q.subarray(r * d, r * d + d))).toEqual(want); // also shows every code is in 0..15
        }
      }),
      propertyOptions(150),
    );
  });

  it("fixed rows: ties round to even, and codes use ×f32(1/scale), not ÷scale", () => {
    // Range 15 → scale 1: t = 2.5, 3.5, 4.5 are exact ties and go to the even code.
    expect(Array.from(quant(1, 1, 5, [0, 15, 2.5, 3.5, 4.5]).q)).toEqual([0, 15, 2, 4, 4]);
    // A row (found by search) where f32((v − mn)·f32(1/s)) and f32((v − mn)/s) round to different codes.
    const row = [-1.9326171875, -1.05859375, -0.845703125, -0.397216796875, -1.10546875, 0.09649658203125, -2.306640625, -0.488525390625];
    const mn = Math.min(...row);
    const s = f16round(r32(r32(Math.max(...row) - mn) / 15));
    const inv = r32(1 / s);
    expect(rneIndep(r32(r32(row[4]! - mn) * inv))).not.toBe(rneIndep(r32(r32(row[4]! - mn) / s))); // the row separates them
    expect(Array.from(quant(1, 1, 8, row).q)).toEqual(row.map((v) => Math.min(15, Math.max(0, rneIndep(r32(r32(v - mn) * inv))))));
  });

  it("round trip: |dequant(quant(v)) − v| ≤ scale/2 + 15·(rounding of scale) + binary32 terms", () => {
    // Bound. Row range D = mx − mn (exact), s the stored scale, e_s = |s − D/15| (binary32 then
    // binary16 rounding of the scale), u = 2^-24. t = f32(f32(v − mn)·f32(1/s)) = ((v − mn)/s)(1 + η),
    // |η| ≤ 3.01u (three roundings).
    // • Unclamped code q = rne(t): |q − (v − mn)/s| ≤ 1/2 + 3.01u·D/s, so |q·s − (v − mn)| ≤ s/2 + 3.01u·D.
    //   The grid q·s + mn uses the rounded s itself, so the scale's rounding costs nothing here.
    // • Clamped (rne(t) ≥ 16, only when s rounded below D/15): q = 15 and the error is
    //   (v − mn) − 15s ≤ D − 15s ≤ 15·e_s — the top code multiplies the scale's rounding by 15.
    // • Scale 0 (D ≤ 7·2^-24): v̂ = mn and the error is v − mn ≤ D = 15·e_s, the same term.
    // • v̂ = f32(q·s + mn): q·s is exact (4-bit × 11-bit), the add rounds once: ≤ u·(|mn| + 15s).
    // Total: s/2 + 15·e_s + 3.01u·D + u·(|mn| + 15s).
    const u = 2 ** -24;
    fc.assert(
      fc.property(kvBlock, ({ t, h, d, values }) => {
        const { q, scale, min, out } = quant(t, h, d, values);
        const vhat = runReference("dequant_kv4", { q: out.q!, scale: out.scale!, min: out.min! }).v!.data as Float32Array;
        for (let r = 0; r < t * h; r++) {
          const row = values.slice(r * d, r * d + d);
          const range = Math.max(...row) - Math.min(...row);
          const s = fromF16Bits(scale[r]!);
          const mn = fromF16Bits(min[r]!);
          const bound = s / 2 + 15 * Math.abs(s - range / 15) + 3.01 * u * range + u * (Math.abs(mn) + 15 * s);
          const worst = Math.max(...row.map((v, i) => Math.abs(vhat[r * d + i]! - v)));
          expect(worst).toBeLessThanOrEqual(bound);
          expect(Math.max(...q.subarray(r * d, r * d + d))).toBeLessThanOrEqual(15);
        }
      }),
      propertyOptions(150),
    );
  });

  it("all-equal and all-zero rows give scale 0, codes 0 and exact reconstruction", () => {
    const rows = [new Array(16).fill(3.5), new Array(16).fill(-65504), new Array(16).fill(0), new Array(16).fill(-0), [-0, 0, -0, 0], new Array(16).fill(2 ** -24)];
    for (const row of rows) {
      const { q, scale, min, out } = quant(1, 1, row.length, row);
      expect(Array.from(q).every((c) => c === 0)).toBe(true);
      expect(scale[0]).toBe(0); // +0 bits, never −0
      expect(fromF16Bits(min[0]!) === row[0]).toBe(true);
      const vhat = runReference("dequant_kv4", { q: out.q!, scale: out.scale!, min: out.min! }).v!.data as Float32Array;
      row.forEach((v, i) => expect(vhat[i]! === v).toBe(true));
    }
    // A zero minimum is stored as +0 whichever zero comes first, so the bits do not depend on reduction order.
    expect(quant(1, 1, 3, [-0, 0, 1]).min[0]).toBe(0);
    expect(quant(1, 1, 3, [0, -0, 1]).min[0]).toBe(0);
  });

  it("a range of at most 7·2^-24 underflows the scale to 0 (codes 0); 8·2^-24 does not", () => {
    const tiny = quant(1, 1, 2, [0, 7 * 2 ** -24]);
    expect(tiny.scale[0]).toBe(0);
    expect(Array.from(tiny.q)).toEqual([0, 0]);
    const next = quant(1, 1, 2, [0, 8 * 2 ** -24]);
    expect(fromF16Bits(next.scale[0]!)).toBe(2 ** -24);
    expect(Array.from(next.q)).toEqual([0, 8]);
  });

  it("the extremes of a row map to codes 0 and 15 (full-range row)", () => {
    const row = [-65504, 65504, 0, 1];
    const { q, scale } = quant(1, 1, 4, row);
    expect(q[0]).toBe(0);
    expect(q[1]).toBe(15);
    expect(scale[0]).toBe(toF16Bits(Math.fround(Math.fround(131008) / 15)));
  });

  it("rejects NaN and infinity with a typed error naming the tensor and index", () => {
    const v = fromNumbers("f16", [1, 2, 2], [1, 2, 3, 4]);
    (v.data as Uint16Array)[3] = 0x7e00;
    expect(() => runReference("quant_kv4", { v })).toThrowError(NonFiniteError);
    expect(() => runReference("quant_kv4", { v })).toThrowError(/tensor 'v'.*index 3/);
  });
});
