import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { getFloat16, setFloat16, f16round } from "@petamoriken/float16";
import { DTypeError, fromNumbers, NonFiniteError, OverflowError, propertyOptions, ShapeError, type NamedTensors } from "@qoq/core";
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

/** Rows of k binary32 values of many kinds: any finite f32, scaled, outliers, ties, subnormals, constant, zero. */
function rowArb(k: number): fc.Arbitrary<number[]> {
  const unit = fc.double({ min: -1, max: 1, noNaN: true });
  const units = fc.array(unit, { minLength: k, maxLength: k });
  const anyF32 = fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: k, maxLength: k });
  // Magnitudes from the bottom of the subnormals to past the level-1 overflow (amax ≥ 119·65520 ≈ 2^22.9).
  const scaled = fc.tuple(fc.integer({ min: -149, max: 24 }), units).map(([e, xs]) => xs.map((x) => r32(x * 2 ** e)));
  // The common case: weights of ordinary magnitude, binary16 scales in the normal range.
  const typical = fc.tuple(fc.integer({ min: -12, max: 20 }), units).map(([e, xs]) => xs.map((x) => r32(x * 2 ** e)));
  const outlier = fc
    .tuple(fc.integer({ min: -60, max: 10 }), fc.integer({ min: 1, max: 20 }), fc.nat(k - 1), units)
    .map(([e, o, at, xs]) => xs.map((x, i) => r32(x * 2 ** (i === at ? e + o : e))));
  const subnormal = fc.array(fc.integer({ min: -(2 ** 23 - 1), max: 2 ** 23 - 1 }).map((m) => m * 2 ** -149), { minLength: k, maxLength: k });
  // amax = 119·2^e makes s1 = 2^e exactly, and (j + 1/2)·2^e is then an exact level-1 tie.
  const ties = fc
    .tuple(fc.integer({ min: -30, max: 8 }), fc.boolean(), fc.array(fc.integer({ min: -119, max: 118 }), { minLength: k, maxLength: k }))
    .map(([e, neg, js]) => js.map((j, i) => (i === 0 ? (neg ? -119 : 119) * 2 ** e : (j + 0.5) * 2 ** e)));
  const constant = fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e7, max: 1e7 }).map((c) => new Array<number>(k).fill(c));
  const zero = fc.constantFrom(0, -0).map((c) => new Array<number>(k).fill(c));
  return fc.oneof({ arbitrary: typical, weight: 3 }, scaled, outlier, subnormal, ties, anyF32, constant, zero);
}

/** A weight matrix N×K with group size g, K = g·G. */
const caseArb = fc
  .record({ n: fc.integer({ min: 1, max: 3 }), g: fc.constantFrom(1, 2, 3, 4, 8, 16, 128), groups: fc.integer({ min: 1, max: 3 }) })
  .chain(({ n, g, groups }) => fc.tuple(fc.constant({ n, g, k: g * groups }), fc.array(rowArb(g * groups), { minLength: n, maxLength: n })));

/** Independent level-1 and level-2 quantization of one row; `null` when s1 overflows binary16. */
function expectRow(row: number[], g: number): { s1: number; u: number[]; s2: number[]; z: number[]; q: number[] } | null {
  const amax = row.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const s1 = f16round(r32(amax / 119));
  if (s1 === Infinity) return null;
  const u = row.map((w) => (s1 === 0 ? 0 : clamp(rneI(r32(w / s1)), -119, 119)));
  const s2: number[] = [];
  const z: number[] = [];
  const q: number[] = [];
  for (let j = 0; j < row.length / g; j++) {
    const grp = u.slice(j * g, (j + 1) * g);
    const vmax = Math.max(0, ...grp);
    const vmin = Math.min(0, ...grp);
    const s = Math.max(1, rneI((vmax - vmin) / 15));
    const zz = clamp(rneI(-vmin / s), 0, 15);
    s2.push(s);
    z.push(zz);
    for (const v of grp) q.push(clamp(rneI(v / s) + zz, 0, 15));
  }
  return { s1, u, s2, z, q };
}

function run(rows: number[][], n: number, k: number, g: number): NamedTensors {
  return runReference("quant_weight_g128", { w: fromNumbers("f32", [n, k], rows.flat()) }, { group: g });
}

