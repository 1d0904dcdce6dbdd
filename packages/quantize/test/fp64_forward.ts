/**
 * An independent float64 forward pass over {@link Fp64Weights}, written for these tests from the
 * LLaMA definition (RMSNorm with γ, RoPE of the config's style, causal GQA attention, SwiGLU):
 * no rounding to binary32 anywhere, so a transform that is exact for the model's function changes
 * its logits only at float64 rounding level.
 */
import { headDim } from "@qoq/model";
import type { Fp64Weights } from "../src/fp64.js";

/** Logits, one Float64Array per token, of a fresh sequence `tokens`. */
export function forward64(w: Fp64Weights, tokens: readonly number[]): Float64Array[] {
  const c = w.config;
  const hd = headDim(c);
  const T = tokens.length;
  const { dim, hiddenDim: hid, nHeads, nKvHeads } = c;
  const qDim = nHeads * hd;
  const kvDim = nKvHeads * hd;
  const matvec = (m: Float64Array, x: Float64Array, rows: number, cols: number): Float64Array => {
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += m[r * cols + j]! * x[j]!;
      y[r] = s;
    }
    return y;
  };
  const rms = (x: Float64Array, g: Float64Array): Float64Array => {
    let ss = 0;
    for (const v of x) ss += v * v;
    const inv = 1 / Math.sqrt(ss / x.length + c.normEps);
    return x.map((v, i) => v * inv * g[i]!);
  };
  const rope = (v: Float64Array, heads: number, pos: number): void => {
    const half = hd / 2;
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < half; i++) {
        const ang = pos * Math.pow(c.ropeTheta, (-2 * i) / hd);
        const [a, b] = c.ropeStyle === "interleaved" ? [h * hd + 2 * i, h * hd + 2 * i + 1] : [h * hd + i, h * hd + i + half];
        const x0 = v[a]!;
        const x1 = v[b]!;
        v[a] = x0 * Math.cos(ang) - x1 * Math.sin(ang);
        v[b] = x0 * Math.sin(ang) + x1 * Math.cos(ang);
      }
    }
  };
  let xs: Float64Array[] = tokens.map((t) => w.tokenEmbedding.slice(t * dim, (t + 1) * dim));
  for (const L of w.layers) {
    const qs: Float64Array[] = [];
    const ks: Float64Array[] = [];
    const vs: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const n = rms(xs[t]!, L.attnNorm);
      const q = matvec(L.wq, n, qDim, dim);
      const k = matvec(L.wk, n, kvDim, dim);
      rope(q, nHeads, t);
      rope(k, nKvHeads, t);
      qs.push(q);
      ks.push(k);
      vs.push(matvec(L.wv, n, kvDim, dim));
    }
    const next: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const o = new Float64Array(qDim);
      for (let h = 0; h < nHeads; h++) {
        const g = Math.floor(h / (nHeads / nKvHeads));
        const s = new Float64Array(t + 1);
        let mx = -Infinity;
        for (let u = 0; u <= t; u++) {
          let d = 0;
          for (let i = 0; i < hd; i++) d += qs[t]![h * hd + i]! * ks[u]![g * hd + i]!;
          s[u] = d / Math.sqrt(hd);
          mx = Math.max(mx, s[u]!);
        }
        let z = 0;
        for (let u = 0; u <= t; u++) z += s[u] = Math.exp(s[u]! - mx);
        for (let u = 0; u <= t; u++) for (let i = 0; i < hd; i++) o[h * hd + i]! += (s[u]! / z) * vs[u]![g * hd + i]!;
      }
      const x = xs[t]!.slice();
      const a = matvec(L.wo, o, dim, qDim);
      for (let j = 0; j < dim; j++) x[j]! += a[j]!;
      const n2 = rms(x, L.ffnNorm);
      const gate = matvec(L.w1, n2, hid, dim);
      const up = matvec(L.w3, n2, hid, dim);
      const hbuf = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
      const d = matvec(L.w2, hbuf, dim, hid);
      for (let j = 0; j < dim; j++) x[j]! += d[j]!;
      next.push(x);
    }
    xs = next;
  }
  return xs.map((x) => matvec(w.classifier, rms(x, w.finalNorm), c.vocabSize, dim));
}

/** Largest |a − b| over all logits, relative to the largest |a|. */
export function relMaxDiff(a: readonly Float64Array[], b: readonly Float64Array[]): number {
  let d = 0;
  let m = 0;
  for (let t = 0; t < a.length; t++) {
    for (let i = 0; i < a[t]!.length; i++) {
      d = Math.max(d, Math.abs(a[t]![i]! - b[t]![i]!));
      m = Math.max(m, Math.abs(a[t]![i]!));
    }
  }
  return d / m;
}
