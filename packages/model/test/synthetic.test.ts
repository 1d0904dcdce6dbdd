/** The synthetic model (determinism, measured outlier structure) and the dense forward passes. */
import { describe, expect, it } from "vitest";
import { f16, fromF16Bits, QoqError, Rng } from "@qoq/core";
import {
  argmax,
  createFp16Model,
  createFp32Model,
  generate,
  roundF16InPlace,
  SYNTHETIC_DEFAULT_CONFIG,
  syntheticDefaultWeights,
  syntheticOutliers,
  syntheticWeights,
  type LlamaConfig,
  type LlamaWeights,
} from "../src/index.js";

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

/** Mean |value| per channel of the RMS-normalised embeddings (plain float64, independent of the model code). */
function normedEmbeddingStats(w: LlamaWeights, tokens: number): { xn: Float64Array[]; meanAbs: number[] } {
  const { dim } = w.config;
  const xn: Float64Array[] = [];
  const meanAbs = new Array<number>(dim).fill(0);
  for (let t = 0; t < tokens; t++) {
    const row = w.tokenEmbedding.subarray(t * dim, (t + 1) * dim);
    const rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / dim);
    const v = Float64Array.from(row, (x, j) => (x / rms) * w.layers[0]!.attnNorm[j]!);
    xn.push(v);
    v.forEach((x, j) => (meanAbs[j]! += Math.abs(x) / tokens));
  }
  return { xn, meanAbs };
}

describe("synthetic model", () => {
  it("is deterministic for a seed and differs across seeds", () => {
    const a = syntheticDefaultWeights();
    const b = syntheticWeights(SYNTHETIC_DEFAULT_CONFIG);
    const c = syntheticWeights(SYNTHETIC_DEFAULT_CONFIG, { seed: 1 });
    expect(Array.from(a.layers[1]!.w2)).toEqual(Array.from(b.layers[1]!.w2));
    expect(Array.from(a.classifier)).toEqual(Array.from(b.classifier));
    expect(Array.from(a.layers[1]!.w2)).not.toEqual(Array.from(c.layers[1]!.w2));
  });

  it("has measurable activation outlier channels in the residual stream", () => {
    const w = syntheticDefaultWeights();
    const out = syntheticOutliers(w.config);
    expect(out.activation.length).toBe(4);
    const { meanAbs } = normedEmbeddingStats(w, w.config.vocabSize);
    const med = median(meanAbs);
    // the channels with the largest magnitude, found by measurement, are the injected ones
    const top = meanAbs.map((m, j) => [m, j] as const).sort((x, y) => y[0] - x[0]).slice(0, out.activation.length).map(([, j]) => j).sort((x, y) => x - y);
    expect(top).toEqual([...out.activation]);
    for (const ch of out.activation) expect(meanAbs[ch]! / med).toBeGreaterThan(8);
    // o_proj and down_proj write into the same channels: their row norms stand out too
    const { dim, hiddenDim } = w.config;
    const rowNorm = (m: Float32Array, cols: number, r: number) => Math.hypot(...m.subarray(r * cols, (r + 1) * cols));
    const w2n = Array.from({ length: dim }, (_, r) => rowNorm(w.layers[0]!.w2, hiddenDim, r));
    for (const ch of out.activation) expect(w2n[ch]! / median(w2n)).toBeGreaterThan(10);
  });

  it("has measurable key outlier channels (pairs, so they survive RoPE)", () => {
    const w = syntheticDefaultWeights();
    const { dim, nKvHeads, nHeads } = w.config;
    const kvDim = (nKvHeads * dim) / nHeads;
    const { xn } = normedEmbeddingStats(w, 64);
    const kAbs = new Array<number>(kvDim).fill(0);
    for (const v of xn) {
      for (let r = 0; r < kvDim; r++) {
        let s = 0;
        for (let j = 0; j < dim; j++) s += w.layers[0]!.wk[r * dim + j]! * v[j]!;
        kAbs[r]! += Math.abs(s) / xn.length;
      }
    }
    const keys = syntheticOutliers(w.config).key;
    expect(keys.length).toBe(nKvHeads * 2 * 2); // 2 pairs per KV head (head dim 32)
    const med = median(kAbs);
    for (const r of keys) expect(kAbs[r]! / med).toBeGreaterThan(4);
    const hd = dim / nHeads;
    for (const r of keys) expect(keys).toContain(r % hd < hd / 2 ? r + hd / 2 : r - hd / 2); // rotate-half partner
  });
});

