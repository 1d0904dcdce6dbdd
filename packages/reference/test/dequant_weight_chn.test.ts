import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { getFloat16 } from "@petamoriken/float16";
import { DTypeError, fromNumbers, NonFiniteError, propertyOptions, RangeViolationError, tensor, type NamedTensors } from "@qoq/core";
import { runReference } from "../src/index.js";
import { check, f16FiniteBits, f16Value } from "./independent.js";


/** Finite binary16 bit patterns (any sign, subnormals, ±0, ±65504). */

const caseArb = fc.record({ n: fc.integer({ min: 1, max: 4 }), k: fc.integer({ min: 1, max: 100 }) }).chain(({ n, k }) =>
  fc.record({
    n: fc.constant(n),
    k: fc.constant(k),
    q: fc.array(fc.integer({ min: 0, max: 15 }), { minLength: n * k, maxLength: n * k }),
    zero: fc.array(fc.integer({ min: 0, max: 15 }), { minLength: n, maxLength: n }),
    scale: fc.array(f16FiniteBits, { minLength: n, maxLength: n }),
  }),
);

describe("dequant_weight_chn", () => {
  it("w = scale·(q − zero), exact in binary32", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const out = runReference("dequant_weight_chn", {
          q: fromNumbers("u8", [c.n, c.k], c.q),
          zero: fromNumbers("u8", [c.n], c.zero),
          scale: tensor("f16", [c.n], Uint16Array.from(c.scale)),
        });
        const w = out.w!.data as Float32Array;
        for (let i = 0; i < c.n * c.k; i++) {
          const row = Math.floor(i / c.k);
          const exact = f16Value(c.scale[row]!) * (c.q[i]! - c.zero[row]!); // exact in double
          check(Object.is(w[i], exact), () => `w[${i}] = ${w[i]}, scale·(q − z) = ${exact}`);
          check(Math.fround(exact) === exact, () => `scale·(q − z) = ${exact} is not a binary32 value`);
        }
      }),
      propertyOptions(200),
    );
  });

  it("rejects bad input with typed errors naming the tensor and flat index", () => {
    const base = (): NamedTensors => ({
      q: fromNumbers("u8", [2, 3], [1, 2, 3, 4, 5, 6]),
      zero: fromNumbers("u8", [2], [3, 3]),
      scale: fromNumbers("f16", [2], [1, 0.25]),
    });
    expect(Array.from(runReference("dequant_weight_chn", base()).w!.data as Float32Array)).toEqual([-2, -1, 0, 0.25, 0.5, 0.75]);
    const cases: [string, (t: NamedTensors) => void, new (...a: never[]) => Error, RegExp][] = [
      ["code 16", (t) => ((t.q!.data as Uint8Array)[4] = 16), RangeViolationError, /tensor 'q' at flat index 4/],
      ["zero 255", (t) => ((t.zero!.data as Uint8Array)[1] = 255), RangeViolationError, /tensor 'zero' at flat index 1/],
      ["scale inf", (t) => ((t.scale!.data as Uint16Array)[1] = 0xfc00), NonFiniteError, /tensor 'scale'.*index 1/],
      ["scale NaN", (t) => ((t.scale!.data as Uint16Array)[0] = 0x7e01), NonFiniteError, /tensor 'scale'.*index 0/],
      ["q as i8", (t) => (t.q = fromNumbers("i8", [2, 3], [1, 2, 3, 4, 5, 6])), DTypeError, /'q'/],
      ["scale as f32", (t) => (t.scale = fromNumbers("f32", [2], [1, 1])), DTypeError, /'scale'/],
    ];
    for (const [what, mutate, type, msg] of cases) {
      const t = base();
      mutate(t);
      expect(() => runReference("dequant_weight_chn", t), what).toThrowError(type);
      expect(() => runReference("dequant_weight_chn", t), what).toThrowError(msg);
    }
  });
});
