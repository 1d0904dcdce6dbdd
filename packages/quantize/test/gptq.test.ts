/**
 * GPTQ rounding: the algebra on cases small enough to check by hand, equality with RTN where the
 * Hessian is diagonal, a lower output error than RTN on stories260K's real calibration inputs
 * (measured with the reference's own dequantizers, not GPTQ's quantizer), the Gram statistics
 * against a direct sum, valid checkpoints, and typed errors.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ParamError, rne, type Tensor } from "@qoq/core";
import { loadLlama2cBin, loadTokenizer, quantizeLinear, quantizeRtn, stackRows, type QuantizedLinear } from "@qoq/model";
import { createReferenceBackend } from "@qoq/reference";
import { calibrationWindows, collectStats } from "../src/calibration.js";
import { loadQoqCheckpoint, saveQoqCheckpoint } from "../src/checkpoint.js";
import { cholesky, gptqFactor, gptqLinear, gptqRound } from "../src/gptq.js";
import { checkpointInfo, quantizeQoq } from "../src/pipeline.js";
import { dataFile } from "./data.js";

const backend = createReferenceBackend();
const weights = loadLlama2cBin(dataFile("stories260K.bin"));
const tokenizer = loadTokenizer(dataFile("tok512.bin"), 512);
const text = readFileSync(dataFile("tinystories_val.txt"), "utf8");
const calib = calibrationWindows(text.slice(text.length / 2), tokenizer, weights.config.seqLen, { samples: 4, seqLen: 128 });

/** A seeded uniform generator in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Plain n × n matrix product of row-major a and b. */
function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) c[i * n + j] = c[i * n + j]! + a[i * n + k]! * b[k * n + j]!;
  return c;
}

/** `tr(E·H·Eᵀ)` for E = W − Ŵ (n × k): the layer's summed squared output error over the calibration inputs. */
function outputError(w: ArrayLike<number>, what: Float32Array, n: number, k: number, h: Float64Array): number {
  let total = 0;
  const e = new Float64Array(k);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) e[c] = w[r * k + c]! - what[r * k + c]!;
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) total += e[i]! * h[i * k + j]! * e[j]!;
  }
  return total;
}

/** The FP32 weight a quantized linear stands for, by the reference's dequantizer op (padding columns dropped). */
async function dequantized(lin: QuantizedLinear): Promise<Float32Array> {
  if (lin.variant === "g128") {
    const r = await backend.run("dequant_weight_g128", { q: lin.q, zero: lin.zero, s2: lin.s2, s1: lin.s1 });
    const full = r.w!.data as Float32Array;
    const out = new Float32Array(lin.n * lin.k);
    for (let row = 0; row < lin.n; row++) out.set(full.subarray(row * lin.kPadded, row * lin.kPadded + lin.k), row * lin.k);
    return out;
  }
  if (lin.variant === "chn") return (await backend.run("dequant_weight_chn", { q: lin.q, zero: lin.zero, scale: lin.scale })).w!.data as Float32Array;
  throw new Error("W4 only");
}