describe("dense forward passes", () => {
  const cfg: LlamaConfig = { ...SYNTHETIC_DEFAULT_CONFIG, dim: 64, hiddenDim: 96, nHeads: 4, nKvHeads: 2, seqLen: 32 };
  const w = syntheticWeights(cfg, { seed: 11 });
  const prompt = [1, 40, 77, 200, 3, 258, 12, 12, 90];

  it("roundF16InPlace equals core f16 on random and edge binary32 values", () => {
    const rng = new Rng(5);
    const a = new Float32Array(20000);
    const u = new Uint32Array(a.buffer);
    for (let i = 0; i < a.length; i++) u[i] = rng.nextU32();
    a.set([0, -0, 65504, 65519.99, 65520, -65520, 2 ** -14, 2 ** -15, 2 ** -25, 3 * 2 ** -26, 32767.5, 32768, 1 + 2 ** -11, 1 + 3 * 2 ** -11, Infinity, -Infinity, NaN], 0);
    const want = Array.from(a, (x) => f16(x));
    roundF16InPlace(a, u, a.length);
    for (let i = 0; i < a.length; i++) expect(Object.is(a[i], Math.fround(want[i]!)) || (Number.isNaN(a[i]) && Number.isNaN(want[i]))).toBe(true);
    expect(fromF16Bits(0x7bff)).toBe(65504);
  });

  it("feeding tokens one at a time gives the same logits bit for bit as one prefill call", async () => {
    for (const make of [createFp32Model, createFp16Model]) {
      const m = make(w);
      const all = await m.newSession().forward(prompt);
      const s = m.newSession();
      for (let t = 0; t < prompt.length; t++) expect(Array.from((await s.forward([prompt[t]!]))[0]!)).toEqual(Array.from(all[t]!));
    }
  });

  it("FP32 agrees with a plain float64 implementation written here", async () => {
    const got = (await createFp32Model(w).newSession().forward(prompt)).at(-1)!;
    const want = naiveForward(w, prompt);
    let maxErr = 0;
    let maxAbs = 0;
    for (let i = 0; i < want.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(got[i]! - want[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(want[i]!));
    }
    expect(maxErr / maxAbs).toBeLessThan(1e-4);
  });

  it("odd-pair head sizes (hd = 6) and interleaved RoPE agree with float64 too", async () => {
    const c6: LlamaConfig = { ...cfg, dim: 12, hiddenDim: 20, nHeads: 2, nKvHeads: 1, vocabSize: 300 };
    const w6 = syntheticWeights(c6, { seed: 4 });
    const got = (await createFp32Model(w6).newSession().forward(prompt)).at(-1)!;
    const want = naiveForward(w6, prompt);
    const maxAbs = Math.max(...Array.from(want, Math.abs));
    expect(Math.max(...Array.from(want, (v, i) => Math.abs(v - got[i]!))) / maxAbs).toBeLessThan(1e-4);
    // the same model with interleaved pairing is a different function (so the style is honoured)
    const inter = (await createFp32Model({ ...w6, config: { ...c6, ropeStyle: "interleaved" } }).newSession().forward(prompt)).at(-1)!;
    expect(Math.max(...Array.from(want, (v, i) => Math.abs(v - inter[i]!))) / maxAbs).toBeGreaterThan(1e-3);
  });

  it("FP16 rounds weights and activations (differs from FP32, but only slightly)", async () => {
    const a = (await createFp32Model(w).newSession().forward(prompt)).at(-1)!;
    const b = (await createFp16Model(w).newSession().forward(prompt)).at(-1)!;
    expect(Array.from(b).every((x) => f16(x) === x)).toBe(true);
    expect(Array.from(b)).not.toEqual(Array.from(a));
    expect(argmax(b)).toBe(argmax(a));
  });

  it("rejects bad token ids and context overflow with typed errors", async () => {
    const s = createFp32Model(w).newSession();
    await expect(s.forward([cfg.vocabSize])).rejects.toBeInstanceOf(QoqError);
    await expect(s.forward([-1])).rejects.toBeInstanceOf(QoqError);
    await expect(s.forward(new Array(33).fill(5))).rejects.toThrow(/context overflow/);
    await s.forward(new Array(32).fill(5));
    await expect(s.forward([5])).rejects.toThrow(/context overflow/);
  });

  it("generation: argmax takes the lowest index on ties; sampling is seeded; stops at BOS/EOS", async () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
    const m = createFp32Model(w);
    const g1 = await generate(m, { prompt: [1], maxTokens: 20, temperature: 1, seed: 7 });
    const g2 = await generate(m, { prompt: [1], maxTokens: 20, temperature: 1, seed: 7 });
    const g3 = await generate(m, { prompt: [1], maxTokens: 20, temperature: 1, seed: 8 });
    expect(g1.tokens).toEqual(g2.tokens);
    expect(g1.tokens).not.toEqual(g3.tokens);
    const greedy = await generate(m, { prompt, maxTokens: 5 });
    const logits = (await m.newSession().forward(prompt)).at(-1)!;
    expect(greedy.tokens[0]).toBe(argmax(logits));
    // a stop token set containing the greedy choice stops at once
    const stopped = await generate(m, { prompt, maxTokens: 5, stopTokens: [argmax(logits)] });
    expect(stopped).toEqual({ tokens: [], stop: "stop_token" });
    const full = await generate(m, { prompt, maxTokens: 100, stopTokens: [] });
    expect(full.stop).toBe("context_full");
    expect(prompt.length + full.tokens.length).toBe(cfg.seqLen + 1);
  });
});

