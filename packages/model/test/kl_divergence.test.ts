// klDivergence against closed forms and against a direct computation from softmax probabilities.
import { ShapeError } from "@qoq/core";
import { describe, expect, it } from "vitest";
import { klDivergence } from "../src/index.js";

/** Σ p·ln(p/q) from explicitly normalized probabilities (fine for moderate logits). */
function direct(p: number[], q: number[]): number {
  const soft = (x: number[]) => {
    const e = x.map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  const a = soft(p);
  const b = soft(q);
  return a.reduce((k, pi, i) => k + pi * Math.log(pi / b[i]!), 0);
}

describe("klDivergence", () => {
  it("matches the two-outcome closed form, in the order KL(reference ‖ other)", () => {
    // softmax([0, 0]) = (1/2, 1/2); softmax([ln 3, 0]) = (3/4, 1/4).
    expect(klDivergence([0, 0], [Math.log(3), 0])).toBeCloseTo(0.5 * Math.log(4 / 3), 14);
    expect(klDivergence([Math.log(3), 0], [0, 0])).toBeCloseTo(0.75 * Math.log(1.5) + 0.25 * Math.log(0.5), 14);
  });

  it("is 0 for logits that differ by a constant, and finite for logits that would overflow exp", () => {
    expect(klDivergence([1, 2, 3], [101, 102, 103])).toBeCloseTo(0, 12);
    const k = klDivergence([1000, 0], [0, 1000]);
    expect(Number.isFinite(k)).toBe(true);
    expect(k).toBeCloseTo(1000, 9);
  });

  it("is non-negative and agrees with the direct formula on random logits", () => {
    // A fixed linear congruential stream: the same 200 cases every run.
    let state = 12345;
    const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 40 - 20;
    for (let c = 0; c < 200; c++) {
      const n = 1 + (c % 12);
      const p = Array.from({ length: n }, next);
      const q = Array.from({ length: n }, next);
      const k = klDivergence(p, q);
      expect(k).toBeGreaterThanOrEqual(-1e-12);
      expect(k).toBeCloseTo(direct(p, q), 9);
    }
  });

  it("rejects logits of different lengths with a ShapeError", () => {
    expect(() => klDivergence([0, 1, 2], [0, 1])).toThrow(ShapeError);
  });
});
