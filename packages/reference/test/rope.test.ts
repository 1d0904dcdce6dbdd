import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f16round } from "@petamoriken/float16";
import { fromF16Bits, fromNumbers, NonFiniteError, ParamError, propertyOptions, RangeViolationError, ShapeError, tensor, toF16Bits, type Tensor } from "@qoq/core";
import { runReference } from "../src/index.js";
import { ropeTable } from "../src/ops/rope.js";

/** Binary16 values whose rotated pairs stay inside the binary16 range (|a|, |b| ≤ 40000 → norm < 56569). */
const f16Value = fc
  .integer({ min: 0, max: 0xffff })
  .map(fromF16Bits)
  .filter((v) => Number.isFinite(v) && Math.abs(v) <= 40000);
const F = new Float32Array(1);
const r32 = (v: number): number => ((F[0] = v), F[0]!);
const STYLES = ["rotate_half", "interleaved"] as const;

/** A random rope case: x [T, H, D], positions into a table of P rows built by ropeTable or drawn at random in [−1, 1]. */
const ropeCase = fc
  .record({
    t: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 2 }),
    half: fc.integer({ min: 1, max: 24 }),
    p: fc.integer({ min: 1, max: 40 }),
    theta: fc.constantFrom(10000, 500000, 3.5),
    randomTable: fc.boolean(),
  })
  .chain((c) =>
    fc.record({
      c: fc.constant(c),
      x: fc.array(f16Value, { minLength: c.t * c.h * 2 * c.half, maxLength: c.t * c.h * 2 * c.half }),
      pos: fc.array(fc.integer({ min: 0, max: c.p - 1 }), { minLength: c.t, maxLength: c.t }),
      table: fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: 2 * c.p * c.half, maxLength: 2 * c.p * c.half }),
    }),
  )
  .map(({ c, x, pos, table }) => {
    const d = 2 * c.half;
    const tab = c.randomTable
      ? { cos: tensor("f32", [c.p, c.half], Float32Array.from(table.slice(0, c.p * c.half))), sin: tensor("f32", [c.p, c.half], Float32Array.from(table.slice(c.p * c.half))) }
      : ropeTable(c.p, d, c.theta);
    return { t: c.t, h: c.h, d, x, pos, ...tab };
  });

const runRope = (t: number, h: number, d: number, x: number[], pos: number[], cos: Tensor, sin: Tensor, style: string) =>
  Array.from(runReference("rope", { x: fromNumbers("f16", [t, h, d], x), pos: fromNumbers("i32", [t], pos), cos, sin }, { style }).y!.data as Uint16Array);

/** Channel pair (a, b) of frequency i for a style. */
const pairOf = (style: string, i: number, d: number): [number, number] => (style === "rotate_half" ? [i, i + d / 2] : [2 * i, 2 * i + 1]);

