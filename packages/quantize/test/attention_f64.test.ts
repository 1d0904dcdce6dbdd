/**
 * The calibration searches' float64 attention equals, bit for bit, the plain triple loop it was
 * written from (the spec below), on shapes that exercise every remainder of its 4-wide loops.
 */
import { describe, expect, it } from "vitest";
import { attention } from "../src/attention_f64.js";

/** The spec: per query head and token, scores in channel order, softmax, outputs summed over keys in order. */
function plainAttention(q: Float64Array, k: Float64Array, v: Float64Array, t: number, heads: number, kvHeads: number, hd: number, from: number, to: number): Float64Array {
  const [qDim, kvDim, group] = [heads * hd, kvHeads * hd, heads / kvHeads];
  const o = new Float64Array(t * qDim);
  const s = new Float64Array(t);
  for (let h = from; h < to; h++) {
    const g = Math.floor(h / group);
    for (let i = 0; i < t; i++) {
      let m = -Infinity;
      for (let j = 0; j <= i; j++) {
        let d = 0;
        for (let c = 0; c < hd; c++) d += q[i * qDim + h * hd + c]! * k[j * kvDim + g * hd + c]!;
        s[j] = d / Math.sqrt(hd);
        m = Math.max(m, s[j]!);
      }
      let z = 0;
      for (let j = 0; j <= i; j++) z += s[j] = Math.exp(s[j]! - m);
      for (let j = 0; j <= i; j++) for (let c = 0; c < hd; c++) o[i * qDim + h * hd + c]! += (s[j]! / z) * v[j * kvDim + g * hd + c]!;
    }
  }
  return o;
}

/** A seeded generator of values spread over many magnitudes, with signed zeros among them. */
function values(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return Float64Array.from({ length: n }, () => {
    const r = u();
    if (r < 0.03) return r < 0.015 ? 0 : -0;
    return (u() - 0.5) * 2 ** Math.floor(u() * 12 - 4);
  });
}

describe("attention (float64, for the calibration searches)", () => {
  const shapes = [
    // [tokens, heads, kv heads, head dim, from, to]
    [37, 8, 4, 6, 0, 8],
    [64, 4, 4, 8, 1, 3],
    [5, 2, 1, 32, 0, 2],
    [1, 4, 2, 4, 2, 4],
    [130, 8, 4, 10, 4, 6],
  ] as const;
  it.each(shapes)("T = %i, %i/%i heads, hd %i, heads [%i, %i): every output bit equals the plain loop's", (t, heads, kvHeads, hd, from, to) => {
    const q = values(t * heads * hd, 1 + t);
    const k = values(t * kvHeads * hd, 2 + hd);
    const v = values(t * kvHeads * hd, 3 + heads);
    const fast = attention(q, k, v, t, heads, kvHeads, hd, from, to);
    const spec = plainAttention(q, k, v, t, heads, kvHeads, hd, from, to);
    const diff = fast.findIndex((x, i) => !Object.is(x, spec[i]));
    expect(diff, diff >= 0 ? `first difference at ${diff}: ${fast[diff]} vs ${spec[diff]}` : "").toBe(-1);
    // The heads outside [from, to) stay 0, and the others do not.
    expect(fast.some((x, i) => x !== 0 && (Math.floor(i / hd) % heads < from || Math.floor(i / hd) % heads >= to))).toBe(false);
    expect(fast.some((x) => x !== 0)).toBe(true);
  });
});
