import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { getFloat16 } from "@petamoriken/float16";
import { DTypeError, fromNumbers, NonFiniteError, propertyOptions, RangeViolationError, ShapeError, tensor, type NamedTensors } from "@qoq/core";
import { runReference } from "../src/index.js";
import { check, f16FiniteBits, f16Value } from "./independent.js";


/** Finite binary16 bit patterns (any sign, subnormals, ±0, ±65504). */

/** A valid progressive-group weight: s2 ∈ 1..16, z ∈ 0..15, and codes with (q − z)·s2 ∈ [−128, 127]. */
const weightArb = fc
  .record({ n: fc.integer({ min: 1, max: 3 }), gs: fc.constantFrom(1, 2, 3, 8, 128), groups: fc.integer({ min: 1, max: 3 }) })
  .chain(({ n, gs, groups }) => {
    const k = gs * groups;
    return fc.record({
      n: fc.constant(n),
      k: fc.constant(k),
      groups: fc.constant(groups),
      s2: fc.array(fc.integer({ min: 1, max: 16 }), { minLength: n * groups, maxLength: n * groups }),
      zero: fc.array(fc.integer({ min: 0, max: 15 }), { minLength: n * groups, maxLength: n * groups }),
      pick: fc.array(fc.nat(), { minLength: n * k, maxLength: n * k }),
      s1: fc.array(f16FiniteBits, { minLength: n, maxLength: n }),
    });
  })
  .map((c) => {
    const q = c.pick.map((p, i) => {
      const gi = Math.floor(i / c.k) * c.groups + Math.floor((i % c.k) / (c.k / c.groups));
      const s2 = c.s2[gi]!;
      const z = c.zero[gi]!;
      const lo = Math.max(0, z + Math.ceil(-128 / s2));
      const hi = Math.min(15, z + Math.floor(127 / s2));
      return lo + (p % (hi - lo + 1));
    });
    return { ...c, q };
  });

function inputsOf(c: { n: number; k: number; groups: number; q: number[]; zero: number[]; s2: number[]; s1: number[] }): NamedTensors {
  return {
    q: fromNumbers("u8", [c.n, c.k], c.q),
    zero: fromNumbers("u8", [c.n, c.groups], c.zero),
    s2: fromNumbers("u8", [c.n, c.groups], c.s2),
    s1: tensor("f16", [c.n], Uint16Array.from(c.s1)),
  };
}

