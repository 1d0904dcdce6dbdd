import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { getFloat16, setFloat16, f16round } from "@petamoriken/float16";
import { DTypeError, fromNumbers, NonFiniteError, OverflowError, ParamError, propertyOptions, RangeViolationError, type NamedTensors } from "@qoq/core";
import { runReference } from "../src/index.js";
import { quantizeWeightRowChn } from "../src/ops/quant_weight_chn.js";
import { check, f16Bits, f16Value, r32 } from "./independent.js";

// Independent restatements of the numerics (not the helpers under test): binary32 through a
// Float32Array store, binary16 through @petamoriken/float16, ties to even by explicit cases.
const rneI = (v: number): number => {
  const fl = Math.floor(v);
  const d = v - fl;
  if (d > 0.5) return fl + 1;
  if (d < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
};
// `+ 0` turns −0 into +0: codes are stored in integer arrays, which have no negative zero.
const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v) + 0;

/** Rows of k binary32 values of many kinds: any finite f32, scaled, outliers, subnormals, one-signed, constant, zero. */
function rowArb(k: number): fc.Arbitrary<number[]> {
  const unit = fc.double({ min: -1, max: 1, noNaN: true });
  const units = fc.array(unit, { minLength: k, maxLength: k });
  const anyF32 = fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: k, maxLength: k });
  // Magnitudes from the subnormals to past the overflow of (vmax − vmin)/15 in binary16 (≈ 2^19.9).
  const scaled = fc.tuple(fc.integer({ min: -149, max: 21 }), units).map(([e, xs]) => xs.map((x) => r32(x * 2 ** e)));
  const positive = fc.tuple(fc.integer({ min: -40, max: 10 }), units).map(([e, xs]) => xs.map((x) => r32(Math.abs(x) * 2 ** e)));
  // The common case: weights of ordinary magnitude, binary16 scales in the normal range.
  const typical = fc.tuple(fc.integer({ min: -12, max: 16 }), units).map(([e, xs]) => xs.map((x) => r32(x * 2 ** e)));
  const outlier = fc
    .tuple(fc.integer({ min: -60, max: 10 }), fc.integer({ min: 1, max: 20 }), fc.nat(k - 1), units)
    .map(([e, o, at, xs]) => xs.map((x, i) => r32(x * 2 ** (i === at ? e + o : e))));
  const subnormal = fc.array(fc.integer({ min: -(2 ** 23 - 1), max: 2 ** 23 - 1 }).map((m) => m * 2 ** -149), { minLength: k, maxLength: k });
  // vmin = −(z0 + h)·2^e, vmax = (15 − z0 − h)·2^e: the range is 15·2^e, so s = 2^e exactly; h = 1/2 makes
  // −vmin/s a tie (zero-point rounding), and (j + 1/2)·2^e are code ties with an odd or even z.
  const ties = fc
    .tuple(fc.integer({ min: -20, max: 4 }), fc.integer({ min: 0, max: 14 }), fc.constantFrom(0, 0.5), fc.array(fc.integer({ min: -15, max: 15 }), { minLength: k, maxLength: k }))
    .map(([e, z0, h, js]) =>
      js.map((j, i) => {
        if (i === 0) return -(z0 + h) * 2 ** e;
        if (i === 1) return (15 - z0 - h) * 2 ** e;
        return Math.min(15 - z0 - h, Math.max(-(z0 + h), j + 0.5)) * 2 ** e;
      }),
    );
  const constant = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((c) => new Array<number>(k).fill(c));
  const zero = fc.constantFrom(0, -0).map((c) => new Array<number>(k).fill(c));
  return fc.oneof({ arbitrary: typical, weight: 3 }, { arbitrary: ties, weight: 2 }, scaled, positive, outlier, subnormal, anyF32, constant, zero);
}

const ratioArb = fc.oneof(fc.constant(1), fc.float({ min: 2 ** -149, max: 1, noNaN: true }), fc.float({ min: Math.fround(0.2), max: 1, noNaN: true }));

/** N×K weights, and per-row ratios or none. */
const caseArb = fc
  .record({ n: fc.integer({ min: 1, max: 3 }), k: fc.integer({ min: 1, max: 200 }), withRatio: fc.boolean() })
  .chain(({ n, k, withRatio }) =>
    fc.tuple(
      fc.constant({ n, k }),
      fc.array(rowArb(k), { minLength: n, maxLength: n }),
      withRatio ? fc.array(ratioArb, { minLength: n, maxLength: n }) : fc.constant(undefined),
    ),
  );

interface RowWant {
  vmax: number;
  vmin: number;
  s: number;
  z: number;
  q: number[];
}
/** Independent per-channel quantization of one row; `null` when the scale overflows binary16. */
function expectRow(row: number[], ratio: number): RowWant | null {
  const vmax = r32(Math.max(0, ...row) * ratio);
  const vmin = r32(Math.min(0, ...row) * ratio);
  const s = f16round(r32(r32(vmax - vmin) / 15));
  if (s === Infinity) return null;
  if (s === 0) return { vmax, vmin, s, z: 0, q: row.map(() => 0) };
  const z = clamp(rneI(r32(-vmin / s)), 0, 15);
  return { vmax, vmin, s, z, q: row.map((w) => clamp(rneI(r32(w / s)) + z, 0, 15)) };
}

