import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { getFloat16, setFloat16, f16round } from "@petamoriken/float16";
import { DTypeError, fromNumbers, NonFiniteError, OverflowError, propertyOptions, type NamedTensors } from "@qoq/core";
import { runReference } from "../src/index.js";
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

/** Rows of k binary32 values of many kinds: typical, any finite f32, scaled, outliers, ties, subnormals, constant, zero. */
function rowArb(k: number): fc.Arbitrary<number[]> {
  const unit = fc.double({ min: -1, max: 1, noNaN: true });
  const units = fc.array(unit, { minLength: k, maxLength: k });
  const typical = fc.tuple(fc.integer({ min: -12, max: 20 }), units).map(([e, xs]) => xs.map((x) => r32(x * 2 ** e)));
  const anyF32 = fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: k, maxLength: k });
  // Magnitudes from the subnormals to past the overflow of amax/127 in binary16 (amax ≥ 127·65520 ≈ 2^23).
  const scaled = fc.tuple(fc.integer({ min: -149, max: 24 }), units).map(([e, xs]) => xs.map((x) => r32(x * 2 ** e)));
  const outlier = fc
    .tuple(fc.integer({ min: -60, max: 10 }), fc.integer({ min: 1, max: 20 }), fc.nat(k - 1), units)
    .map(([e, o, at, xs]) => xs.map((x, i) => r32(x * 2 ** (i === at ? e + o : e))));
  // amax = 127·2^e makes s = 2^e exactly, and (j + 1/2)·2^e is then an exact tie.
  const ties = fc
    .tuple(fc.integer({ min: -20, max: 8 }), fc.array(fc.integer({ min: -127, max: 126 }), { minLength: k, maxLength: k }))
    .map(([e, js]) => js.map((j, i) => (i === 0 ? 127 * 2 ** e : (j + 0.5) * 2 ** e)));
  const subnormal = fc.array(fc.integer({ min: -(2 ** 23 - 1), max: 2 ** 23 - 1 }).map((m) => m * 2 ** -149), { minLength: k, maxLength: k });
  const constant = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e7, max: 1e7 }).map((c) => new Array<number>(k).fill(c));
  const zero = fc.constantFrom(0, -0).map((c) => new Array<number>(k).fill(c));
  return fc.oneof({ arbitrary: typical, weight: 3 }, scaled, outlier, ties, subnormal, anyF32, constant, zero);
}

const caseArb = fc
  .record({ n: fc.integer({ min: 1, max: 3 }), k: fc.integer({ min: 1, max: 200 }) })
  .chain(({ n, k }) => fc.tuple(fc.constant({ n, k }), fc.array(rowArb(k), { minLength: n, maxLength: n })));

/** Independent symmetric INT8 quantization of one row; `null` when the scale overflows binary16. */
function expectRow(row: number[]): { amax: number; s: number; q: number[] } | null {
  const amax = row.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const s = f16round(r32(amax / 127));
  if (s === Infinity) return null;
  return { amax, s, q: row.map((w) => (s === 0 ? 0 : clamp(rneI(r32(w / s)), -127, 127))) };
}

function run(rows: number[][], n: number, k: number): NamedTensors {
  return runReference("quant_weight_int8", { w: fromNumbers("f32", [n, k], rows.flat()) });
}

