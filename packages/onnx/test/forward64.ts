/**
 * Test helpers: a float64 forward pass of a LLaMA model (the FP32 weights evaluated in float64,
 * no rounding anywhere), a seeded tiny random model, and a llama2.c checkpoint parser.
 */
import { readFileSync } from "node:fs";
import { Rng } from "@qoq/core";
import type { LayerWeights, LlamaConfig, LlamaWeights } from "@qoq/model";

function matvec(w: Float32Array, x: Float64Array, rows: number, cols: number): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c]! * x[c]!;
    y[r] = s;
  }
  return y;
}

function rmsnorm(x: Float64Array, g: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * g[i]!);
}

function rope(v: Float64Array, heads: number, hd: number, pos: number, theta: number, style: LlamaConfig["ropeStyle"]): void {
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < hd / 2; i++) {
      const ang = pos * Math.pow(theta, (-2 * i) / hd);
      const [c, s] = [Math.cos(ang), Math.sin(ang)];
      const ia = h * hd + (style === "rotate_half" ? i : 2 * i);
      const ib = h * hd + (style === "rotate_half" ? i + hd / 2 : 2 * i + 1);
      const [a, b] = [v[ia]!, v[ib]!];
      v[ia] = a * c - b * s;
      v[ib] = a * s + b * c;
    }
  }
}

/** Logits [T][vocab] of a token sequence, everything in float64. */
export function forward64(w: LlamaWeights, tokens: readonly number[]): Float64Array[] {
  const c = w.config;
  const hd = c.dim / c.nHeads;
  const kvDim = c.nKvHeads * hd;
  const group = c.nHeads / c.nKvHeads;
  const keys: Float64Array[][] = w.layers.map(() => []);
  const values: Float64Array[][] = w.layers.map(() => []);
  const out: Float64Array[] = [];
  tokens.forEach((tok, pos) => {
    let x = Float64Array.from(w.tokenEmbedding.subarray(tok * c.dim, (tok + 1) * c.dim));
    w.layers.forEach((l: LayerWeights, li) => {
      const n = rmsnorm(x, l.attnNorm, c.normEps);
      const q = matvec(l.wq, n, c.dim, c.dim);
      const k = matvec(l.wk, n, kvDim, c.dim);
      const v = matvec(l.wv, n, kvDim, c.dim);
      rope(q, c.nHeads, hd, pos, c.ropeTheta, c.ropeStyle);
      rope(k, c.nKvHeads, hd, pos, c.ropeTheta, c.ropeStyle);
      keys[li]!.push(k);
      values[li]!.push(v);
      const att = new Float64Array(c.dim);
      for (let h = 0; h < c.nHeads; h++) {
        const g = Math.floor(h / group);
        const s = keys[li]!.map((kk) => {
          let d = 0;
          for (let j = 0; j < hd; j++) d += q[h * hd + j]! * kk[g * hd + j]!;
          return d / Math.sqrt(hd);
        });
        const m = Math.max(...s);
        const e = s.map((z) => Math.exp(z - m));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < hd; j++) {
          let acc = 0;
          e.forEach((ej, t) => (acc += ej * values[li]![t]![g * hd + j]!));
          att[h * hd + j] = acc / sum;
        }
      }
      const o = matvec(l.wo, att, c.dim, c.dim);
      x = x.map((xi, i) => xi + o[i]!);
      const n2 = rmsnorm(x, l.ffnNorm, c.normEps);
      const gate = matvec(l.w1, n2, c.hiddenDim, c.dim);
      const up = matvec(l.w3, n2, c.hiddenDim, c.dim);
      const hdn = gate.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[i]!);
      const d = matvec(l.w2, hdn, c.dim, c.hiddenDim);
      x = x.map((xi, i) => xi + d[i]!);
    });
    out.push(matvec(w.classifier, rmsnorm(x, w.finalNorm, c.normEps), c.vocabSize, c.dim));
  });
  return out;
}

/** A seeded random model of a given shape (Gaussian weights scaled 1/√fan-in, norms near 1). */
export function randomWeights(config: LlamaConfig, seed: number, classifierGain = 4): LlamaWeights {
  const rng = new Rng(seed);
  const mat = (rows: number, cols: number, gain = 1): Float32Array => Float32Array.from({ length: rows * cols }, () => (gain * rng.normal()) / Math.sqrt(cols));
  const norm = (n: number): Float32Array => Float32Array.from({ length: n }, () => 1 + 0.2 * rng.normal());
  const hd = config.dim / config.nHeads;
  const kv = config.nKvHeads * hd;
  const layers = Array.from({ length: config.nLayers }, () => ({
    attnNorm: norm(config.dim),
    wq: mat(config.dim, config.dim),
    wk: mat(kv, config.dim),
    wv: mat(kv, config.dim),
    wo: mat(config.dim, config.dim),
    ffnNorm: norm(config.dim),
    w1: mat(config.hiddenDim, config.dim),
    w2: mat(config.dim, config.hiddenDim),
    w3: mat(config.hiddenDim, config.dim),
  }));
  const tokenEmbedding = Float32Array.from({ length: config.vocabSize * config.dim }, () => rng.normal());
  return { config, tokenEmbedding, layers, finalNorm: norm(config.dim), classifier: mat(config.vocabSize, config.dim, classifierGain) };
}

/** Parse a llama2.c checkpoint (7-int header; negative vocab = separate classifier; interleaved RoPE, θ 10000, ε 1e-5). */
export function loadLlama2c(path: string): LlamaWeights {
  const buf = readFileSync(path);
  const head = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 28));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabRaw, seqLen] = Array.from(head) as [number, number, number, number, number, number, number];
  const shared = vocabRaw > 0;
  const vocabSize = Math.abs(vocabRaw);
  const f = new Float32Array(buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + buf.byteLength - ((buf.byteLength - 28) % 4)));
  let off = 0;
  const take = (n: number): Float32Array => f.subarray(off, (off += n));
  const hd = dim / nHeads;
  const kv = nKvHeads * hd;
  const tokenEmbedding = take(vocabSize * dim);
  const per = (n: number): Float32Array[] => Array.from({ length: nLayers }, () => take(n));
  const attnNorm = per(dim);
  const wq = per(dim * dim);
  const wk = per(kv * dim);
  const wv = per(kv * dim);
  const wo = per(dim * dim);
  const ffnNorm = per(dim);
  const w1 = per(hiddenDim * dim);
  const w2 = per(dim * hiddenDim);
  const w3 = per(hiddenDim * dim);
  const finalNorm = take(dim);
  take(seqLen * hd); // freq_cis_real and _imag: unused (RoPE is recomputed)
  const classifier = shared ? tokenEmbedding : take(vocabSize * dim);
  const config: LlamaConfig = { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, ropeTheta: 10000, ropeStyle: "interleaved", normEps: 1e-5, tiedEmbeddings: shared };
  const layers = Array.from({ length: nLayers }, (_, i) => ({
    attnNorm: attnNorm[i]!, wq: wq[i]!, wk: wk[i]!, wv: wv[i]!, wo: wo[i]!, ffnNorm: ffnNorm[i]!, w1: w1[i]!, w2: w2[i]!, w3: w3[i]!,
  }));
  return { config, tokenEmbedding, layers, finalNorm, classifier };
}
