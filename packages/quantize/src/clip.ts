/**
 * Activation-aware weight clipping for the per-channel variant (qoq-spec §5.4): for every output
 * row, the shrink ratio of the UINT4 range (1, then `1 − i·maxShrink/grid`) with the smallest
 * output error on calibration inputs.
 *
 * - v_proj, o_proj, gate/up_proj and down_proj: the `clip_search` op (the row's own output MSE,
 *   DeepCompressor's `OutputsError`), on the reference.
 * - q_proj and k_proj: the objective is the attention output instead, as DeepCompressor does.
 *   That objective does not split over rows, so here one ratio is chosen per head: for query
 *   head h all its q_proj rows share a ratio, scored by the MSE of head h's attention output;
 *   for KV head g all its k_proj rows share a ratio, scored by the summed MSE of the outputs of
 *   g's query heads; the other projections stay unquantized while one is searched; causal
 *   attention with RoPE in float64 over the kept calibration tokens (each kept window on its
 *   own, positions 0 … T−1; the errors of the windows summed).
 *   (DeepCompressor searches per row against the whole module's output; per head is what makes
 *   the search affordable here — a documented simplification.)
 * @module
 */
import { tensor } from "@qoq/core";
import type { LlamaWeights } from "@qoq/model";
import { clipRatios, quantizeWeightRowChn, runReference } from "@qoq/reference";
import { keptPrefix, type KeptInputs } from "./calibration.js";
import { widths } from "./transforms.js";

/** Settings of the clipping search. */
export interface ClipSettings {
  /** Shrink steps (default 80). */
  readonly grid: number;
  /** Largest shrink (default 0.8, i.e. ratios down to 0.2). */
  readonly maxShrink: number;
  /** Calibration tokens the q/k attention objective uses (default 128; at most those kept). */
  readonly attentionTokens: number;
}

/** The default settings (DeepCompressor's per-channel configs: 80 steps down to 0.2). */
export const DEFAULT_CLIP: ClipSettings = { grid: 80, maxShrink: 0.8, attentionTokens: 128 };

/** Chosen ratios of one layer, in the row order of the fused linears. */
export interface LayerClipRatios {
  /** Fused q/k/v rows. */
  readonly qkv: Float32Array;
  /** o_proj rows. */
  readonly o: Float32Array;
  /** Fused gate/up rows. */
  readonly gateUp: Float32Array;
  /** down_proj rows. */
  readonly down: Float32Array;
}

/** `clip_search` on the reference for the `n`×`k` weight `w` with calibration inputs `x` (T×k). */
function searchRows(w: Float32Array, n: number, k: number, x: Float32Array, t: number, s: ClipSettings): Float32Array {
  const r = runReference("clip_search", { w: tensor("f32", [n, k], w), x: tensor("f32", [t, k], x.subarray(0, t * k)) }, { grid: s.grid, max_shrink: s.maxShrink });
  return r.ratio!.data as Float32Array;
}

/** Rows `r0 … r0+n−1` of `w` (row length k) quantized per channel at `ratio` and dequantized exactly, in float64. */
function fakeQuantRows(w: Float32Array, r0: number, n: number, k: number, ratio: number): Float64Array {
  const out = new Float64Array(n * k);
  const q = new Uint8Array(w.length);
  for (let r = 0; r < n; r++) {
    const off = (r0 + r) * k;
    const { scale, zero } = quantizeWeightRowChn(w, off, k, ratio, q);
    for (let i = 0; i < k; i++) out[r * k + i] = scale * (q[off + i]! - zero);
  }
  return out;
}

/** The causal attention of one query head, float64: `q` T×hd and `k`, `v` T×hd (post-RoPE q, k) → T×hd. */
function headAttention(q: Float64Array, k: Float64Array, v: Float64Array, t: number, hd: number): Float64Array {
  const o = new Float64Array(t * hd);
  const s = new Float64Array(t);
  const inv = 1 / Math.sqrt(hd);
  for (let i = 0; i < t; i++) {
    let mx = -Infinity;
    for (let j = 0; j <= i; j++) {
      let d = 0;
      for (let c = 0; c < hd; c++) d += q[i * hd + c]! * k[j * hd + c]!;
      s[j] = d * inv;
      if (s[j]! > mx) mx = s[j]!;
    }
    let z = 0;
    for (let j = 0; j <= i; j++) z += s[j] = Math.exp(s[j]! - mx);
    for (let j = 0; j <= i; j++) {
      const p = s[j]! / z;
      for (let c = 0; c < hd; c++) o[i * hd + c]! += p * v[j * hd + c]!;
    }
  }
  return o;
}

/**
 * Project `x` (T×dim) by the `hd` rows `w` (hd×dim, float64) into T×hd, then apply RoPE of
 * `style` (θ = `theta`) at positions 0 … T−1 when `rope` is set.
 */
function projectHead(x: Float32Array, w: Float64Array, t: number, dim: number, hd: number, rope: { theta: number; style: string } | undefined): Float64Array {
  const y = new Float64Array(t * hd);
  for (let i = 0; i < t; i++) {
    for (let r = 0; r < hd; r++) {
      let d = 0;
      for (let j = 0; j < dim; j++) d += w[r * dim + j]! * x[i * dim + j]!;
      y[i * hd + r] = d;
    }
  }
  if (rope !== undefined) {
    const half = hd / 2;
    for (let i = 0; i < t; i++) {
      for (let p = 0; p < half; p++) {
        const ang = i * Math.pow(rope.theta, (-2 * p) / hd);
        const [a, b] = rope.style === "interleaved" ? [2 * p, 2 * p + 1] : [p, p + half];
        const x0 = y[i * hd + a]!;
        const x1 = y[i * hd + b]!;
        y[i * hd + a] = x0 * Math.cos(ang) - x1 * Math.sin(ang);
        y[i * hd + b] = x0 * Math.sin(ang) + x1 * Math.cos(ang);
      }
    }
  }
  return y;
}

