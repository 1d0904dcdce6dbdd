/**
 * Float64 causal attention for the calibration searches (the SmoothAttention grid, the key-pair
 * rotation), which score thousands of candidates on the kept tokens: written for speed, and
 * tested to give, bit for bit, the values of the plain triple loop (`test/attention_f64.test.ts`).
 * @module
 */
import { mse } from "./clip.js";

/**
 * Causal attention, float64: q T×(H·hd), k, v T×(G·hd) → T×(H·hd), of the query heads
 * `from … to − 1` (default all; the other heads' outputs stay 0).
 */
export function attention(q: Float64Array, k: Float64Array, v: Float64Array, t: number, heads: number, kvHeads: number, hd: number, from = 0, to = heads): Float64Array {
  const qDim = heads * hd;
  const kvDim = kvHeads * hd;
  const group = heads / kvHeads;
  const o = new Float64Array(t * qDim);
  const s = new Float64Array(t);
  const root = Math.sqrt(hd);
  // Four scores (keys j … j+3) and four output channels at a time, in independent accumulators:
  // each value still sums its terms in the order of the plain loops (c = 0 … hd−1 for a score,
  // j = 0 … i for an output, from +0), so the results are those of the plain triple loop.
  for (let h = from; h < to; h++) {
    const go = Math.floor(h / group) * hd;
    for (let i = 0; i < t; i++) {
      const qi = i * qDim + h * hd;
      let m = -Infinity;
      let j = 0;
      for (; j + 4 <= i + 1; j += 4) {
        const k0 = j * kvDim + go;
        const k1 = k0 + kvDim;
        const k2 = k1 + kvDim;
        const k3 = k2 + kvDim;
        let d0 = 0;
        let d1 = 0;
        let d2 = 0;
        let d3 = 0;
        for (let c = 0; c < hd; c++) {
          const x = q[qi + c]!;
          d0 += x * k[k0 + c]!;
          d1 += x * k[k1 + c]!;
          d2 += x * k[k2 + c]!;
          d3 += x * k[k3 + c]!;
        }
        s[j] = d0 / root;
        s[j + 1] = d1 / root;
        s[j + 2] = d2 / root;
        s[j + 3] = d3 / root;
        m = Math.max(m, s[j]!, s[j + 1]!, s[j + 2]!, s[j + 3]!);
      }
      for (; j <= i; j++) {
        const kj = j * kvDim + go;
        let d = 0;
        for (let c = 0; c < hd; c++) d += q[qi + c]! * k[kj + c]!;
        s[j] = d / root;
        m = Math.max(m, s[j]!);
      }
      let z = 0;
      for (let jj = 0; jj <= i; jj++) z += s[jj] = Math.exp(s[jj]! - m);
      for (let jj = 0; jj <= i; jj++) s[jj] = s[jj]! / z;
      let c = 0;
      for (; c + 4 <= hd; c += 4) {
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        for (let jj = 0, vj = go + c; jj <= i; jj++, vj += kvDim) {
          const p = s[jj]!;
          a0 += p * v[vj]!;
          a1 += p * v[vj + 1]!;
          a2 += p * v[vj + 2]!;
          a3 += p * v[vj + 3]!;
        }
        o[qi + c] = a0;
        o[qi + c + 1] = a1;
        o[qi + c + 2] = a2;
        o[qi + c + 3] = a3;
      }
      for (; c < hd; c++) {
        let acc = 0;
        for (let jj = 0, vj = go + c; jj <= i; jj++, vj += kvDim) acc += s[jj]! * v[vj]!;
        o[qi + c] = acc;
      }
    }
  }
  return o;
}

/**
 * {@link attention} of each window on its own: the rows are `t / window` windows of `window`
 * tokens, one after the other (the kept calibration inputs), and no token attends to another
 * window's. One output per window.
 */
export function attentionPerWindow(q: Float64Array, k: Float64Array, v: Float64Array, t: number, window: number, heads: number, kvHeads: number, hd: number, from = 0, to = heads): Float64Array[] {
  const [qDim, kvDim] = [heads * hd, kvHeads * hd];
  const out: Float64Array[] = [];
  for (let r = 0; r < t; r += window) {
    const part = (a: Float64Array, width: number) => a.subarray(r * width, (r + window) * width);
    out.push(attention(part(q, qDim), part(k, kvDim), part(v, kvDim), window, heads, kvHeads, hd, from, to));
  }
  return out;
}

/**
 * The searches' error over windows: the sum of each window's mean squared difference. Summed,
 * not pooled, so that one window's error is its own bits, and a window repeated adds its error
 * again exactly (the choice it leads to is one window's).
 */
export function windowsMse(a: readonly Float64Array[], b: readonly Float64Array[]): number {
  let e = 0;
  a.forEach((x, i) => (e += mse(x, b[i]!)));
  return e;
}
