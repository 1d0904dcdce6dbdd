/**
 * INT4 packing (int4.ts): low nibble first, as QServe packs KV4 codes. Oracles: hand-written
 * bytes and the arithmetic definition byte = lo + 16·hi, nibble → two's complement value.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { packInt4, packUint4, propertyOptions, RangeViolationError, ShapeError, unpackInt4, unpackUint4 } from "../src/index.js";

const u8 = (xs: number[]): Uint8Array => Uint8Array.from(xs);
const i8 = (xs: number[]): Int8Array => Int8Array.from(xs);

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

describe("UINT4 packing", () => {
  it("puts element 2i in the low nibble and 2i+1 in the high nibble", () => {
    expect([...packUint4(u8([1, 2]))]).toEqual([0x21]);
    expect([...packUint4(u8([0xf, 0]))]).toEqual([0x0f]);
    expect([...packUint4(u8([0, 0xf]))]).toEqual([0xf0]);
    expect([...packUint4(u8([1, 2, 3, 4, 15, 15]))]).toEqual([0x21, 0x43, 0xff]);
    expect([...packUint4(u8([]))]).toEqual([]);
    expect([...unpackUint4(u8([0x21, 0xa0, 0x0b]))]).toEqual([1, 2, 0, 10, 11, 0]);
  });

  it("pack(codes)[i] = codes[2i] + 16·codes[2i+1], and unpack inverts pack", () => {
    const codes = fc.integer({ min: 0, max: 200 }).chain((n) => fc.uint8Array({ min: 0, max: 15, minLength: 2 * n, maxLength: 2 * n }));
    fc.assert(
      fc.property(codes, (c) => {
        const p = packUint4(c);
        expect(p.length).toBe(c.length / 2);
        const want = Uint8Array.from({ length: p.length }, (_, i) => c[2 * i]! + 16 * c[2 * i + 1]!);
        expect(p).toEqual(want);
        expect(unpackUint4(p)).toEqual(c);
      }),
      propertyOptions(300),
    );
  });

  it("pack inverts unpack on any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const c = unpackUint4(b);
        expect(c.length).toBe(2 * b.length);
        expect(c.every((x) => x <= 15)).toBe(true);
        expect(packUint4(c)).toEqual(b);
      }),
      propertyOptions(300),
    );
  });

  it("rejects codes above 15 with a RangeViolationError naming the tensor and index", () => {
    const e = thrown(() => packUint4(u8([1, 2, 3, 16]), "kcodes"));
    expect(e).toBeInstanceOf(RangeViolationError);
    const r = e as RangeViolationError;
    expect(r.code).toBe("range");
    expect(r.tensor).toBe("kcodes");
    expect(r.index).toBe(3);
    expect(r.message).toContain("kcodes");
    expect(r.message).toContain("16");

    const e2 = thrown(() => packUint4(u8([255, 0]))) as RangeViolationError;
    expect(e2).toBeInstanceOf(RangeViolationError);
    expect(e2.index).toBe(0);
    expect(e2.tensor).toBe("codes");
    // first offender wins
    expect((thrown(() => packUint4(u8([0, 0, 99, 17]))) as RangeViolationError).index).toBe(2);
  });

  it("rejects an odd number of codes with a ShapeError naming the tensor", () => {
    for (const n of [1, 3, 101]) {
      const e = thrown(() => packUint4(new Uint8Array(n), "vcodes"));
      expect(e).toBeInstanceOf(ShapeError);
      expect((e as ShapeError).code).toBe("shape");
      expect((e as Error).message).toContain("vcodes");
      expect((e as Error).message).toContain(String(n));
    }
  });
});

describe("INT4 (signed) packing", () => {
  it("uses two's complement nibbles, low nibble first", () => {
    expect([...packInt4(i8([-1, 7]))]).toEqual([0x7f]);
    expect([...packInt4(i8([-8, 0]))]).toEqual([0x08]);
    expect([...packInt4(i8([0, -8]))]).toEqual([0x80]);
    expect([...packInt4(i8([1, -2, -7, 3]))]).toEqual([0xe1, 0x39]);
    expect([...unpackInt4(u8([0x8f, 0x70]))]).toEqual([-1, -8, 0, 7]);
  });

  it("round-trips every value in [−8, 7] and decodes nibble n as n < 8 ? n : n − 16", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }).chain((n) => fc.array(fc.integer({ min: -8, max: 7 }), { minLength: 2 * n, maxLength: 2 * n })),
        (vals) => {
          const p = packInt4(Int8Array.from(vals));
          const decoded: number[] = [];
          for (const byte of p) {
            const lo = byte & 15;
            const hi = byte >> 4;
            decoded.push(lo < 8 ? lo : lo - 16, hi < 8 ? hi : hi - 16);
          }
          expect(decoded).toEqual(vals);
          expect(unpackInt4(p)).toEqual(Int8Array.from(vals));
        },
      ),
      propertyOptions(300),
    );
    const all = new Uint8Array(256).map((_, i) => i);
    const v = unpackInt4(all);
    for (let b = 0; b < 256; b++) {
      const lo = b & 15;
      const hi = b >> 4;
      expect(v[2 * b]).toBe(lo < 8 ? lo : lo - 16);
      expect(v[2 * b + 1]).toBe(hi < 8 ? hi : hi - 16);
    }
    expect([...packInt4(v)]).toEqual([...all]);
  });

  it("rejects values outside [−8, 7] and odd counts with typed errors", () => {
    for (const bad of [8, -9, 127, -128]) {
      const e = thrown(() => packInt4(i8([0, 0, 0, bad]), "w"));
      expect(e).toBeInstanceOf(RangeViolationError);
      expect((e as RangeViolationError).index).toBe(3);
      expect((e as RangeViolationError).tensor).toBe("w");
    }
    expect(thrown(() => packInt4(i8([1, 2, 3])))).toBeInstanceOf(ShapeError);
  });
});
