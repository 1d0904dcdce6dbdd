/**
 * stories260K perplexity on the first 60,000 characters of tinystories_val.txt against the
 * independent number in SOURCES.md (its own file so that vitest runs it beside the other files).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createFp32Model, loadLlama2cBin, loadTokenizer, perplexity } from "../src/index.js";
import { dataFile } from "./data.js";

describe("stories260K FP32 perplexity", () => {
  it("perplexity on the first 60,000 characters of tinystories_val.txt matches SOURCES.md (27,941 tokens, NLL 1.436)", async () => {
    const w = loadLlama2cBin(dataFile("stories260K.bin"));
    const tok = loadTokenizer(dataFile("tok512.bin"), w.config.vocabSize);
    const text = readFileSync(dataFile("tinystories_val.txt"), "utf8");
    const t0 = performance.now();
    const r = await perplexity(createFp32Model(w), tok, text, { maxChars: 60_000 });
    const secs = (performance.now() - t0) / 1000;
    console.log(`stories260K fp32 ppl(60k chars) = ${r.ppl} (nll ${r.nll}, ${r.tokens} tokens, ${r.documents} docs, ${r.windows} windows) in ${secs.toFixed(1)} s`);
    expect(r.tokens).toBe(27_941);
    // SOURCES.md: mean NLL 1.436 nats/token, i.e. ppl = exp(1.436) = 4.2036.
    expect(Math.abs(r.ppl / Math.exp(1.436) - 1)).toBeLessThan(0.002);
    expect(Math.abs(r.nll - 1.436)).toBeLessThan(0.0006); // 1.436 is rounded to 3 decimals
    expect(r.documents).toBe(r.windows); // every document is shorter than 513 tokens here
  });

});
