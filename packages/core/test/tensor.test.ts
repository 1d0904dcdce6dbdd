/**
 * The Tensor type (tensor.ts). Oracles: @petamoriken/float16 for binary16 encodings,
 * Float32Array stores for binary32, hand-written expected values and error fields.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { f16round, getFloat16, setFloat16 } from "@petamoriken/float16";
import {
  allocData,
  bytesEqual,
  describe as describeTensor,
  DTYPE_SIZE,
  DTYPES,
  INT_RANGE,
  NonFiniteError,
  numel,
  propertyOptions,
  QoqError,
  RangeViolationError,
  ShapeError,
  tensor,
  tensorBytes,
  toNumbers,
  fromNumbers,
  zeros,
  assertFinite,
  type DType,
  type Tensor,
} from "../src/index.js";

const dv = new DataView(new ArrayBuffer(4));
const halfBits = (x: number): number => {
  setFloat16(dv, 0, x, true);
  return dv.getUint16(0, true);
};
const halfValue = (h: number): number => {
  dv.setUint16(0, h, true);
  return getFloat16(dv, 0, true);
};

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

describe("numel, zeros, tensor, allocData", () => {
  it("numel", () => {
    expect(numel([])).toBe(1);
    expect(numel([7])).toBe(7);
    expect(numel([2, 3, 4])).toBe(24);
    expect(numel([0, 5])).toBe(0);
    expect(numel([5, 0, 3])).toBe(0);
    // a zero dimension makes zero elements however large the others are
    expect(numel([2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 53 - 1, 0])).toBe(0);
  });

  it("allocData gives the documented typed array and element size for every dtype", () => {
    const ctor: Record<DType, unknown> = { f16: Uint16Array, f32: Float32Array, f64: Float64Array, i8: Int8Array, u8: Uint8Array, i32: Int32Array };
    expect([...DTYPES].sort()).toEqual(["f16", "f32", "f64", "i32", "i8", "u8"]);
    for (const d of DTYPES) {
      const a = allocData(d, 5);
      expect(a).toBeInstanceOf(ctor[d] as never);
      expect(a.length).toBe(5);
      expect(a.BYTES_PER_ELEMENT).toBe(DTYPE_SIZE[d]);
      expect([...a].every((x) => x === 0)).toBe(true);
    }
    expect(DTYPE_SIZE).toEqual({ f16: 2, f32: 4, f64: 8, i8: 1, u8: 1, i32: 4 });
    expect(INT_RANGE).toEqual({ i8: [-128, 127], u8: [0, 255], i32: [-(2 ** 31), 2 ** 31 - 1] });
  });

  it("zeros and tensor check shapes with ShapeError", () => {
    const z = zeros("f32", [2, 3]);
    expect(z.shape).toEqual([2, 3]);
    expect(z.data.length).toBe(6);
    expect(zeros("i8", []).data.length).toBe(1);
    for (const bad of [[-1], [1.5], [NaN], [Infinity], [2, -3], [2 ** 53]]) {
      expect(thrown(() => zeros("f32", bad))).toBeInstanceOf(ShapeError);
      expect(thrown(() => tensor("f32", bad, new Float32Array(0)))).toBeInstanceOf(ShapeError);
    }
    const e = thrown(() => tensor("f32", [3], new Float32Array(2)));
    expect(e).toBeInstanceOf(ShapeError);
    expect((e as ShapeError).code).toBe("shape");
    const ok = new Int32Array([1, 2, 3, 4]);
    const t = tensor("i32", [2, 2], ok);
    expect(t.data).toBe(ok); // wraps, no copy
    // the shape is copied, so mutating the caller's array does not change the tensor
    const shape = [4];
    const t2 = tensor("i32", shape, ok);
    shape[0] = 9;
    expect(t2.shape).toEqual([4]);
  });

  it("describe", () => {
    expect(describeTensor(zeros("f16", [4, 128]))).toBe("f16[4×128]");
    expect(describeTensor(zeros("u8", []))).toBe("u8[]");
  });
});

describe("fromNumbers", () => {
  it("f16 rounds to nearest even, by hand-checked bits", () => {
    const t = fromNumbers("f16", [8], [1, 0.1, 65519, 65520, -0, 3 * 2 ** -25, 2 ** -25, 1 + 2 ** -11]);
    expect([...t.data]).toEqual([0x3c00, 0x2e66, 0x7bff, 0x7c00, 0x8000, 0x0002, 0x0000, 0x3c00]);
    expect([...fromNumbers("f16", [2], [NaN, -Infinity]).data]).toEqual([0x7e00, 0xfc00]);
  });

  it("f16 of binary32 values equals the oracle's binary16 rounding", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.float(), fc.float({ min: -70000, max: 70000 })), { maxLength: 50 }), (vals) => {
        const t = fromNumbers("f16", [vals.length], vals);
        expect(t.data).toBeInstanceOf(Uint16Array);
        expect([...t.data]).toEqual(vals.map(halfBits));
      }),
      propertyOptions(300),
    );
  });

  it("f16 of arbitrary doubles goes through binary32 first (contract: f16 is the binary32 → binary16 conversion)", () => {
    // Pinned on purpose: 1 + 2^-11 + 2^-40 lies above the tie between 1 and 1 + 2^-10, so a direct
    // double → half rounding gives 1 + 2^-10, but as a binary32 it is exactly the tie, which goes to 1.
    const x = 1 + 2 ** -11 + 2 ** -40;
    expect(halfBits(x)).toBe(0x3c01);
    expect([...fromNumbers("f16", [1], [x]).data]).toEqual([0x3c00]);
    fc.assert(
      fc.property(fc.array(fc.double(), { maxLength: 50 }), (vals) => {
        const t = fromNumbers("f16", [vals.length], vals);
        expect([...t.data]).toEqual(vals.map((v) => halfBits(Math.fround(v))));
      }),
      propertyOptions(300),
    );
  });

  it("f32 rounds to nearest even; f64 is exact", () => {
    const t = fromNumbers("f32", [4], [0.1, 1 + 2 ** -24, 1 + 2 ** -24 + 2 ** -50, 1e39]);
    expect(t.data).toBeInstanceOf(Float32Array);
    expect([...t.data]).toEqual([0.10000000149011612, 1, 1 + 2 ** -23, Infinity]);
    fc.assert(
      fc.property(fc.array(fc.double(), { maxLength: 50 }), (vals) => {
        const f = fromNumbers("f32", [vals.length], vals);
        const store = new Float32Array(vals.length);
        for (let i = 0; i < vals.length; i++) store[i] = vals[i]!;
        expect(new Uint8Array(f.data.buffer)).toEqual(new Uint8Array(store.buffer));
        const d = fromNumbers("f64", [vals.length], vals);
        for (let i = 0; i < vals.length; i++) expect(Object.is(d.data[i], vals[i])).toBe(true);
      }),
      propertyOptions(300),
    );
  });

  it("integers are stored as given, at the range boundaries too", () => {
    expect([...fromNumbers("i8", [4], [-128, 127, 0, -0]).data]).toEqual([-128, 127, 0, 0]);
    expect([...fromNumbers("u8", [2], [0, 255]).data]).toEqual([0, 255]);
    expect([...fromNumbers("i32", [2], [-(2 ** 31), 2 ** 31 - 1]).data]).toEqual([-(2 ** 31), 2 ** 31 - 1]);
  });

  it("integers outside the range or not integral throw RangeViolationError with name and index", () => {
    const cases: [DType, number][] = [
      ["i8", 128],
      ["i8", -129],
      ["i8", 1.5],
      ["i8", NaN],
      ["u8", -1],
      ["u8", 256],
      ["u8", 0.5],
      ["i32", 2 ** 31],
      ["i32", -(2 ** 31) - 1],
      ["i32", Infinity],
    ];
    for (const [dtype, v] of cases) {
      const e = thrown(() => fromNumbers(dtype, [3], [0, 1, v], "codes"));
      expect(e, `${dtype} ${v}`).toBeInstanceOf(RangeViolationError);
      const r = e as RangeViolationError;
      expect(r).toBeInstanceOf(QoqError);
      expect(r.code).toBe("range");
      expect(r.tensor).toBe("codes");
      expect(r.index).toBe(2);
      expect(r.message).toContain("codes");
      expect(r.message).toContain("index 2");
    }
    expect((thrown(() => fromNumbers("u8", [1], [300])) as RangeViolationError).tensor).toBe("values");
  });

  it("a value count that does not fill the shape is a ShapeError naming the tensor", () => {
    const e = thrown(() => fromNumbers("f32", [2, 2], [1, 2, 3], "x"));
    expect(e).toBeInstanceOf(ShapeError);
    expect((e as Error).message).toContain("'x'");
    expect(thrown(() => fromNumbers("i8", [2], [1, 2, 3]))).toBeInstanceOf(ShapeError);
    expect(thrown(() => fromNumbers("f16", [-1], []))).toBeInstanceOf(ShapeError);
  });
});

describe("toNumbers", () => {
  it("decodes binary16 bits and passes other dtypes through", () => {
    const h = tensor("f16", [5], Uint16Array.from([0x3c00, 0xc000, 0x7c00, 0x8000, 0x0001]));
    const v = toNumbers(h);
    expect(v).toBeInstanceOf(Float64Array);
    expect([...v]).toEqual([1, -2, Infinity, -0, 2 ** -24]);
    expect(Object.is(v[3], -0)).toBe(true);
    expect(Number.isNaN(toNumbers(tensor("f16", [1], Uint16Array.from([0x7e00])))[0])).toBe(true);
    expect([...toNumbers(fromNumbers("i8", [2], [-128, 5]))]).toEqual([-128, 5]);
    expect([...toNumbers(fromNumbers("u8", [1], [255]))]).toEqual([255]);
    expect([...toNumbers(fromNumbers("i32", [1], [-(2 ** 31)]))]).toEqual([-(2 ** 31)]);
    expect([...toNumbers(fromNumbers("f32", [1], [0.1]))]).toEqual([Math.fround(0.1)]);
  });

  it("every binary16 pattern decodes to the oracle's value", () => {
    const bits = new Uint16Array(0x10000).map((_, i) => i);
    const v = toNumbers(tensor("f16", [0x10000], bits));
    for (let h = 0; h < 0x10000; h++) {
      const o = halfValue(h);
      if (!(Object.is(v[h], o) || (Number.isNaN(v[h]!) && Number.isNaN(o)))) expect.fail(`0x${h.toString(16)}: ${v[h]} vs ${o}`);
    }
  });

  it("fromNumbers then toNumbers is f16 / f32 rounding", () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true }), { maxLength: 30 }), (vals) => {
        expect([...toNumbers(fromNumbers("f16", [vals.length], vals))]).toEqual(vals.map((x) => f16round(x)));
        expect([...toNumbers(fromNumbers("f32", [vals.length], vals))]).toEqual(vals);
      }),
      propertyOptions(200),
    );
  });
});

describe("assertFinite", () => {
  function expectNonFinite(t: Tensor, name: string, index: number): void {
    const e = thrown(() => assertFinite(name, t));
    expect(e).toBeInstanceOf(NonFiniteError);
    const n = e as NonFiniteError;
    expect(n.code).toBe("non_finite");
    expect(n.tensor).toBe(name);
    expect(n.index).toBe(index);
    expect(n.message).toContain(`'${name}'`);
    expect(n.message).toContain(`index ${index}`);
  }

  it("finds NaN and ±inf in f16 by bit pattern, naming the tensor and the first index", () => {
    expectNonFinite(tensor("f16", [4], Uint16Array.from([0x3c00, 0x7bff, 0x7c00, 0x7e00])), "x", 2);
    expectNonFinite(tensor("f16", [2, 2], Uint16Array.from([0, 0, 0, 0xfc00])), "gamma", 3);
    expectNonFinite(tensor("f16", [1], Uint16Array.from([0x7c01])), "y", 0); // a NaN with a payload
    expectNonFinite(tensor("f16", [2], Uint16Array.from([0x8000, 0xffff])), "y", 1); // negative NaN
    // the largest finite values, subnormals and −0 pass
    assertFinite("ok", tensor("f16", [5], Uint16Array.from([0x7bff, 0xfbff, 0x0001, 0x8000, 0x3c00])));
  });

  it("finds NaN and ±inf in f32 and f64", () => {
    expectNonFinite(fromNumbers("f32", [3], [1, NaN, Infinity]), "w", 1);
    expectNonFinite(fromNumbers("f32", [3], [1, 2, -Infinity]), "w", 2);
    expectNonFinite(fromNumbers("f32", [2], [1, 1e39]), "w", 1); // overflows when stored
    expectNonFinite(fromNumbers("f64", [2], [Infinity, 0]), "lambda", 0);
    assertFinite("ok", fromNumbers("f32", [3], [3.4e38, -3.4e38, 1e-45]));
    assertFinite("ok", fromNumbers("f64", [1], [Number.MAX_VALUE]));
  });

  it("integer tensors are always finite", () => {
    assertFinite("q", fromNumbers("i8", [2], [-128, 127]));
    assertFinite("q", fromNumbers("u8", [1], [255]));
    assertFinite("q", fromNumbers("i32", [1], [2 ** 31 - 1]));
  });
});

describe("bytesEqual and tensorBytes", () => {
  it("compares dtype, shape and bytes", () => {
    const a = fromNumbers("f32", [2, 2], [1, 2, 3, 4]);
    expect(bytesEqual(a, fromNumbers("f32", [2, 2], [1, 2, 3, 4]))).toBe(true);
    expect(bytesEqual(a, fromNumbers("f32", [2, 2], [1, 2, 3, 5]))).toBe(false);
    expect(bytesEqual(a, fromNumbers("f32", [4], [1, 2, 3, 4]))).toBe(false); // shape
    expect(bytesEqual(a, fromNumbers("f32", [1, 4], [1, 2, 3, 4]))).toBe(false);
    expect(bytesEqual(fromNumbers("i8", [2], [1, 2]), fromNumbers("u8", [2], [1, 2]))).toBe(false); // dtype, same bytes
    // bytes, not values: −0 ≠ +0 and NaN = NaN (same pattern)
    expect(bytesEqual(fromNumbers("f32", [1], [0]), fromNumbers("f32", [1], [-0]))).toBe(false);
    expect(bytesEqual(fromNumbers("f32", [1], [NaN]), fromNumbers("f32", [1], [NaN]))).toBe(true);
    expect(bytesEqual(fromNumbers("f16", [1], [1]), tensor("f16", [1], Uint16Array.from([0x3c00])))).toBe(true);
    expect(bytesEqual(zeros("f32", [0]), zeros("f32", [0]))).toBe(true);
    expect(bytesEqual(zeros("f32", [0, 3]), zeros("f32", [3, 0]))).toBe(false);
  });

  it("works on views with a byte offset (only the view's bytes count)", () => {
    const buf = new Float32Array([9, 1, 2, 9]);
    const view = tensor("f32", [2], buf.subarray(1, 3));
    expect(bytesEqual(view, fromNumbers("f32", [2], [1, 2]))).toBe(true);
    const b = tensorBytes(view);
    expect(b.length).toBe(8);
    expect(b.byteOffset).toBe(4);
    expect([...b]).toEqual([...new Uint8Array(new Float32Array([1, 2]).buffer)]);
    b[0] = 0xff; // a view, not a copy
    expect(buf[1]).not.toBe(1);
  });

  it("tensorBytes is little-endian", () => {
    expect([...tensorBytes(fromNumbers("i32", [1], [0x01020304]))]).toEqual([4, 3, 2, 1]);
    expect([...tensorBytes(fromNumbers("f16", [1], [1]))]).toEqual([0x00, 0x3c]);
  });
});