describe("quant_weight_int8", () => {
  it("matches an independent implementation of the pinned formulas bit for bit (codes in [−127, 127])", () => {
    let checked = 0;
    fc.assert(
      fc.property(caseArb, ([{ n, k }, rows]) => {
        const want = rows.map(expectRow);
        if (want.some((r) => r === null)) {
          expect(() => run(rows, n, k)).toThrowError(OverflowError);
          return;
        }
        const out = run(rows, n, k);
        const q = out.q!.data as Int8Array;
        want.forEach((r, row) => {
          expect((out.scale!.data as Uint16Array)[row]).toBe(f16Bits(r!.s));
          for (let c = 0; c < k; c++) check(q[row * k + c] === r!.q[c], () => `q[${row}, ${c}] = ${q[row * k + c]}, want ${r!.q[c]}`);
        });
        for (let i = 0; i < n * k; i++) check(q[i]! >= -127 && q[i]! <= 127, () => `code ${q[i]} at ${i}`);
        checked++;
      }),
      propertyOptions(200),
    );
    expect(checked).toBeGreaterThan(80);
  });

  it("dequantization error stays within the derived bound", () => {
    // Derivation, with s' = amax/127 exactly, s the stored binary16 scale, t = w/s, q = clamp(rne(f32(t)), ±127):
    //  unclamped (|f32(t)| ≤ 127.5): |w − s·q| ≤ s·(1/2 + 128·2^−24) ≤ s·(1/2 + 2^−17);
    //  clamped: q = ±127 with the sign of w, |w − s·q| = |w| − 127·s ≤ amax − 127·s = 127·(s' − s).
    //  So |w − s·q| ≤ s·(1/2 + 2^−17) + 127·max(0, s' − s); s = 0 gives q = 0 and |w| ≤ 127·s' = amax.
    //  For a normal binary16 s, s ≥ s'(1 − 2^−11)(1 − 2^−24), so |t| < 127.07: the clamp never bites and
    //  |w − s·q| ≤ s·(1/2 + 2^−17).
    const slack = 1 + 2 ** -40;
    let normalRows = 0;
    fc.assert(
      fc.property(caseArb, ([{ n, k }, rows]) => {
        const want = rows.map(expectRow);
        if (want.some((r) => r === null)) return;
        const out = run(rows, n, k);
        const q = out.q!.data as Int8Array;
        rows.forEach((row, r) => {
          const s = f16Value((out.scale!.data as Uint16Array)[r]!);
          const sExact = want[r]!.amax / 127;
          const normal = s >= 2 ** -14;
          if (normal) normalRows++;
          for (let c = 0; c < k; c++) {
            const err = Math.abs(row[c]! - s * q[r * k + c]!);
            const bound = normal ? s * (0.5 + 2 ** -17) : s * (0.5 + 2 ** -17) + 127 * Math.max(0, sExact - s);
            check(err <= bound * slack, () => `row ${r} col ${c}: |w − s·q| = ${err} > ${bound} (s = ${s}, s' = ${sExact})`);
          }
        });
      }),
      propertyOptions(200),
    );
    expect(normalRows).toBeGreaterThan(50);
  });

  it("pins the documented edge cases", () => {
    let out = run([[0, -0]], 1, 2);
    expect(Array.from(out.q!.data as Int8Array)).toEqual([0, 0]);
    expect((out.scale!.data as Uint16Array)[0]).toBe(0);
    // amax = 127 → s = 1; 2.5 is a tie and goes to 2, −3.5 to −4.
    out = run([[127, -127, 2.5, -3.5]], 1, 4);
    expect((out.scale!.data as Uint16Array)[0]).toBe(0x3c00);
    expect(Array.from(out.q!.data as Int8Array)).toEqual([127, -127, 2, -4]);
    // amax = 1.4·127·2^−24 gives the subnormal s = 2^−24, far below amax/127: the clamp keeps ±127.
    const w = Math.fround(1.4 * 127 * 2 ** -24);
    out = run([[w, -w]], 1, 2);
    expect((out.scale!.data as Uint16Array)[0]).toBe(1);
    expect(Array.from(out.q!.data as Int8Array)).toEqual([127, -127]);
  });

  it("rejects bad input with typed errors naming the tensor", () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      expect(() => run([[1, 2], [3, bad]], 2, 2)).toThrowError(NonFiniteError);
      expect(() => run([[1, 2], [3, bad]], 2, 2)).toThrowError(/tensor 'w'.*index 3/);
    }
    // 127·65520 = 8321040: amax/127 = 65520 is the binary16 tie that rounds to ∞.
    expect(() => run([[1, 2], [3, 8321040]], 2, 2)).toThrowError(OverflowError);
    expect(() => run([[1, 2], [3, 8321040]], 2, 2)).toThrowError(/row 1/);
    expect(() => run([[8321032, 0]], 1, 2)).not.toThrow();
    expect(() => runReference("quant_weight_int8", { w: fromNumbers("f16", [1, 2], [1, 2]) })).toThrowError(DTypeError);
    expect(() => runReference("quant_weight_int8", { w: fromNumbers("f16", [1, 2], [1, 2]) })).toThrowError(/'w'/);
  });
});
