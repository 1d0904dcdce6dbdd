/**
 * Token generation (greedy or sampled) over any {@link LanguageModel}, like llama2.c `run.c`.
 * @module
 */
import { ParamError, Rng } from "@qoq/core";
import type { LanguageModel } from "./language_model.js";
import { BOS_ID, EOS_ID } from "./tokenizer.js";

/** Options of {@link generate}. */
export interface GenerateOptions {
  /** The tokens to start from (typically `[BOS]` or BOS + an encoded prompt); at least one. */
  readonly prompt: readonly number[];
  /** Most tokens to generate. */
  readonly maxTokens: number;
  /** 0 (default) = greedy argmax (lowest index on ties); > 0 = sample from softmax(logits / T). */
  readonly temperature?: number;
  /** Seed of the `Rng` used for sampling (default 0). */
  readonly seed?: number;
  /** Generation stops (without emitting it) when one of these is produced; default BOS and EOS. */
  readonly stopTokens?: readonly number[];
  /** Called with each generated token as soon as it is known (for streaming output). */
  readonly onToken?: (token: number, prev: number) => void;
}

/** What {@link generate} produced. */
export interface GenerateResult {
  /** The generated tokens (prompt and stop token excluded). */
  readonly tokens: number[];
  /** Why it stopped. */
  readonly stop: "max_tokens" | "stop_token" | "context_full";
}

/** Index of the largest value, the lowest index on ties (NaN never wins). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let bv = logits[0]!;
  for (let i = 1; i < logits.length; i++) {
    if (logits[i]! > bv || Number.isNaN(bv)) {
      bv = logits[i]!;
      best = i;
    }
  }
  return best;
}

/**
 * Sample from softmax(logits / temperature) with one uniform draw `u = rng.float()`: the first
 * index whose cumulative probability (float64, in index order) exceeds `u` (llama2.c
 * `sample_mult`; no top-p truncation), the last index if rounding leaves `u` above the total.
 */
export function sampleLogits(logits: ArrayLike<number>, temperature: number, rng: Rng): number {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i]! / temperature);
  const p = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    p[i] = Math.exp(logits[i]! / temperature - max);
    sum += p[i]!;
  }
  const u = rng.float();
  let cdf = 0;
  for (let i = 0; i < n; i++) {
    cdf += p[i]! / sum;
    if (u < cdf) return i;
  }
  return n - 1;
}

/**
 * Generate up to `maxTokens` tokens after `prompt` (fed in one call), greedy or sampled. Stops
 * early when a stop token (default BOS = 1, EOS = 2) is produced or the context (seqLen) is
 * full. Same loop as llama2.c `run.c` `generate()` (which stops on BOS) with `steps =
 * prompt length − 1 + maxTokens`.
 */
export async function generate(model: LanguageModel, opts: GenerateOptions): Promise<GenerateResult> {
  const { prompt, maxTokens } = opts;
  const temperature = opts.temperature ?? 0;
  if (prompt.length === 0) throw new ParamError("generate: the prompt must hold at least one token (e.g. BOS)");
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 0) throw new ParamError(`generate: maxTokens must be a non-negative integer, got ${maxTokens}`);
  if (!(Number.isFinite(temperature) && temperature >= 0)) throw new ParamError(`generate: temperature must be finite and ≥ 0, got ${temperature}`);
  if (prompt.length > model.config.seqLen) throw new ParamError(`generate: prompt of ${prompt.length} tokens exceeds seqLen ${model.config.seqLen}`);
  const stops = new Set(opts.stopTokens ?? [BOS_ID, EOS_ID]);
  const rng = new Rng(opts.seed ?? 0);
  const session = model.newSession();
  const out: number[] = [];
  try {
    if (maxTokens === 0) return { tokens: out, stop: "max_tokens" };
    let logits = (await session.forward(prompt)).at(-1)!;
    let prev = prompt[prompt.length - 1]!;
    let fed = prompt.length;
    for (;;) {
      const next = temperature === 0 ? argmax(logits) : sampleLogits(logits, temperature, rng);
      if (stops.has(next)) return { tokens: out, stop: "stop_token" };
      out.push(next);
      opts.onToken?.(next, prev);
      prev = next;
      if (out.length >= maxTokens) return { tokens: out, stop: "max_tokens" };
      if (fed >= model.config.seqLen) return { tokens: out, stop: "context_full" };
      logits = (await session.forward([next]))[0]!;
      fed++;
    }
  } finally {
    session.dispose();
  }
}
