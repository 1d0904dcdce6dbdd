/**
 * The whole-model FP16 ONNX graph against a float64 forward pass: a tiny random GQA model in both
 * RoPE styles, and the real stories260K checkpoint when the shared data directory has it.
 *
 * Bounds: the graph rounds weights and every stored activation to binary16 (relative error
 * ≤ 2⁻¹¹ each), so logits carry a relative error of a few 1e-3 after a few layers; cosine > 0.999
 * leaves room for that (an error of relative norm ε gives cosine ≈ 1 − ε²/2, so 0.999 allows
 * ε ≈ 0.045). Top-1 must agree wherever the float64 margin between the two best logits exceeds
 * 5% of the row's RMS — about 10× the expected logit error — and on ≥ 90% of all positions.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { QoqError, RangeViolationError } from "@qoq/core";
import { createFp32Model, loadLlama2cBin, loadTokenizer, perplexity, type LlamaConfig } from "@qoq/model";

/** A shared test data file (../shared/data from the repo root); a missing file fails the test with a clear message. */
function dataFile(name: string): string {
  const p = join(import.meta.dirname, "../../../../shared/data", name);
  if (!existsSync(p)) throw new Error(`test data file missing: ${p} (tests read ../shared/data relative to the repo root)`);
  return p;
}
import { OnnxFp16LanguageModel } from "../src/index.js";
import { forward64, loadLlama2c, randomWeights } from "./forward64.js";

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let [ab, aa, bb] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

function argmax2(a: ArrayLike<number>): [number, number] {
  let [i1, v1, v2] = [0, -Infinity, -Infinity];
  for (let i = 0; i < a.length; i++) {
    if (a[i]! > v1) [i1, v2, v1] = [i, v1, a[i]!];
    else if (a[i]! > v2) v2 = a[i]!;
  }
  return [i1, v1 - v2];
}

function compare(got: Float32Array[], want: Float64Array[]): { minCos: number; agree: number; wide: number; wideAgree: number } {
  let minCos = 1;
  let [agree, wide, wideAgree] = [0, 0, 0];
  want.forEach((w, t) => {
    minCos = Math.min(minCos, cosine(got[t]!, w));
    const [top, margin] = argmax2(w);
    const rms = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    const same = argmax2(got[t]!)[0] === top;
    agree += same ? 1 : 0;
    if (margin > 0.05 * rms) {
      wide++;
      wideAgree += same ? 1 : 0;
    }
  });
  return { minCos, agree: agree / want.length, wide, wideAgree };
}

const TINY: Omit<LlamaConfig, "ropeStyle"> = {
  dim: 48, hiddenDim: 80, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 67, seqLen: 32, ropeTheta: 10000, normEps: 1e-5, tiedEmbeddings: false,
};

describe("whole-model FP16 ONNX graph", () => {
  for (const ropeStyle of ["rotate_half", "interleaved"] as const) {
    it(`tiny random GQA model (${ropeStyle}) agrees with the float64 forward`, async () => {
      const w = randomWeights({ ...TINY, ropeStyle }, ropeStyle === "interleaved" ? 11 : 12);
      const model = await OnnxFp16LanguageModel.create(w);
      const tokens = Array.from({ length: 20 }, (_, i) => (i * 37 + 5) % TINY.vocabSize);
      const want = forward64(w, tokens);
      const got = await model.logits(tokens);
      const r = compare(got, want);
      console.info(`tiny ${ropeStyle}:`, r);
      expect(r.minCos).toBeGreaterThan(0.999);
      expect(r.agree).toBeGreaterThanOrEqual(0.9);
      expect(r.wideAgree).toBe(r.wide);
      expect(r.wide).toBeGreaterThanOrEqual(10);
      // A session fed in two steps recomputes the prefix and returns exactly the one-shot rows of the new tokens.
      const s = model.newSession();
      const first = await s.forward(tokens.slice(0, 12));
      const second = await s.forward(tokens.slice(12));
      expect(first.length).toBe(12);
      expect(second.map((row) => Array.from(row))).toEqual(got.slice(12).map((row) => Array.from(row)));
      s.dispose();
      await expect(model.logits([0, TINY.vocabSize])).rejects.toBeInstanceOf(RangeViolationError);
      await model.dispose();
    });
  }

  it("the wrong RoPE pairing is detected (the comparison can fail)", async () => {
    const w = randomWeights({ ...TINY, ropeStyle: "rotate_half" }, 12);
    const wrong = await OnnxFp16LanguageModel.create({ ...w, config: { ...w.config, ropeStyle: "interleaved" } });
    const tokens = Array.from({ length: 20 }, (_, i) => (i * 37 + 5) % TINY.vocabSize);
    const r = compare(await wrong.logits(tokens), forward64(w, tokens));
    console.info("wrong pairing:", r);
    expect(r.minCos).toBeLessThan(0.999);
    await wrong.dispose();
  });

  it("a model with an inconsistent shape is a typed error", async () => {
    const w = randomWeights({ ...TINY, ropeStyle: "rotate_half" }, 13);
    await expect(OnnxFp16LanguageModel.create({ ...w, finalNorm: new Float32Array(3) })).rejects.toBeInstanceOf(QoqError);
  });

  it("stories260K: FP16 ONNX logits agree with the float64 forward", async () => {
    // The model package's loader, cross-checked against this test's own reading of the llama2.c layout.
    const STORIES = dataFile("stories260K.bin");
    const w = loadLlama2cBin(STORIES);
    const mine = loadLlama2c(STORIES);
    expect(w.config).toMatchObject({ dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, ropeStyle: "interleaved" });
    expect(Array.from(w.layers[4]!.w3)).toEqual(Array.from(mine.layers[4]!.w3));
    expect(Array.from(w.classifier)).toEqual(Array.from(mine.classifier));
    const model = await OnnxFp16LanguageModel.create(w);
    const tokens = [1, 403, 407, 261, 378, 1, 365, 372, 261, 350, 280, 300, 410, 267, 305, 259];
    const r = compare(await model.logits(tokens), forward64(w, tokens));
    console.info("stories260K:", r);
    expect(r.minCos).toBeGreaterThan(0.999);
    expect(r.wideAgree).toBe(r.wide);
    expect(r.agree).toBeGreaterThanOrEqual(0.9);
    await model.dispose();
  });

  it("stories260K: FP16-ONNX perplexity is within 1% of FP32 under the qoq eval ppl protocol", async () => {
    const w = loadLlama2cBin(dataFile("stories260K.bin"));
    const tok = loadTokenizer(dataFile("tok512.bin"), w.config.vocabSize);
    const text = readFileSync(dataFile("tinystories_val.txt"), "utf8");
    const onnx = await OnnxFp16LanguageModel.create(w);
    const a = await perplexity(createFp32Model(w), tok, text, { maxChars: 6000 });
    const b = await perplexity(onnx, tok, text, { maxChars: 6000 });
    expect(b.tokens).toBe(a.tokens);
    expect(Math.abs(b.ppl / a.ppl - 1)).toBeLessThan(0.01);
    await onnx.dispose();
  });
});