describe("quant_weight_g128", () => {
  it("w8 = (q − z)·s2 stays in [−127, 127] ⊂ [−128, 127], s2 ∈ 1..16, codes 0..15, for any finite f32 input", () => {
    // Why [−127, 127]: q − z = clamp(rne(u/s2), −z, 15 − z) with −z ≤ 0 ≤ 15 − z, so |w8| ≤ |rne(u/s2)|·s2 ≤ |u| + s2/2 ≤ 119 + 8.
    let checked = 0;
    fc.assert(
      fc.property(caseArb, ([{ n, k, g }, rows]) => {
        const overflows = rows.some((r) => expectRow(r, g) === null);
        if (overflows) {
          expect(() => run(rows, n, k, g)).toThrowError(OverflowError);
          return;
        }
        const out = run(rows, n, k, g);
        const q = out.q!.data as Uint8Array;
        const z = out.zero!.data as Uint8Array;
        const s2 = out.s2!.data as Uint8Array;
        for (let i = 0; i < n * k; i++) {
          const gi = Math.floor(i / k) * (k / g) + Math.floor((i % k) / g);
          check(q[i]! <= 15 && z[gi]! <= 15, () => `code ${q[i]} or zero ${z[gi]} above 15 at ${i}`);
          check(s2[gi]! >= 1 && s2[gi]! <= 16, () => `s2 ${s2[gi]} outside 1..16 at group ${gi}`);
          const w8 = (q[i]! - z[gi]!) * s2[gi]!;
          check(Math.abs(w8) <= 127, () => `w8 = ${w8} at ${i}`);
        }
        // The dequantizer accepts every quantizer output (its protective-range check never fires).
        const dq = runReference("dequant_weight_g128", { q: out.q!, zero: out.zero!, s2: out.s2!, s1: out.s1! });
        expect(dq.w8!.shape).toEqual([n, k]);
        checked++;
      }),
      propertyOptions(200),
    );
    expect(checked).toBeGreaterThan(80); // tripwire: most cases must not be overflow cases
  });

  it("matches an independent implementation of the pinned formulas bit for bit", () => {
    fc.assert(
      fc.property(caseArb, ([{ n, k, g }, rows]) => {
        const want = rows.map((r) => expectRow(r, g));
        if (want.some((r) => r === null)) return;
        const out = run(rows, n, k, g);
        const groups = k / g;
        want.forEach((r, row) => {
          expect((out.s1!.data as Uint16Array)[row]).toBe(f16Bits(r!.s1));
          expect(Array.from((out.q!.data as Uint8Array).subarray(row * k, (row + 1) * k))).toEqual(r!.q);
          expect(Array.from((out.zero!.data as Uint8Array).subarray(row * groups, (row + 1) * groups))).toEqual(r!.z);
          expect(Array.from((out.s2!.data as Uint8Array).subarray(row * groups, (row + 1) * groups))).toEqual(r!.s2);
        });
      }),
      propertyOptions(200),
    );
  });

  it("dequantization error stays within the derived bound", () => {
    // Derivation, with t = w/s1 (real) and u the level-1 integer:
    //  level 1: u = clamp(rne(f32(t)), ±119). Unclamped, |t − u| ≤ 1/2 + |t − f32(t)| ≤ 1/2 + |t|·2^−24;
    //    clamped, u = ±119 with the sign of t and |t − u| = |t| − 119. So e1 = max(1/2 + |t|·2^−24, |t| − 119).
    //    For a normal binary16 s1 (amax ≥ 119·2^−14), s1 ≥ (amax/119)(1 − 2^−11)(1 − 2^−24), so |t| < 119.1:
    //    the clamp never bites and e1 ≤ 1/2 + 2^−17.
    //  level 2: w8 = s2·clamp(rne(u/s2), −z, 15 − z). Unclamped, |u − w8| ≤ s2/2. Clamped at the top,
    //    u − w8 ≤ vmax − (15 − z)s2 with z·s2 ≤ −vmin + s2/2, i.e. ≤ R − 15·s2 + s2/2 (R = vmax − vmin);
    //    clamped at the bottom, ≤ s2/2 (z unclamped) or ≤ R − 15·s2 (z = 15). So e2 = s2/2 + max(0, R − 15·s2),
    //    and R − 15·s2 ≤ 7 always (s2 = max(1, rne(R/15)) ⇒ R ≤ 15·s2 + 7.5, R an integer).
    //  total: |w − s1·w8| = s1·|t − w8| ≤ s1·(e1 + e2). s1 = 0 (amax ≤ 119·2^−25) gives w8 = 0 and |w| ≤ amax.
    const slack = 1 + 2 ** -40; // the bound itself is evaluated in double precision
    let normalRows = 0;
    fc.assert(
      fc.property(caseArb, ([{ n, k, g }, rows]) => {
        const want = rows.map((r) => expectRow(r, g));
        if (want.some((r) => r === null)) return;
        const out = run(rows, n, k, g);
        const dq = runReference("dequant_weight_g128", { q: out.q!, zero: out.zero!, s2: out.s2!, s1: out.s1! });
        const w8 = dq.w8!.data as Int8Array;
        const what = dq.w!.data as Float32Array;
        rows.forEach((row, r) => {
          const s1 = f16Value((out.s1!.data as Uint16Array)[r]!);
          const amax = row.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          if (s1 === 0) {
            expect(amax).toBeLessThanOrEqual(119 * 2 ** -25);
            for (let i = 0; i < k; i++) expect(w8[r * k + i]).toBe(0);
            return;
          }
          const normal = amax >= 119 * 2 ** -14;
          if (normal) normalRows++;
          const u = want[r]!.u;
          for (let j = 0; j < k / g; j++) {
            const grp = u.slice(j * g, (j + 1) * g);
            const range = Math.max(0, ...grp) - Math.min(0, ...grp);
            const s2 = (out.s2!.data as Uint8Array)[r * (k / g) + j]!;
            expect(range - 15 * s2).toBeLessThanOrEqual(7);
            const e2 = s2 / 2 + Math.max(0, range - 15 * s2);
            for (let c = j * g; c < (j + 1) * g; c++) {
              const i = r * k + c;
              const t = Math.abs(row[c]! / s1);
              const e1 = Math.max(0.5 + t * 2 ** -24, t - 119);
              check(!normal || e1 <= 0.5 + 2 ** -17, () => `level-1 error bound ${e1} for a normal s1 at ${i}`);
              check(Math.abs(u[c]! - w8[i]!) <= e2, () => `|u − w8| = |${u[c]} − ${w8[i]}| > ${e2} at ${i}`);
              check(what[i] === s1 * w8[i]!, () => `w = ${what[i]} is not s1·w8 = ${s1 * w8[i]!} at ${i}`); // exact reconstruction
              const err = Math.abs(row[c]! - s1 * w8[i]!);
              check(err <= s1 * (e1 + e2) * slack, () => `|w − ŵ| = ${err} > s1·(e1 + e2) = ${s1 * (e1 + e2)} at ${i}`);
            }
          }
        });
      }),
      propertyOptions(200),
    );
    expect(normalRows).toBeGreaterThan(50); // tripwire: the common, normal-scale case is well covered
  });

  it("pins the documented edge cases", () => {
    // All-zero row: scale 0, zero 0, codes 0, s2 = 1 (never a division by zero).
    let out = run([[0, -0, 0, 0]], 1, 4, 2);
    expect(Array.from(out.q!.data as Uint8Array)).toEqual([0, 0, 0, 0]);
    expect(Array.from(out.s2!.data as Uint8Array)).toEqual([1, 1]);
    expect(Array.from(out.zero!.data as Uint8Array)).toEqual([0, 0]);
    expect((out.s1!.data as Uint16Array)[0]).toBe(0);
    // amax = 119 → s1 = 1, u = w. Group [−119, 119]: R = 238, s2 = rne(15.87) = 16, z = rne(7.44) = 7,
    // q(−119) = rne(−7.44) + 7 = 0 → w8 = −112; q(119) = 7 + 7 = 14 → w8 = 112.
    out = run([[-119, 119, 0, 8]], 1, 4, 4);
    expect((out.s1!.data as Uint16Array)[0]).toBe(0x3c00);
    expect(Array.from(out.s2!.data as Uint8Array)).toEqual([16]);
    expect(Array.from(out.zero!.data as Uint8Array)).toEqual([7]);
    // 8/16 = 0.5 is a tie and goes to the even 0.
    expect(Array.from(out.q!.data as Uint8Array)).toEqual([0, 14, 7, 7]);
    // Group [0, 22] with s2 = rne(22/15) = 1 cannot hold 22 (clamped to code 15): the level-2 clamp case of the bound.
    out = run([[119, 0, 22, 1]], 1, 4, 2);
    expect(Array.from(out.s2!.data as Uint8Array)).toEqual([8, 1]);
    expect(Array.from(out.q!.data as Uint8Array)).toEqual([15, 0, 15, 1]);
  });

  it("rejects bad input with typed errors naming the tensor", () => {
    expect(() => run([[1, 2, 3, 4, 5, 6]], 1, 6, 4)).toThrowError(ShapeError);
    expect(() => run([[1, 2, 3, 4, 5, 6]], 1, 6, 4)).toThrowError(/'w'.*multiple of the group size 4/);
    expect(() => runReference("quant_weight_g128", { w: fromNumbers("f64", [1, 4], [1, 2, 3, 4]) }, { group: 2 })).toThrowError(DTypeError);
    expect(() => runReference("quant_weight_g128", { w: fromNumbers("f64", [1, 4], [1, 2, 3, 4]) }, { group: 2 })).toThrowError(/'w'/);
    for (const bad of [NaN, Infinity, -Infinity]) {
      expect(() => run([[1, 2], [3, bad]], 2, 2, 2)).toThrowError(NonFiniteError);
      expect(() => run([[1, 2], [3, bad]], 2, 2, 2)).toThrowError(/tensor 'w'.*index 3/);
    }
    // max|w|/119 rounds to binary16 infinity from 119·65520 = 7796880 on (65520 is the tie that goes to ∞).
    expect(() => run([[1, 2], [3, 7796880]], 2, 2, 2)).toThrowError(OverflowError);
    expect(() => run([[1, 2], [3, 7796880]], 2, 2, 2)).toThrowError(/row 1/);
    expect(() => run([[7796872, 0]], 1, 2, 2)).not.toThrow(); // f32(7796872/119) = 65519.93… → 65504
  });
});