/** Mean squared difference of two equally long arrays. */
export function mse(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / a.length;
}

/** Per-head clipping ratios of q_proj and k_proj under the attention-output objective (see the module comment), summed over the kept windows. */
export function attentionClipRatios(w: LlamaWeights, layer: number, kept: KeptInputs, s: ClipSettings): { q: Float32Array; k: Float32Array } {
  const c = w.config;
  const { hd } = widths(c);
  const L = w.layers[layer]!;
  const scored = keptPrefix(kept, s.attentionTokens);
  const t = scored.windowTokens;
  // Each kept window's inputs: its attention is its own, at positions 0 … t − 1.
  const xs = Array.from({ length: scored.tokens / t }, (_, i) => scored.attnIn.subarray(i * t * c.dim, (i + 1) * t * c.dim));
  const rope = { theta: c.ropeTheta, style: c.ropeStyle };
  const group = c.nHeads / c.nKvHeads;
  const rows = (m: Float32Array, r0: number) => Float64Array.from(m.subarray(r0 * c.dim, (r0 + hd) * c.dim));
  const perWindow = xs.map((x) => {
    const Q = Array.from({ length: c.nHeads }, (_, h) => projectHead(x, rows(L.wq, h * hd), t, c.dim, hd, rope));
    const K = Array.from({ length: c.nKvHeads }, (_, g) => projectHead(x, rows(L.wk, g * hd), t, c.dim, hd, rope));
    const V = Array.from({ length: c.nKvHeads }, (_, g) => projectHead(x, rows(L.wv, g * hd), t, c.dim, hd, undefined));
    const O = Q.map((q, h) => headAttention(q, K[Math.floor(h / group)]!, V[Math.floor(h / group)]!, t, hd));
    return { x, Q, K, V, O };
  });
  const ratios = clipRatios(s.grid, s.maxShrink);
  const best = (score: (ratio: number) => number): number => {
    let bestErr = Infinity;
    let bestRatio = 1;
    for (const r of ratios) {
      const e = score(r);
      if (e < bestErr) {
        // Strict: a tie keeps the earlier, larger ratio (as clip_search).
        bestErr = e;
        bestRatio = r;
      }
    }
    return bestRatio;
  };
  const q = new Float32Array(c.nHeads * hd);
  for (let h = 0; h < c.nHeads; h++) {
    const g = Math.floor(h / group);
    const r = best((ratio) => {
      const rowsQ = fakeQuantRows(L.wq, h * hd, hd, c.dim, ratio);
      let e = 0;
      for (const { x, K, V, O } of perWindow) e += mse(headAttention(projectHead(x, rowsQ, t, c.dim, hd, rope), K[g]!, V[g]!, t, hd), O[h]!);
      return e;
    });
    q.fill(r, h * hd, (h + 1) * hd);
  }
  const k = new Float32Array(c.nKvHeads * hd);
  for (let g = 0; g < c.nKvHeads; g++) {
    const r = best((ratio) => {
      const rowsK = fakeQuantRows(L.wk, g * hd, hd, c.dim, ratio);
      let e = 0;
      for (const { x, Q, V, O } of perWindow) {
        const kq = projectHead(x, rowsK, t, c.dim, hd, rope);
        // The window's error, then the sum: a window repeated adds exactly its error again.
        let ew = 0;
        for (let h = g * group; h < (g + 1) * group; h++) ew += mse(headAttention(Q[h]!, kq, V[g]!, t, hd), O[h]!);
        e += ew;
      }
      return e;
    });
    k.fill(r, g * hd, (g + 1) * hd);
  }
  return { q, k };
}

/** The clipping ratios of every linear of one layer (see the module comment). */
export function layerClipRatios(w: LlamaWeights, layer: number, kept: KeptInputs, s: ClipSettings): LayerClipRatios {
  const c = w.config;
  const { qDim, kvDim } = widths(c);
  const L = w.layers[layer]!;
  const t = kept.tokens;
  const { q, k } = attentionClipRatios(w, layer, kept, s);
  const v = searchRows(L.wv, kvDim, c.dim, kept.attnIn, t, s);
  const qkv = new Float32Array(qDim + 2 * kvDim);
  qkv.set(q, 0);
  qkv.set(k, qDim);
  qkv.set(v, qDim + kvDim);
  const gateUp = new Float32Array(2 * c.hiddenDim);
  gateUp.set(searchRows(L.w1, c.hiddenDim, c.dim, kept.ffnIn, t, s), 0);
  gateUp.set(searchRows(L.w3, c.hiddenDim, c.dim, kept.ffnIn, t, s), c.hiddenDim);
  return {
    qkv,
    o: searchRows(L.wo, c.dim, qDim, kept.oIn, t, s),
    gateUp,
    down: searchRows(L.w2, c.dim, c.hiddenDim, kept.downIn, t, s),
  };
}
