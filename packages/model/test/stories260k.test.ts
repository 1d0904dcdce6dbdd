/**
 * The real llama2.c model stories260K: greedy generation reproduces llama2.c's published sample,
 * perplexity matches the independent number in SOURCES.md, FP16 stays close to FP32.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  BOS_ID,
  createFp16Model,
  createFp32Model,
  generate,
  klDivergence,
  loadLlama2cBin,
  loadTokenizer,
  perplexity,
  perplexityWindows,
  type LanguageModel,
  type LlamaWeights,
  type Tokenizer,
} from "../src/index.js";
import { ParamError } from "@qoq/core";
import { dataFile } from "./data.js";

let w: LlamaWeights;
let tok: Tokenizer;
let text: string;
beforeAll(() => {
  w = loadLlama2cBin(dataFile("stories260K.bin"));
  tok = loadTokenizer(dataFile("tok512.bin"), w.config.vocabSize);
  text = readFileSync(dataFile("tinystories_val.txt"), "utf8");
});

describe("stories260K FP32", () => {
  it("loads with the header SOURCES.md documents", () => {
    expect(w.config).toMatchObject({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, ropeStyle: "interleaved", tiedEmbeddings: true });
    expect(w.classifier).toBe(w.tokenEmbedding);
  });

  it("greedy generation from BOS reproduces llama2.c's published sample (doc/stories260K.md), stably", async () => {
    const model = createFp32Model(w);
    const a = await generate(model, { prompt: [1], maxTokens: 256, temperature: 0 });
    const textA = tok.decode(a.tokens);
    // Published prefix of llama2.c doc/stories260K.md (temperature 0, 256 steps):
    expect(textA.startsWith("Once upon a time, there was a little girl named Lily. She loved to play outside in the park.")).toBe(true);
    expect(a.tokens.length).toBe(256);
    expect(a.stop).toBe("max_tokens");
    // SOURCES.md: the independent run.c re-implementation's output is 566 bytes long; run.c ends
    // its output with one "\n" after the generated pieces.
    expect(Buffer.byteLength(textA + "\n", "utf8")).toBe(566);
    const b = await generate(createFp32Model(w), { prompt: [1], maxTokens: 256, temperature: 0 });
    expect(b.tokens).toEqual(a.tokens);
  });

  it("FP16 perplexity is within 1% of FP32 (first 4,000 characters)", async () => {
    const r32 = await perplexity(createFp32Model(w), tok, text, { maxChars: 4_000 });
    const r16 = await perplexity(createFp16Model(w), tok, text, { maxChars: 4_000 });
    expect(r16.tokens).toBe(r32.tokens);
    expect(Math.abs(r16.ppl / r32.ppl - 1)).toBeLessThan(0.01);
    expect(r16.nll).not.toBe(r32.nll); // FP16 really rounds something
  });

  it("temperature scores softmax(logits / T): T = 1 is the protocol, a huge T the uniform distribution, T ≤ 0 is refused", async () => {
    const fp = createFp32Model(w);
    const plain = await perplexity(fp, tok, text, { maxChars: 1_000 });
    expect((await perplexity(fp, tok, text, { maxChars: 1_000, temperature: 1 })).nll).toBe(plain.nll);
    // Logits divided by 1e9 are equal to within rounding: every token gets 1/vocab.
    expect((await perplexity(fp, tok, text, { maxChars: 1_000, temperature: 1e9 })).ppl).toBeCloseTo(w.config.vocabSize, 3);
    // On the model's own domain its temperature is about right: T = 2 is clearly worse.
    expect((await perplexity(fp, tok, text, { maxChars: 1_000, temperature: 2 })).ppl).toBeGreaterThan(1.2 * plain.ppl);
    for (const t of [0, -1, Number.NaN, Infinity]) await expect(perplexity(fp, tok, text, { maxChars: 1_000, temperature: t })).rejects.toThrow(ParamError);
  });

  it("long documents are split into windows of seqLen + 1 tokens with fresh sessions", async () => {
    // A model with a tiny context: the same weights with seqLen 16 → windows of 17 tokens.
    const short = createFp32Model({ ...w, config: { ...w.config, seqLen: 16 } });
    const doc = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
    const n = 1 + tok.encode(doc).length;
    const r = await perplexity(short, tok, `${doc}\n\n  \n\n`, {});
    expect(r.documents).toBe(1);
    expect(r.windows).toBe(Math.ceil(n / 17) - (n % 17 === 1 ? 1 : 0));
    expect(r.tokens).toBe(n - Math.ceil(n / 17));
  });

  it("windows: each document cut in order into windows of seqLen + 1, a one-token tail dropped, every document counted", () => {
    const doc = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
    const cut = (d: string): number[][] => {
      const ids = [BOS_ID, ...tok.encode(d)];
      const out: number[][] = [];
      for (let i = 0; i < ids.length; i += 17) if (ids.length - i >= 2) out.push(ids.slice(i, i + 17));
      return out;
    };
    const plan = perplexityWindows(tok, `${doc}\n\nOnce\n\n${doc.slice(0, 60)}`, 16);
    const parts = [cut(doc), cut("Once"), cut(doc.slice(0, 60))];
    expect(plan.windows).toEqual(parts.flat());
    expect(plan.documentEnds).toEqual([parts[0]!.length, parts[0]!.length + parts[1]!.length, plan.windows.length]);
    expect(parts[0]!.length).toBeGreaterThan(1);
    expect(() => perplexityWindows(tok, doc, 16, -1)).toThrow(ParamError);
  });

  it("with a reference model, the mean KL(reference ‖ model) over the same tokens; the reference itself scores 0", async () => {
    const fp = createFp32Model(w);
    const fp16 = createFp16Model(w);
    const r = await perplexity(fp16, tok, text, { maxChars: 800, reference: fp });
    const plain = await perplexity(fp16, tok, text, { maxChars: 800 });
    expect(r.totalNll).toBe(plain.totalNll);
    // The KL by hand, window by window.
    let kl = 0;
    for (const win of perplexityWindows(tok, text, w.config.seqLen, 800).windows) {
      const [a, b] = [fp.newSession(), fp16.newSession()];
      const [la, lb] = [await a.forward(win.slice(0, -1)), await b.forward(win.slice(0, -1))];
      for (let i = 0; i < la.length; i++) kl += klDivergence(la[i]!, lb[i]!);
    }
    expect(r.kl).toBeCloseTo(kl / r.tokens, 12);
    expect(r.kl).toBeGreaterThan(0);
    expect((await perplexity(fp, tok, text, { maxChars: 800, reference: fp })).kl).toBe(0);
    expect(plain.kl).toBeUndefined();
    const other: LanguageModel = { config: { ...w.config, vocabSize: 300 }, label: "other", newSession: () => fp.newSession() };
    await expect(perplexity(fp, tok, text, { maxChars: 800, reference: other })).rejects.toThrow(/reference model has 300 tokens/);
  });
});
