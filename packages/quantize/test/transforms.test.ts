/**
 * The offline transforms preserve the FP model's function: logits of an independent float64
 * forward pass before and after each transform agree to float64 rounding (relative 1e-9, where
 * a wrong fold, a transposed rotation or a mismatched λ or permutation is off by O(1)).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { byteLevelTokenizer, loadLlama2cBin, loadTokenizer, SYNTHETIC_DEFAULT_CONFIG, syntheticWeights, type LlamaWeights, type Tokenizer } from "@qoq/model";
import { calibrationWindows, collectStats } from "../src/calibration.js";
import { toFp32, toFp64, type Fp64Weights } from "../src/fp64.js";
import { ParamError } from "@qoq/core";
import { foldNorms, normsFolded, reorderLayer, ropePair, rotateHeads, rotateKeyPairs, rotateResidual, smoothAttentionLayer, smoothDownLayer, smoothOutLayer } from "../src/transforms.js";
import { dataFile } from "./data.js";
import { forward64, relMaxDiff } from "./fp64_forward.js";

interface Case {
  name: string;
  weights: () => LlamaWeights;
  tokenizer: () => Tokenizer;
}

const CASES: Case[] = [
  { name: "stories260K (interleaved RoPE, GQA 8/4)", weights: () => loadLlama2cBin(dataFile("stories260K.bin")), tokenizer: () => loadTokenizer(dataFile("tok512.bin"), 512) },
  {
    name: "synthetic (rotate-half RoPE, GQA 4/2, outliers)",
    weights: () => syntheticWeights(SYNTHETIC_DEFAULT_CONFIG),
    tokenizer: () => byteLevelTokenizer(SYNTHETIC_DEFAULT_CONFIG.vocabSize),
  },
];

const TOKENS = [1, 7, 42, 100, 3, 250, 11, 64, 9, 200, 5, 77];
const TOL = 1e-9; // float64 rounding of a few thousand operations; a wrong transform is off by ≫ 1e-3

function copy(w: Fp64Weights): Fp64Weights {
  return toFp64(toFp32(w)); // test inputs are binary32 weights, so this is an exact deep copy
}

describe.each(CASES)("$name", ({ weights, tokenizer }) => {
  const text = readFileSync(dataFile("tinystories_val.txt"), "utf8").slice(0, 20000);

  it("γ folding and the residual rotation leave the logits unchanged; the rotation moves the outliers", async () => {
    const w32 = weights();
    const base = toFp64(w32);
    const want = forward64(base, TOKENS);
    const w = copy(base);
    foldNorms(w);
    expect(normsFolded(w)).toBe(true);
    expect(relMaxDiff(want, forward64(w, TOKENS))).toBeLessThan(TOL);
    rotateResidual(w);
    expect(relMaxDiff(want, forward64(w, TOKENS))).toBeLessThan(TOL);
    // Not a no-op: the weights changed.
    expect(w.layers[0]!.wq.some((x, i) => Math.abs(x - base.layers[0]!.wq[i]!) > 1e-3)).toBe(true);
    // Rotating without folding first is not exact (RMSNorm γ does not commute with H): the test can tell.
    const bad = copy(base);
    rotateResidual(bad);
    expect(relMaxDiff(want, forward64(bad, TOKENS))).toBeGreaterThan(1e-4);
  });

  it("the V/O head rotation leaves the logits unchanged and mixes each value head's channels", async () => {
    const w32 = weights();
    const base = toFp64(w32);
    const want = forward64(base, TOKENS);
    const w = copy(base);
    rotateHeads(w);
    expect(relMaxDiff(want, forward64(w, TOKENS))).toBeLessThan(TOL);
    // v_proj's rows changed (not a no-op); q/k untouched.
    expect(w.layers[0]!.wv.some((x, i) => Math.abs(x - base.layers[0]!.wv[i]!) > 1e-3)).toBe(true);
    expect(w.layers[0]!.wk).toEqual(base.layers[0]!.wk);
    // Rotating v without o (or o without v) changes the function: the test can tell.
    const bad = copy(base);
    rotateHeads(bad);
    bad.layers.forEach((L, l) => L.wo.set(base.layers[l]!.wo));
    expect(relMaxDiff(want, forward64(bad, TOKENS))).toBeGreaterThan(1e-4);
  });

  it("the key-pair rotation leaves the logits unchanged and turns q/k_proj's pair rows; a wrong pairing or a lone k turn is caught", () => {
    const base = toFp64(weights());
    const c = base.config;
    const hd = c.dim / c.nHeads;
    const want = forward64(base, TOKENS);
    const n = (c.nKvHeads * hd) / 2;
    // A different angle for every (KV head, pair) and layer, none a multiple of π/2.
    const angles = (l: number) => Float64Array.from({ length: n }, (_, i) => 0.3 + 0.37 * i + 0.11 * l);
    const w = copy(base);
    for (let l = 0; l < w.layers.length; l++) rotateKeyPairs(w, l, angles(l));
    expect(relMaxDiff(want, forward64(w, TOKENS))).toBeLessThan(TOL);
    expect(w.layers[0]!.wk.some((x, i) => Math.abs(x - base.layers[0]!.wk[i]!) > 1e-3)).toBe(true);
    expect(w.layers[0]!.wq.some((x, i) => Math.abs(x - base.layers[0]!.wq[i]!) > 1e-3)).toBe(true);
    expect(w.layers[0]!.wv).toEqual(base.layers[0]!.wv);
    // Turning k_proj without q_proj changes the scores.
    const lone = copy(base);
    rotateKeyPairs(lone, 0, angles(0));
    lone.layers[0]!.wq.set(base.layers[0]!.wq);
    expect(relMaxDiff(want, forward64(lone, TOKENS))).toBeGreaterThan(1e-4);
    // Turning two channels that are not a RoPE pair of this style (channels 0 and 1 of rotate-half, 0 and hd/2 of
    // interleaved) does not commute with RoPE: the pairing matters, and ropePair gives this style's.
    const [a, b] = ropePair(c.ropeStyle, hd, 0);
    expect(b - a).toBe(c.ropeStyle === "interleaved" ? 1 : hd / 2);
    const wrong = copy(base);
    const L = wrong.layers[0]!;
    const other = c.ropeStyle === "interleaved" ? hd / 2 : 1;
    const turn = (m: Float64Array, r0: number, r1: number) => {
      for (let j = 0; j < c.dim; j++) {
        const [x, y] = [m[r0 * c.dim + j]!, m[r1 * c.dim + j]!];
        [m[r0 * c.dim + j], m[r1 * c.dim + j]] = [0.6 * x - 0.8 * y, 0.8 * x + 0.6 * y];
      }
    };
    turn(L.wk, 0, other);
    for (let h = 0; h < c.nHeads / c.nKvHeads; h++) turn(L.wq, h * hd, h * hd + other);
    expect(relMaxDiff(want, forward64(wrong, TOKENS))).toBeGreaterThan(1e-4);
    expect(() => rotateKeyPairs(copy(base), 0, new Float64Array(n - 1))).toThrow(ParamError);
  });

  it("SmoothAttention, output smoothing and reordering leave the logits unchanged", async () => {
    const w32 = weights();
    const base = toFp64(w32);
    const want = forward64(base, TOKENS);
    const set = calibrationWindows(text, tokenizer(), w32.config.seqLen, { samples: 4, seqLen: 64 });
    const stats = await collectStats(w32, set);
    const w = copy(base);
    for (let l = 0; l < w.layers.length; l++) {
      const m = stats.maxima[l]!;
      const lk = smoothAttentionLayer(w, l, m, { alpha: 0.5, beta: 0 });
      expect(lk.some((x) => Math.abs(x - 1) > 0.05)).toBe(true); // λ really scales
      smoothDownLayer(w, l, m, { alpha: 0.3, beta: 0.7 });
      smoothOutLayer(w, l, m, { alpha: 0.3, beta: 0.7 });
    }
    expect(relMaxDiff(want, forward64(w, TOKENS))).toBeLessThan(TOL);
    const after = await collectStats(toFp32(w), set);
    for (let l = 0; l < w.layers.length; l++) {
      const r = reorderLayer(w, l, after.maxima[l]!);
      expect([...r.down].sort((a, b) => a - b)).toEqual([...r.down.keys()]); // a permutation
    }
    expect(relMaxDiff(want, forward64(w, TOKENS))).toBeLessThan(TOL);
    // The reordered down_proj inputs are ascending in max|X| (what the permutation is for).
    const re = await collectStats(toFp32(w), set);
    const d = re.maxima[0]!.down_in;
    for (let j = 1; j < d.length; j++) expect(d[j]!).toBeGreaterThanOrEqual(d[j - 1]! * (1 - 1e-6));
  });

  it("λ that breaks a RoPE pair or a GQA group is caught by the same check", () => {
    const w32 = weights();
    const base = toFp64(w32);
    const want = forward64(base, TOKENS);
    const w = copy(base);
    // Scale one q row and the matching k row, but not the RoPE partner: RoPE mixes the pair, so logits change.
    const dim = w.config.dim;
    for (let j = 0; j < dim; j++) {
      w.layers[0]!.wq[j]! *= 3;
      w.layers[0]!.wk[j]! /= 3;
    }
    expect(relMaxDiff(want, forward64(w, TOKENS))).toBeGreaterThan(1e-4);
  });
});
