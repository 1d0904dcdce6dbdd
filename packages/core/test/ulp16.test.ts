import { describe, expect, it } from "vitest";
import { fromF16Bits, ulpDistance16 } from "../src/index.js";

describe("ulpDistance16", () => {
  it("counts adjacent binary16 values as 1 apart across the whole range, both signs", () => {
    for (let b = 0; b < 0x7c00; b++) {
      expect(ulpDistance16(fromF16Bits(b), fromF16Bits(b + 1))).toBe(1);
      expect(ulpDistance16(fromF16Bits(b | 0x8000), fromF16Bits((b + 1) | 0x8000))).toBe(1);
    }
  });
  it("treats ±0 as equal, crosses zero by counting both sides, and is symmetric", () => {
    expect(ulpDistance16(0, -0)).toBe(0);
    expect(ulpDistance16(2 ** -24, -(2 ** -24))).toBe(2);
    expect(ulpDistance16(1, 2)).toBe(1024);
    expect(ulpDistance16(2, 1)).toBe(1024);
    expect(ulpDistance16(65504, Infinity)).toBe(1);
  });
  it("NaN is infinitely far from numbers and 0 from NaN", () => {
    expect(ulpDistance16(NaN, 1)).toBe(Infinity);
    expect(ulpDistance16(NaN, NaN)).toBe(0);
  });
});
