/**
 * Perplexity with the windows spread over worker threads: each thread builds the model from its
 * {@link ModelRecipe} and scores whole windows; this thread sums the scores token by token in
 * text order, so the result has the bits of `perplexity` in one thread for any thread count.
 * @module
 */
import { ParamError } from "@qoq/core";
import { runInWorkers, type TaskSetup } from "@qoq/core/worker_pool";
import { checkTemperature, perplexityWindows, PerplexityTally, type PerplexityResult, type Tokenizer } from "@qoq/model";
import type { ModelRecipe } from "./model_recipe.js";

/** The first message of an evaluation worker: the models and every window; task i scores window i. */
export interface PerplexitySetup extends TaskSetup {
  readonly kind: "perplexity";
  readonly model: ModelRecipe;
  /** The model the KL is measured from, if any. */
  readonly reference?: ModelRecipe;
  readonly windows: readonly (readonly number[])[];
  readonly temperature: number;
}

/** Options of {@link perplexityInWorkers}. */
export interface ParallelPerplexityOptions {
  /** Worker threads (at least 1; never more than the windows). */
  readonly workers: number;
  /** Use only the first this many characters; default all. */
  readonly maxChars?: number;
  /** As in `perplexity`; default 1. */
  readonly temperature?: number;
  /** The model to measure the mean KL(reference ‖ model) from (untempered), e.g. FP32. */
  readonly reference?: ModelRecipe;
  /** Called after each document with (documents done, documents total, tokens so far). */
  readonly onProgress?: (done: number, total: number, tokens: number) => void;
}

/** The compiled worker module: in dist/ next to this module's compiled file; from src/ (tests run the sources) the same relative path reaches dist/. */
const EVAL_WORKER = new URL("../dist/eval_worker.js", import.meta.url);

/** The vocabulary size of the model a recipe describes. */
function vocabOf(r: ModelRecipe): number {
  return r.kind === "fp32" ? r.weights.config.vocabSize : r.model.config.vocabSize;
}

/**
 * `perplexity` (with `reference`: and the mean KL) of the model `recipe` describes on `text`,
 * under the same protocol, its windows scored on `opts.workers` threads. The same bits as one
 * thread: the scores are summed in text order.
 */
export async function perplexityInWorkers(recipe: ModelRecipe, tokenizer: Tokenizer, text: string, opts: ParallelPerplexityOptions): Promise<PerplexityResult> {
  const vocab = vocabOf(recipe);
  if (tokenizer.vocabSize !== vocab) throw new ParamError(`perplexity: tokenizer has ${tokenizer.vocabSize} tokens, the model ${vocab}`);
  if (opts.reference !== undefined && vocabOf(opts.reference) !== vocab) throw new ParamError(`perplexity: the reference model has ${vocabOf(opts.reference)} tokens, the model ${vocab}`);
  if (!Number.isSafeInteger(opts.workers) || opts.workers < 1) throw new ParamError(`perplexity: workers must be a positive integer, got ${opts.workers}`);
  const temperature = opts.temperature ?? 1;
  checkTemperature(temperature);
  const seqLen = recipe.kind === "fp32" ? recipe.weights.config.seqLen : recipe.model.config.seqLen;
  const plan = perplexityWindows(tokenizer, text, seqLen, opts.maxChars);
  const tally = new PerplexityTally(plan, opts.reference !== undefined, opts.onProgress);
  const setup: PerplexitySetup = { kind: "perplexity", model: recipe, ...(opts.reference !== undefined ? { reference: opts.reference } : {}), windows: plan.windows, temperature };
  // A text without a window to score needs no thread (the result is the tally's "no token" error).
  if (plan.windows.length === 0) return tally.result();
  const n = Math.min(opts.workers, plan.windows.length);
  await runInWorkers<Float64Array>(EVAL_WORKER, setup, plan.windows.length, n, (scores) => {
    tally.add(scores);
    return Promise.resolve();
  });
  return tally.result();
}
