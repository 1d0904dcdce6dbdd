/**
 * Perplexity with the windows spread over worker threads: the same bits as `perplexity` in one
 * thread for any thread count (FP32, and a W4A8KV4 model with its KL from FP32), the threads
 * really start, and a thread that cannot start or a model it cannot build is an error, not a hang.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { ParamError } from "@qoq/core";
import { byteLevelTokenizer, createFp32Model, createQuantizedModel, loadLlama2cBin, loadTokenizer, perplexity, quantizeRtn, type PerplexityResult } from "@qoq/model";
import { createCpuBackend } from "@qoq/backend-cpu";
import type { ModelRecipe } from "../src/model_recipe.js";
import { perplexityInWorkers } from "../src/parallel_perplexity.js";

// Counts the worker threads started, and can make the next ones fail as they start.
const threads = vi.hoisted(() => ({ started: 0, failNext: false }));
vi.mock("node:worker_threads", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:worker_threads")>();
  class CountingWorker extends real.Worker {
    constructor(url: URL | string, opts?: import("node:worker_threads").WorkerOptions) {
      if (threads.failNext) super("throw new Error('planted failure')", { eval: true });
      else super(url, opts);
      threads.started++;
    }
  }
  return { ...real, Worker: CountingWorker };
});

const DATA = join(import.meta.dirname, "../../../../shared/data");
const weights = loadLlama2cBin(join(DATA, "stories260K.bin"));
const tok = loadTokenizer(join(DATA, "tok512.bin"), 512);
// Documents (windows) of very different lengths: the threads finish out of order.
const text = readFileSync(join(DATA, "tinystories_val.txt"), "utf8");
const CHARS = 2500;

/** Every field, with the floats compared by their bits. */
function same(a: PerplexityResult, b: PerplexityResult): void {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const k of Object.keys(a) as (keyof PerplexityResult)[]) expect(Object.is(a[k], b[k]), k).toBe(true);
}

beforeEach(() => {
  threads.started = 0;
  threads.failNext = false;
});

describe("perplexityInWorkers", () => {
  it("FP32: any thread count gives the one-thread result, bit for bit, with the same progress", async () => {
    const progress: number[][] = [];
    const one = await perplexity(createFp32Model(weights), tok, text, { maxChars: CHARS, onProgress: (d, t, n) => progress.push([d, t, n]) });
    const recipe: ModelRecipe = { kind: "fp32", weights };
    for (const workers of [1, 2, 3]) {
      threads.started = 0;
      const seen: number[][] = [];
      const many = await perplexityInWorkers(recipe, tok, text, { workers, maxChars: CHARS, onProgress: (d, t, n) => seen.push([d, t, n]) });
      expect(threads.started, `${workers} workers`).toBe(workers);
      same(many, one);
      expect(seen).toEqual(progress);
    }
  });

  it("W4A8KV4 on the cpu backend with the KL from FP32: the one-thread result, bit for bit", async () => {
    const q = await quantizeRtn(weights, createCpuBackend(), { variant: "g128", group: 32 });
    const one = await perplexity(createQuantizedModel(q, createCpuBackend(), { prefillKv: "kv4" }), tok, text, { maxChars: 1500, reference: createFp32Model(weights), temperature: 1.5 });
    expect(one.kl).toBeGreaterThan(0);
    const many = await perplexityInWorkers({ kind: "quantized", model: q, backend: "cpu", prefillKv: "kv4" }, tok, text, {
      workers: 2,
      maxChars: 1500,
      reference: { kind: "fp32", weights },
      temperature: 1.5,
    });
    same(many, one);
    // The KV mode reaches the threads: the fp16 prefill scores differently.
    const fp16 = await perplexityInWorkers({ kind: "quantized", model: q, backend: "reference" }, tok, text, { workers: 2, maxChars: 1500, temperature: 1.5 });
    expect(fp16.nll).not.toBe(one.nll);
  });

  it("never starts more threads than windows", async () => {
    const r = await perplexityInWorkers({ kind: "fp32", weights }, tok, "One day, a cat sat.", { workers: 4 });
    expect(r.windows).toBe(1);
    expect(threads.started).toBe(1);
  });

  it("a thread that fails as it starts, or a model it cannot build, is an error naming it, not a hang", async () => {
    threads.failNext = true;
    await expect(perplexityInWorkers({ kind: "fp32", weights }, tok, text, { workers: 2, maxChars: 300 })).rejects.toThrow(/perplexity worker failed.*planted failure/);
    threads.failNext = false;
    const gpu = { kind: "quantized", model: await quantizeRtn(weights, createCpuBackend(), { variant: "chn" }), backend: "webgpu" } as unknown as ModelRecipe;
    await expect(perplexityInWorkers(gpu, tok, text, { workers: 2, maxChars: 300 })).rejects.toThrow(/cannot start backend 'webgpu'/);
  });

  it("bad options are a ParamError before any thread starts", async () => {
    const recipe: ModelRecipe = { kind: "fp32", weights };
    for (const workers of [0, 1.5, Number.NaN]) await expect(perplexityInWorkers(recipe, tok, text, { workers })).rejects.toThrow(ParamError);
    await expect(perplexityInWorkers(recipe, byteLevelTokenizer(300), text, { workers: 2 })).rejects.toThrow(/tokenizer has 300 tokens/);
    await expect(perplexityInWorkers(recipe, tok, text, { workers: 2, temperature: 0 })).rejects.toThrow(ParamError);
    await expect(perplexityInWorkers(recipe, tok, "", { workers: 2 })).rejects.toThrow(/no token to predict/);
    expect(threads.started).toBe(0);
  });
});