/** A straightforward float64 LLaMA forward (rotate-half RoPE), for the agreement test. */
function naiveForward(w: LlamaWeights, tokens: number[]): Float64Array {
  const c = w.config;
  const hd = c.dim / c.nHeads;
  const kvDim = (c.nKvHeads * c.dim) / c.nHeads;
  const mv = (m: Float32Array, x: ArrayLike<number>, rows: number) => {
    const cols = x.length;
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) y[r]! += m[r * cols + j]! * x[j]!;
    return y;
  };
  const norm = (x: Float64Array, g: Float32Array) => {
    const rms = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + c.normEps);
    return x.map((v, j) => (v / rms) * g[j]!);
  };
  const rope = (v: Float64Array, heads: number, pos: number) => {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < hd / 2; i++) {
        const ang = pos * Math.pow(c.ropeTheta, (-2 * i) / hd);
        const a = v[h * hd + i]!;
        const b = v[h * hd + i + hd / 2]!;
        v[h * hd + i] = a * Math.cos(ang) - b * Math.sin(ang);
        v[h * hd + i + hd / 2] = a * Math.sin(ang) + b * Math.cos(ang);
      }
    }
  };
  const K: Float64Array[][] = w.layers.map(() => []);
  const Vc: Float64Array[][] = w.layers.map(() => []);
  let x = new Float64Array(c.dim);
  tokens.forEach((tok, pos) => {
    x = Float64Array.from(w.tokenEmbedding.subarray(tok * c.dim, (tok + 1) * c.dim));
    w.layers.forEach((L, l) => {
      const xn = norm(x, L.attnNorm);
      const q = mv(L.wq, xn, c.dim);
      const k = mv(L.wk, xn, kvDim);
      const v = mv(L.wv, xn, kvDim);
      rope(q, c.nHeads, pos);
      rope(k, c.nKvHeads, pos);
      K[l]!.push(k);
      Vc[l]!.push(v);
      const o = new Float64Array(c.dim);
      for (let h = 0; h < c.nHeads; h++) {
        const kh = Math.floor(h / (c.nHeads / c.nKvHeads));
        const s = K[l]!.map((kk) => {
          let d = 0;
          for (let i = 0; i < hd; i++) d += q[h * hd + i]! * kk[kh * hd + i]!;
          return d / Math.sqrt(hd);
        });
        const m = Math.max(...s);
        const e = s.map((z) => Math.exp(z - m));
        const z = e.reduce((a, b) => a + b, 0);
        e.forEach((p, t) => {
          for (let i = 0; i < hd; i++) o[h * hd + i]! += (p / z) * Vc[l]![t]![kh * hd + i]!;
        });
      }
      const ao = mv(L.wo, o, c.dim);
      x = x.map((v2, j) => v2 + ao[j]!);
      const xf = norm(x, L.ffnNorm);
      const g = mv(L.w1, xf, c.hiddenDim);
      const u = mv(L.w3, xf, c.hiddenDim);
      const hmid = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]!);
      const d = mv(L.w2, hmid, c.dim);
      x = x.map((v2, j) => v2 + d[j]!);
    });
  });
  return mv(w.classifier, norm(x, w.finalNorm), c.vocabSize);
}