describe("dequant_weight_g128", () => {
  it("w8 equals the GPU's byte-lane reconstruction and w = s1·w8 exactly", () => {
    fc.assert(
      fc.property(weightArb, (c) => {
        const out = runReference("dequant_weight_g128", inputsOf(c));
        const w8 = out.w8!.data as Int8Array;
        const w = out.w!.data as Float32Array;
        for (let i = 0; i < c.n * c.k; i++) {
          const row = Math.floor(i / c.k);
          const gi = row * c.groups + Math.floor((i % c.k) / (c.k / c.groups));
          // Independent restatement (qoq-spec §1.4): q·s2 plus the byte −z·s2 mod 256, as int8.
          const lane = (c.q[i]! * c.s2[gi]! + ((-c.zero[gi]! * c.s2[gi]!) & 0xff)) & 0xff;
          const want = lane >= 128 ? lane - 256 : lane;
          check(w8[i] === want, () => `w8[${i}] = ${w8[i]}, byte-lane value ${want}`);
          const s1 = f16Value(c.s1[row]!);
          const exact = s1 * want; // exact in double; binary32 must hold it exactly too
          check(Object.is(w[i], exact), () => `w[${i}] = ${w[i]}, s1·w8 = ${exact}`);
          check(Math.fround(exact) === exact, () => `s1·w8 = ${exact} is not a binary32 value`);
        }
      }),
      propertyOptions(200),
    );
  });

  it("accepts the extremes of the INT8 range the format can reach", () => {
    // (0 − 8)·16 = −128 is the most negative; (15 − 6)·14 = 126 the most positive (127 is prime: it needs s2 = 127).
    const out = runReference("dequant_weight_g128", {
      q: fromNumbers("u8", [1, 2], [0, 15]),
      zero: fromNumbers("u8", [1, 2], [8, 6]),
      s2: fromNumbers("u8", [1, 2], [16, 14]),
      s1: fromNumbers("f16", [1], [0.5]),
    });
    expect(Array.from(out.w8!.data as Int8Array)).toEqual([-128, 126]);
    expect(Array.from(out.w!.data as Float32Array)).toEqual([-64, 63]);
  });

  it("rejects bad input with typed errors naming the tensor and flat index", () => {
    const base = (): NamedTensors => ({
      q: fromNumbers("u8", [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]),
      zero: fromNumbers("u8", [2, 2], [3, 3, 3, 3]),
      s2: fromNumbers("u8", [2, 2], [2, 2, 2, 2]),
      s1: fromNumbers("f16", [2], [1, 1]),
    });
    expect(() => runReference("dequant_weight_g128", base())).not.toThrow();
    const cases: [string, (t: NamedTensors) => void, new (...a: never[]) => Error, RegExp][] = [
      ["code 16", (t) => ((t.q!.data as Uint8Array)[5] = 16), RangeViolationError, /tensor 'q' at flat index 5/],
      ["zero 16", (t) => ((t.zero!.data as Uint8Array)[3] = 16), RangeViolationError, /tensor 'zero' at flat index 3/],
      ["s2 0", (t) => ((t.s2!.data as Uint8Array)[2] = 0), RangeViolationError, /tensor 's2' at flat index 2/],
      ["s2 17", (t) => ((t.s2!.data as Uint8Array)[1] = 17), RangeViolationError, /tensor 's2' at flat index 1/],
      // (0 − 15)·16 = −240 and (15 − 0)·9 = 135 leave INT8: the protective range is broken.
      [
        "w8 −240",
        (t) => {
          (t.zero!.data as Uint8Array)[1] = 15;
          (t.s2!.data as Uint8Array)[1] = 16;
          (t.q!.data as Uint8Array)[2] = 0;
        },
        RangeViolationError,
        /tensor 'q' at flat index 2.*-240/,
      ],
      [
        "w8 135",
        (t) => {
          (t.zero!.data as Uint8Array)[2] = 0;
          (t.s2!.data as Uint8Array)[2] = 9;
          (t.q!.data as Uint8Array)[4] = 15;
        },
        RangeViolationError,
        /tensor 'q' at flat index 4.*135/,
      ],
      ["s1 inf", (t) => ((t.s1!.data as Uint16Array)[1] = 0x7c00), NonFiniteError, /tensor 's1'.*index 1/],
      ["s1 NaN", (t) => ((t.s1!.data as Uint16Array)[0] = 0x7e00), NonFiniteError, /tensor 's1'.*index 0/],
    ];
    for (const [what, mutate, type, msg] of cases) {
      const t = base();
      mutate(t);
      expect(() => runReference("dequant_weight_g128", t), what).toThrowError(type);
      expect(() => runReference("dequant_weight_g128", t), what).toThrowError(msg);
    }
    // G = 3 groups do not divide K = 4.
    const t = base();
    t.zero = fromNumbers("u8", [2, 3], [0, 0, 0, 0, 0, 0]);
    t.s2 = fromNumbers("u8", [2, 3], [1, 1, 1, 1, 1, 1]);
    expect(() => runReference("dequant_weight_g128", t)).toThrowError(ShapeError);
    expect(() => runReference("dequant_weight_g128", t)).toThrowError(/K = 4.*G = 3/);
    // Wrong dtypes.
    const d = base();
    d.q = fromNumbers("i8", [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(() => runReference("dequant_weight_g128", d)).toThrowError(DTypeError);
    expect(() => runReference("dequant_weight_g128", d)).toThrowError(/'q'/);
    const e = base();
    e.s1 = fromNumbers("f32", [2], [1, 1]);
    expect(() => runReference("dequant_weight_g128", e)).toThrowError(/'s1'/);
  });
});