describe("GPTQ", () => {
  it("the factor U satisfies Uᵀ·U = (H + δI)⁻¹ and is upper triangular", () => {
    const k = 12;
    const r = rng(7);
    const x = Array.from({ length: 40 * k }, () => r() - 0.5);
    const h = new Float64Array(k * k);
    for (let t = 0; t < 40; t++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) h[i * k + j] = h[i * k + j]! + x[t * k + i]! * x[t * k + j]!;
    const u = gptqFactor(h, k, { damp: 0.01, retries: 0 });
    let mean = 0;
    for (let i = 0; i < k; i++) mean += h[i * k + i]! / k;
    const damped = Float64Array.from(h);
    for (let i = 0; i < k; i++) damped[i * k + i] = damped[i * k + i]! + 0.01 * mean;
    const ut = new Float64Array(k * k);
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) ut[i * k + j] = u[j * k + i]!;
    const id = matmul(matmul(ut, u, k), damped, k);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        expect(Math.abs(id[i * k + j]! - (i === j ? 1 : 0))).toBeLessThan(1e-9);
        if (j < i) expect(u[i * k + j]).toBe(0);
      }
    }
  });

  it("pushes a column's rounding error onto the next by h12/h22 (two inputs, by hand)", () => {
    // Rounding to integers: w0 = 0.4 → 0 leaves e0 = 0.4. With H = [[1, .8], [.8, 1]] the optimal
    // correction of w1 is +e0·h12/h22 = +0.32: 0.2 becomes 0.52, which rounds to 1, where RTN gives 0.
    const h = Float64Array.from([1, 0.8, 0.8, 1]);
    const toInt = (_r: number, _c: number, x: number) => ({ code: Math.max(0, Math.min(15, rne(x))), value: Math.max(0, Math.min(15, rne(x))) });
    const u = gptqFactor(h, 2, { damp: 0, retries: 0 });
    expect(Array.from(gptqRound([0.4, 0.2], 1, 2, u, toInt))).toEqual([0, 1]);
    // Negative correlation pushes the other way: 0.7 becomes 0.38, which rounds to 0, where RTN gives 1.
    const hn = Float64Array.from([1, -0.8, -0.8, 1]);
    expect(Array.from(gptqRound([0.4, 0.7], 1, 2, gptqFactor(hn, 2, { damp: 0, retries: 0 }), toInt))).toEqual([0, 0]);
    // Independent inputs: nothing is pushed, RTN.
    expect(Array.from(gptqRound([0.4, 0.2], 1, 2, gptqFactor(Float64Array.from([1, 0, 0, 1]), 2, { damp: 0, retries: 0 }), toInt))).toEqual([0, 0]);
  });

  it("the Cholesky factor reproduces its matrix and rejects one that is not positive definite", () => {
    const a = Float64Array.from([4, 2, 2, 3]);
    const l = cholesky(a, 2)!;
    expect([l[0], l[1], l[2], l[3]]).toEqual([2, 0, 1, Math.sqrt(2)]);
    expect(cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toBeUndefined();
  });

  it.each(["g128", "chn"] as const)("%s: with a diagonal Hessian GPTQ gives RTN's codes, bit for bit", async (variant) => {
    const L = weights.layers[0]!;
    const k = weights.config.hiddenDim; // 172: not a multiple of the group, so g128 is padded
    const lin = await quantizeLinear(backend, L.w2, weights.config.dim, k, variant, 32);
    const diag = new Float64Array(k * k);
    for (let i = 0; i < k; i++) diag[i * k + i] = 1 + (i % 7);
    expect(gptqLinear(lin, L.w2, diag)).toEqual(lin);
  });

  it("the Gram matrices are Σ x·xᵀ of the inputs (checked against a direct sum of the kept inputs)", async () => {
    const one = { ...calib, windows: calib.windows.slice(0, 1), tokens: 128 };
    const s = await collectStats(weights, one, { keepTokens: 128, grams: true });
    for (const [site, key, k] of [["attn_in", "attnIn", weights.config.dim], ["down_in", "downIn", weights.config.hiddenDim]] as const) {
      const x = s.kept[1]![key];
      const g = s.grams![1]![site];
      for (const [i, j] of [[0, 0], [3, 5], [5, 3], [k - 1, 1], [k - 1, k - 1]] as const) {
        let want = 0;
        for (let t = 0; t < 128; t++) want += x[t * k + i]! * x[t * k + j]!;
        expect(g[i * k + j]).toBeCloseTo(want, 9);
      }
    }
    expect((await collectStats(weights, one)).grams).toBeUndefined();
  });

  it.each(["g128", "chn"] as const)("%s: lowers every layer-0 linear's output error on the calibration inputs", async (variant) => {
    const s = await collectStats(weights, calib, { grams: true });
    const L = weights.layers[0]!;
    const g = s.grams![0]!;
    const c = weights.config;
    const qkvRows = stackRows([L.wq, L.wk, L.wv]);
    const cases = [
      { name: "qkv", w: qkvRows, n: qkvRows.length / c.dim, k: c.dim, h: g.attn_in },
      { name: "o", w: L.wo, n: c.dim, k: c.dim, h: g.o_in },
      { name: "down", w: L.w2, n: c.dim, k: c.hiddenDim, h: g.down_in },
    ];
    for (const t of cases) {
      const rtn = await quantizeLinear(backend, t.w, t.n, t.k, variant, 32);
      const gq = gptqLinear(rtn, t.w, t.h);
      const eRtn = outputError(t.w, await dequantized(rtn), t.n, t.k, t.h);
      const eGptq = outputError(t.w, await dequantized(gq), t.n, t.k, t.h);
      // Measured on stories260K: GPTQ's error is 0.44–0.61 of RTN's; a sign error in the update makes it 2.0–2.2×.
      expect(eGptq, `${variant} ${t.name}`).toBeLessThan(0.9 * eRtn);
    }
  });

  it("a pipeline run with GPTQ differs from RTN only in the codes and saves a checkpoint that loads", async () => {
    const off = { rotate: false, rotateHeads: false, reorder: false, smoothAttention: false, smoothOutput: false, clip: false };
    const r = await quantizeQoq(weights, calib, { variant: "g128", group: 32, keepTokens: 0, steps: { ...off, gptq: true } });
    const rtn = await quantizeRtn(weights, backend, { variant: "g128", group: 32 });
    let changed = 0;
    r.model.layers.forEach((l, i) => {
      for (const key of ["qkv", "o", "gateUp", "down"] as const) {
        const a = l[key];
        const b = rtn.layers[i]![key];
        if (a.variant !== "g128" || b.variant !== "g128") throw new Error("expected g128");
        expect([a.s1, a.s2, a.zero]).toEqual([b.s1, b.s2, b.zero]);
        const qa = (a.q as Tensor<"u8">).data;
        const qb = (b.q as Tensor<"u8">).data;
        for (let j = 0; j < qa.length; j++) if (qa[j] !== qb[j]) changed++;
      }
    });
    expect(changed).toBeGreaterThan(0);
    expect(r.record.settings.gptq).toMatchObject({ damp: 0.01 });
    const bytes = saveQoqCheckpoint(r.model, checkpointInfo(r.record));
    expect(loadQoqCheckpoint(bytes).model).toEqual(r.model);
  });

  it("rejects bad statistics and shapes with ParamError", async () => {
    const L = weights.layers[0]!;
    const k = weights.config.dim;
    const lin = await quantizeLinear(backend, L.wo, k, k, "chn");
    expect(() => gptqLinear(lin, L.wo, new Float64Array(k * k - 1))).toThrow(ParamError);
    expect(() => gptqLinear(lin, L.wo.subarray(1), new Float64Array(k * k))).toThrow(ParamError);
    const nan = new Float64Array(k * k).fill(Number.NaN);
    expect(() => gptqLinear(lin, L.wo, nan)).toThrow(ParamError);
    const w8 = await quantizeLinear(backend, L.wo, k, k, "w8a8");
    expect(() => gptqLinear(w8, L.wo, new Float64Array(k * k))).toThrow(ParamError);
  });
});
