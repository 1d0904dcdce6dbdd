/**
 * Model-level equality: the W4A8KV4 forward pass (packages/model) on the cpu backend gives the
 * reference backend's logits bit for bit — prefill and KV4 decode steps, for the g128 variant
 * (groups 128 and 32), chn and w8a8 — on the synthetic model and on stories260K, and the same
 * perplexity on a slice of real text.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Backend } from "@qoq/core";
import { createReferenceBackend } from "@qoq/reference";
import {
  createW4A8KV4Model,
  loadLlama2cBin,
  loadTokenizer,
  perplexity,
  SYNTHETIC_DEFAULT_CONFIG,
  syntheticWeights,
  type LlamaWeights,
  type W4A8KV4Options,
} from "@qoq/model";
import { createCpuBackend } from "../src/index.js";
import { dataFile } from "./setup.js";

const VARIANTS: readonly { name: string; opts: W4A8KV4Options }[] = [
  { name: "g128", opts: { variant: "g128" } },
  { name: "g32", opts: { variant: "g128", group: 32 } },
  { name: "chn", opts: { variant: "chn" } },
  { name: "w8a8", opts: { variant: "w8a8" } },
];

/** Logits of a prefill of `tokens` and then `decode` single-token steps, as raw bytes per position. */
async function logits(w: LlamaWeights, opts: W4A8KV4Options, backend: Backend, tokens: readonly number[], decode: readonly number[]): Promise<Uint8Array[]> {
  const model = createW4A8KV4Model(w, { ...opts, backend });
  const s = model.newSession();
  const out = [...(await s.forward(tokens))];
  for (const t of decode) out.push(...(await s.forward([t])));
  s.dispose();
  return out.map((l) => new Uint8Array(l.buffer.slice(l.byteOffset, l.byteOffset + l.byteLength)));
}

async function expectSameLogits(w: LlamaWeights, tokens: readonly number[], decode: readonly number[]): Promise<void> {
  for (const v of VARIANTS) {
    const want = await logits(w, v.opts, createReferenceBackend(), tokens, decode);
    const got = await logits(w, v.opts, createCpuBackend(), tokens, decode);
    expect(got.length).toBe(tokens.length + decode.length);
    for (let i = 0; i < want.length; i++) expect(Buffer.compare(got[i]!, want[i]!), `${v.name}: logits of position ${i} differ`).toBe(0);
  }
}

describe("W4A8KV4 logits: cpu = reference, bit for bit", () => {
  it("synthetic model (head dim 32, rotate-half RoPE, outlier channels): prefill and decode, every variant", async () => {
    const w = syntheticWeights(SYNTHETIC_DEFAULT_CONFIG);
    const v = SYNTHETIC_DEFAULT_CONFIG.vocabSize;
    const tokens = Array.from({ length: 70 }, (_, i) => (i * 97 + 11) % v); // past one 64-token page
    await expectSameLogits(w, tokens, [5, 200, 17]);
  });

  it("stories260K (head dim 8, interleaved RoPE, hidden 172 zero-padded): prefill and decode, every variant", async () => {
    const w = loadLlama2cBin(dataFile("stories260K.bin"));
    const tok = loadTokenizer(dataFile("tok512.bin"), w.config.vocabSize);
    const text = readFileSync(dataFile("tinystories_val.txt"), "utf8").slice(0, 400);
    const ids = tok.encode(text, { bos: true });
    expect(ids.length).toBeGreaterThan(40);
    await expectSameLogits(w, ids.slice(0, 36), ids.slice(36, 40));
  });

  it("stories260K perplexity on the first 1,000 characters is identical (g128)", async () => {
    const w = loadLlama2cBin(dataFile("stories260K.bin"));
    const tok = loadTokenizer(dataFile("tok512.bin"), w.config.vocabSize);
    const text = readFileSync(dataFile("tinystories_val.txt"), "utf8");
    const ref = await perplexity(createW4A8KV4Model(w, { backend: createReferenceBackend() }), tok, text, { maxChars: 1000 });
    const fast = await perplexity(createW4A8KV4Model(w, { backend: createCpuBackend() }), tok, text, { maxChars: 1000 });
    expect(fast.tokens).toBeGreaterThan(200);
    expect(fast).toEqual(ref);
    expect(Object.is(fast.totalNll, ref.totalNll)).toBe(true);
  });
});