function run(rows: number[][], n: number, k: number, ratio?: number[]): NamedTensors {
  const inputs: NamedTensors = { w: fromNumbers("f32", [n, k], rows.flat()) };
  if (ratio !== undefined) inputs.ratio = fromNumbers("f32", [n], ratio);
  return runReference("quant_weight_chn", inputs);
}

describe("quant_weight_chn", () => {
  it("matches an independent implementation of the pinned formulas bit for bit (codes 0..15, zero 0..15)", () => {
    let checked = 0;
    fc.assert(
      fc.property(caseArb, ([{ n, k }, rows, ratio]) => {
        const want = rows.map((r, i) => expectRow(r, ratio?.[i] ?? 1));
        if (want.some((r) => r === null)) {
          expect(() => run(rows, n, k, ratio)).toThrowError(OverflowError);
          return;
        }
        const out = run(rows, n, k, ratio);
        const q = out.q!.data as Uint8Array;
        want.forEach((r, row) => {
          expect((out.scale!.data as Uint16Array)[row]).toBe(f16Bits(r!.s));
          expect((out.zero!.data as Uint8Array)[row]).toBe(r!.z);
          for (let c = 0; c < k; c++) check(q[row * k + c] === r!.q[c], () => `q[${row}, ${c}] = ${q[row * k + c]}, want ${r!.q[c]}`);
        });
        for (let i = 0; i < n * k; i++) check(q[i]! <= 15, () => `code ${q[i]} at ${i}`);
        checked++;
      }),
      propertyOptions(200),
    );
    expect(checked).toBeGreaterThan(80); // tripwire: most cases must not be overflow cases
  });

  it("dequantization error stays within the derived bound", () => {
    // Derivation. Row range [vmin, vmax] (after clipping), s' = (vmax − vmin)/15 exactly, s the stored
    // binary16 scale, t = w/s, code q = clamp(rne(f32(t)) + z, 0, 15), ŵ = s·(q − z):
    //  unclamped: |f32(t)| ≤ 15.5, so |w − ŵ| ≤ s·(1/2 + 16·2^−24) = s/2 + s·2^−20;
    //  clamped at 15: ŵ = (15 − z)·s with z·s ≤ (−vmin/s)(1 + 2^−24)·s + s/2, so
    //    w − ŵ ≤ (w − vmax) + (vmax − vmin) − 15·s + s/2 + |vmin|·2^−24 = (w − vmax) + 15(s' − s) + s/2 + |vmin|·2^−24;
    //  clamped at 0: ŵ = −z·s; with z unclamped z·s ≥ −vmin − s/2 − |vmin|·2^−24, so ŵ − w ≤ (vmin − w) + s/2 + |vmin|·2^−24;
    //    with z = 15 (only a subnormal s rounded far down), ŵ − w ≤ (vmin − w) + 15(s' − s) (since vmax ≥ 0).
    //  So |w − ŵ| ≤ s/2 + 15·max(0, s' − s) + s·2^−20 + |vmin|·2^−24 + max(0, w − vmax, vmin − w),
    //  the last term being 0 for unclipped rows. s = 0 gives ŵ = 0 and the bound 15·s' = vmax − vmin ≥ |w| holds.
    //  For a normal binary16 s and no clipping: s' − s ≤ s'·(2^−11 + 2^−23) (one binary16 and two binary32
    //  roundings), so 15·(s' − s) < 0.0074·s and |w − ŵ| ≤ s·(1/2 + 2^−7).
    const slack = 1 + 2 ** -40; // the bound itself is evaluated in double precision
    let normalUnclipped = 0;
    fc.assert(
      fc.property(caseArb, ([{ n, k }, rows, ratio]) => {
        const want = rows.map((r, i) => expectRow(r, ratio?.[i] ?? 1));
        if (want.some((r) => r === null)) return;
        const out = run(rows, n, k, ratio);
        const what = runReference("dequant_weight_chn", { q: out.q!, zero: out.zero!, scale: out.scale! }).w!.data as Float32Array;
        rows.forEach((row, r) => {
          const { vmax, vmin } = want[r]!;
          const s = f16Value((out.scale!.data as Uint16Array)[r]!);
          const sExact = (vmax - vmin) / 15;
          const unclipped = (ratio?.[r] ?? 1) === 1;
          const normal = s >= 2 ** -14;
          if (normal && unclipped) normalUnclipped++;
          for (let c = 0; c < k; c++) {
            const w = row[c]!;
            const err = Math.abs(w - what[r * k + c]!);
            const clip = Math.max(0, w - vmax, vmin - w);
            const bound = s / 2 + 15 * Math.max(0, sExact - s) + s * 2 ** -20 + Math.abs(vmin) * 2 ** -24 + clip;
            check(err <= bound * slack, () => `row ${r} col ${c}: |w − ŵ| = ${err} > ${bound} (s = ${s}, s' = ${sExact})`);
            if (normal && unclipped) check(err <= s * (0.5 + 2 ** -7), () => `row ${r} col ${c}: |w − ŵ| = ${err} > s·(1/2 + 2^−7), s = ${s}`);
          }
        });
      }),
      propertyOptions(200),
    );
    expect(normalUnclipped).toBeGreaterThan(50);
  });

  it("quantizeWeightRowChn matches the op and writes only its own row", () => {
    fc.assert(
      fc.property(caseArb, ([{ n, k }, rows, ratio]) => {
        if (rows.some((r, i) => expectRow(r, ratio?.[i] ?? 1) === null)) return;
        const out = run(rows, n, k, ratio);
        const flat = Float32Array.from(rows.flat());
        for (let row = 0; row < n; row++) {
          const q = new Uint8Array(n * k).fill(99);
          const res = quantizeWeightRowChn(flat, row * k, k, ratio?.[row] ?? 1, q);
          expect(res.scale).toBe(f16Value((out.scale!.data as Uint16Array)[row]!));
          expect(res.zero).toBe((out.zero!.data as Uint8Array)[row]);
          expect(Array.from(q.subarray(row * k, (row + 1) * k))).toEqual(Array.from((out.q!.data as Uint8Array).subarray(row * k, (row + 1) * k)));
          expect(q.subarray(0, row * k).every((v) => v === 99) && q.subarray((row + 1) * k).every((v) => v === 99)).toBe(true);
        }
      }),
      propertyOptions(100),
    );
  });

  it("pins the documented edge cases", () => {
    // All-zero row: scale 0, zero 0, codes 0.
    let out = run([[0, -0, 0]], 1, 3);
    expect(Array.from(out.q!.data as Uint8Array)).toEqual([0, 0, 0]);
    expect((out.zero!.data as Uint8Array)[0]).toBe(0);
    expect((out.scale!.data as Uint16Array)[0]).toBe(0);
    // All-positive row: the range is widened to include 0, so z = 0 and vmax maps to 15.
    out = run([[15, 7.5, 1]], 1, 3);
    expect((out.scale!.data as Uint16Array)[0]).toBe(0x3c00); // s = 1
    expect((out.zero!.data as Uint8Array)[0]).toBe(0);
    expect(Array.from(out.q!.data as Uint8Array)).toEqual([15, 8, 1]); // 7.5 is a tie and goes to the even 8
    // Range [−7.5, 7.5]: s = 1, z = rne(7.5) = 8; −7.5 → rne(−7.5) + 8 = 0; 7.5 → 8 + 8 = 16 → clamped to 15.
    out = run([[-7.5, 7.5, 0]], 1, 3);
    expect((out.zero!.data as Uint8Array)[0]).toBe(8);
    expect(Array.from(out.q!.data as Uint8Array)).toEqual([0, 15, 8]);
    // Clipping by 1/2: range [0, 15] → [0, 7.5], s = 0.5; 15 saturates at code 15.
    out = run([[15, 3, 0]], 1, 3, [0.5]);
    expect((out.scale!.data as Uint16Array)[0]).toBe(0x3800);
    expect(Array.from(out.q!.data as Uint8Array)).toEqual([15, 6, 0]);
  });

  it("rejects bad input with typed errors naming the tensor", () => {
    for (const bad of [0, -0.5, 1.5, NaN, Infinity]) {
      expect(() => run([[1, 2], [3, 4]], 2, 2, [1, bad])).toThrowError(RangeViolationError);
      expect(() => run([[1, 2], [3, 4]], 2, 2, [1, bad])).toThrowError(/tensor 'ratio' at flat index 1/);
      expect(() => quantizeWeightRowChn([1, 2], 0, 2, bad, new Uint8Array(2))).toThrowError(ParamError);
    }
    for (const bad of [NaN, Infinity, -Infinity]) {
      expect(() => run([[1, 2], [3, bad]], 2, 2)).toThrowError(NonFiniteError);
      expect(() => run([[1, 2], [3, bad]], 2, 2)).toThrowError(/tensor 'w'.*index 3/);
      expect(() => quantizeWeightRowChn([1, 2, 3, bad], 2, 2, 1, new Uint8Array(4))).toThrowError(/tensor 'w'.*index 3/);
    }
    // f32(vmax − vmin) overflows binary32; 982800/15 = 65520 is the binary16 tie that rounds to ∞.
    expect(() => run([[1, 2], [3e38, -3e38]], 2, 2)).toThrowError(OverflowError);
    expect(() => run([[1, 2], [3e38, -3e38]], 2, 2)).toThrowError(/row 1/);
    expect(() => run([[982800, 0]], 1, 2)).toThrowError(OverflowError);
    expect(() => run([[982799, 0]], 1, 2)).not.toThrow();
    expect(() => runReference("quant_weight_chn", { w: fromNumbers("f64", [1, 2], [1, 2]) })).toThrowError(DTypeError);
    expect(() => runReference("quant_weight_chn", { w: fromNumbers("f32", [1, 2], [1, 2]), ratio: fromNumbers("f16", [1], [1]) })).toThrowError(/'ratio'/);
  });
});