describe("rope", () => {
  it("both styles match an independent restatement (Float32Array stores, f16round)", () => {
    fc.assert(
      fc.property(ropeCase, ({ t, h, d, x, pos, cos, sin }) => {
        const cs = cos.data as Float32Array;
        const sn = sin.data as Float32Array;
        for (const style of STYLES) {
          const y = runRope(t, h, d, x, pos, cos, sin, style);
          const want = new Array<number>(x.length);
          for (let tok = 0; tok < t; tok++)
            for (let hh = 0; hh < h; hh++)
              for (let i = 0; i < d / 2; i++) {
                const [ia, ib] = pairOf(style, i, d).map((ch) => (tok * h + hh) * d + ch) as [number, number];
                const c = cs[pos[tok]! * (d / 2) + i]!;
                const s = sn[pos[tok]! * (d / 2) + i]!;
                want[ia] = toF16Bits(f16round(r32(r32(x[ia]! * c) - r32(x[ib]! * s))));
                want[ib] = toF16Bits(f16round(r32(r32(x[ia]! * s) + r32(x[ib]! * c))));
              }
          expect(y).toEqual(want);
        }
      }),
      propertyOptions(100),
    );
  });

  it("with a ropeTable, each rotated pair keeps its norm to fp16 tolerance", () => {
    // a' and b' each carry one binary16 rounding (≤ ulp16/2, and |a'|, |b'| ≤ ‖(a, b)‖·(1 + 2^-20))
    // plus three binary32 roundings (≤ 3u·(|a| + |b|) ≤ 4.3u·n); cos² + sin² = 1 ± 3u.
    // So |‖(a', b')‖ − n| ≤ √2·(ulp16(1.001·n)/2 + 4.3u·n) + 2u·n; the test uses ulp16(1.001 n) + 1e-6 n.
    const ulp16 = (v: number): number => 2 ** (Math.max(Math.floor(Math.log2(v)), -14) - 10);
    fc.assert(
      fc.property(ropeCase, ({ t, h, d, x, pos }) => {
        const { cos, sin } = ropeTable(64, d, 10000);
        for (const style of STYLES) {
          const y = runRope(t, h, d, x, pos.map((p) => p % 64), cos, sin, style).map(fromF16Bits);
          for (let row = 0; row < t * h; row++)
            for (let i = 0; i < d / 2; i++) {
              const [ia, ib] = pairOf(style, i, d).map((ch) => row * d + ch) as [number, number];
              const n = Math.hypot(x[ia]!, x[ib]!);
              if (n === 0) {
                expect(Math.hypot(y[ia]!, y[ib]!)).toBe(0);
                continue;
              }
              expect(Math.abs(Math.hypot(y[ia]!, y[ib]!) - n)).toBeLessThanOrEqual(ulp16(1.001 * n) + 1e-6 * n);
            }
        }
      }),
      propertyOptions(100),
    );
  });

  it("position 0 (cos = 1, sin = 0) is the identity in value (zeros may change sign)", () => {
    fc.assert(
      fc.property(ropeCase, ({ t, h, d, x }) => {
        const { cos, sin } = ropeTable(1, d, 10000);
        expect(Array.from(cos.data as Float32Array).every((c) => c === 1)).toBe(true);
        expect(Array.from(sin.data as Float32Array).every((s) => s === 0)).toBe(true);
        for (const style of STYLES) {
          const y = runRope(t, h, d, x, new Array(t).fill(0), cos, sin, style).map(fromF16Bits);
          // === rather than Object.is: (−0)·1 − b·0 is +0 when b < 0, an IEEE sign-of-zero rule.
          expect(y.every((v, i) => v === x[i])).toBe(true);
        }
      }),
      propertyOptions(50),
    );
  });

  it("interleaved on x equals rotate_half on the channel-permuted x, permuted back (bit for bit)", () => {
    fc.assert(
      fc.property(ropeCase, ({ t, h, d, x, pos, cos, sin }) => {
        // perm[j] = interleaved channel that rotate_half channel j holds: i ↦ 2i, i + D/2 ↦ 2i + 1.
        const half = d / 2;
        const perm = Array.from({ length: d }, (_, j) => (j < half ? 2 * j : 2 * (j - half) + 1));
        const xPerm = x.map((_, idx) => x[idx - (idx % d) + perm[idx % d]!]!);
        const yInter = runRope(t, h, d, x, pos, cos, sin, "interleaved");
        const yHalf = runRope(t, h, d, xPerm, pos, cos, sin, "rotate_half");
        const back = new Array<number>(yHalf.length);
        yHalf.forEach((b, idx) => (back[idx - (idx % d) + perm[idx % d]!] = b));
        expect(back).toEqual(yInter);
      }),
      propertyOptions(100),
    );
  });

  it("ropeTable: shape [P, D/2], theta^(−2i/D) frequencies, cos/sin of p·inv_freq rounded to binary32", () => {
    const { cos, sin } = ropeTable(5, 8, 10000);
    expect(cos.shape).toEqual([5, 4]);
    const cs = cos.data as Float32Array;
    const sn = sin.data as Float32Array;
    for (let p = 0; p < 5; p++) {
      expect(cs[p * 4]).toBe(Math.fround(Math.cos(p))); // frequency 0 is 1 rad per position
      expect(sn[p * 4]).toBe(Math.fround(Math.sin(p)));
      expect(cs[p * 4 + 2]).toBe(Math.fround(Math.cos(p / 100))); // 10000^(−4/8) = 1/100
    }
    expect(() => ropeTable(4, 7, 10000)).toThrowError(ParamError);
    expect(() => ropeTable(4, 8, 0)).toThrowError(ParamError);
    expect(() => ropeTable(-1, 8, 10000)).toThrowError(ParamError);
  });

  it("rejects bad positions, odd D, R ≠ D/2 and non-finite inputs with typed errors", () => {
    const { cos, sin } = ropeTable(4, 4, 10000);
    const x = fromNumbers("f16", [2, 1, 4], [1, 2, 3, 4, 5, 6, 7, 8]);
    const bad = (pos: number[]) => () => runReference("rope", { x, pos: fromNumbers("i32", [2], pos), cos, sin });
    expect(bad([0, 4])).toThrowError(RangeViolationError);
    expect(bad([0, 4])).toThrowError(/tensor 'pos'.*index 1/);
    expect(bad([-1, 0])).toThrowError(/tensor 'pos'.*index 0/);
    const odd = ropeTable(4, 2, 10000);
    expect(() => runReference("rope", { x: fromNumbers("f16", [1, 1, 3], [1, 2, 3]), pos: fromNumbers("i32", [1], [0]), ...odd })).toThrowError(ShapeError);
    const wide = ropeTable(4, 8, 10000);
    expect(() => runReference("rope", { x, pos: fromNumbers("i32", [2], [0, 1]), ...wide })).toThrowError(/R = 4.*D\/2 = 2/);
    const nanX = fromNumbers("f16", [2, 1, 4], [1, 2, 3, 4, 5, 6, 7, 8]);
    (nanX.data as Uint16Array)[5] = 0x7e00;
    expect(() => runReference("rope", { x: nanX, pos: fromNumbers("i32", [2], [0, 1]), cos, sin })).toThrowError(NonFiniteError);
    expect(() => runReference("rope", { x: nanX, pos: fromNumbers("i32", [2], [0, 1]), cos, sin })).toThrowError(/tensor 'x'.*index 5/);
    const infCos = tensor("f32", [4, 2], Float32Array.from(cos.data as Float32Array));
    (infCos.data as Float32Array)[3] = Infinity;
    expect(() => runReference("rope", { x, pos: fromNumbers("i32", [2], [0, 1]), cos: infCos, sin })).toThrowError(/tensor 'cos'.*index 3/);
  });
});
