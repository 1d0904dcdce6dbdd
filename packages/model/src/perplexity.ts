/**
 * Perplexity on text under the project's fixed protocol (see {@link perplexity}).
 * @module
 */
import { ParamError, periodicYield, ShapeError } from "@qoq/core";
import type { LanguageModel } from "./language_model.js";
import { BOS_ID, type Tokenizer } from "./tokenizer.js";

/** Result of {@link perplexity}. */
export interface PerplexityResult {
  /** exp(total NLL / predicted tokens). */
  readonly ppl: number;
  /** Number of predicted (scored) tokens. */
  readonly tokens: number;
  /** Mean negative log-likelihood per predicted token, in nats (= ln ppl). */
  readonly nll: number;
  /** Total negative log-likelihood over all predicted tokens, in nats. */
  readonly totalNll: number;
  /** Number of documents (non-empty blank-line-separated pieces). */
  readonly documents: number;
  /** Number of windows (fresh sessions) scored. */
  readonly windows: number;
}

/** Options of {@link perplexity}. */
export interface PerplexityOptions {
  /** Use only the first this many characters (Unicode code points) of the text; default all. */
  readonly maxChars?: number;
  /**
   * Score `softmax(logits / temperature)` instead of `softmax(logits)`; default 1. Not part of the
   * protocol's numbers: a diagnostic. A model that is overconfident on a text scores lower
   * perplexity at T > 1, so there any perturbation that flattens its distribution (quantization
   * noise included) can lower perplexity without bringing the model closer to itself.
   */
  readonly temperature?: number;
  /** Called after each window with (documents done, documents total, tokens so far). */
  readonly onProgress?: (done: number, total: number, tokens: number) => void;
}

/** The first `n` code points of `s` (a surrogate pair counts as one character). */
export function firstChars(s: string, n: number): string {
  let i = 0;
  let count = 0;
  while (i < s.length && count < n) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
    count++;
  }
  return s.slice(0, i);
}

/** The documents of the protocol: split on "\n\n", trim each piece, drop empty ones. */
export function splitDocuments(text: string): string[] {
  return text
    .split("\n\n")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** −log softmax(logits / temperature)[target] in float64 (temperature 1: the plain softmax). */
export function tokenNll(logits: ArrayLike<number>, target: number, temperature = 1): number {
  const { max, sum } = shiftedExpSum(logits, temperature);
  return -((logits[target]! - max) / temperature - Math.log(sum));
}

/** `max` of `x` and `Σ exp((x − max) / temperature)`: the max shift keeps every term ≤ 1, so none overflows. */
function shiftedExpSum(x: ArrayLike<number>, temperature: number): { max: number; sum: number } {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp((x[i]! - max) / temperature);
  return { max, sum };
}

/**
 * KL(softmax(p) ‖ softmax(q)) in nats, in float64: how far a model's next-token distribution (logits
 * `q`) is from a reference's (logits `p`, e.g. the FP32 model's). Throws `ShapeError` when the
 * lengths differ.
 */
export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) throw new ShapeError(`klDivergence: reference logits have ${p.length} entries, the other ${q.length}`);
  const lp = logSumExp(p);
  const lq = logSumExp(q);
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i]! - lp;
    kl += Math.exp(a) * (a - (q[i]! - lq));
  }
  return kl;
}

/** log Σ exp(x). */
function logSumExp(x: ArrayLike<number>): number {
  const { max, sum } = shiftedExpSum(x, 1);
  return max + Math.log(sum);
}

/**
 * Perplexity under the fixed protocol: take the first `maxChars` characters; split on "\n\n";
 * trim each piece; drop empty ones; each piece is a document `[BOS] + encode(piece)` (encode
 * with the dummy prefix, as llama2.c); score each document in consecutive non-overlapping windows
 * of `seqLen + 1` tokens (seqLen from the model config), each window with a fresh session, every
 * token after the first of a window predicted from the ones before it in the window;
 * `ppl = exp(total NLL / predicted tokens)`, NLL from log-softmax in float64.
 */
export async function perplexity(model: LanguageModel, tokenizer: Tokenizer, text: string, opts: PerplexityOptions = {}): Promise<PerplexityResult> {
  if (tokenizer.vocabSize !== model.config.vocabSize) throw new ParamError(`perplexity: tokenizer has ${tokenizer.vocabSize} tokens, the model ${model.config.vocabSize}`);
  const chars = opts.maxChars ?? Infinity;
  if (!(chars >= 0)) throw new ParamError(`perplexity: maxChars must be ≥ 0, got ${opts.maxChars}`);
  const temperature = opts.temperature ?? 1;
  if (!(temperature > 0 && temperature < Infinity)) throw new ParamError(`perplexity: temperature must be finite and > 0, got ${opts.temperature}`);
  const docs = splitDocuments(Number.isFinite(chars) ? firstChars(text, chars) : text);
  const win = model.config.seqLen + 1;
  let total = 0;
  let tokens = 0;
  let windows = 0;
  // The forward passes are synchronous: give the event loop a turn now and then (timers, I/O, progress).
  const turn = periodicYield(100);
  for (let d = 0; d < docs.length; d++) {
    const ids = [BOS_ID, ...tokenizer.encode(docs[d]!)];
    for (let start = 0; start < ids.length; start += win) {
      await turn();
      const w = ids.slice(start, start + win);
      if (w.length < 2) continue;
      windows++;
      const session = model.newSession();
      try {
        const logits = await session.forward(w.slice(0, -1));
        for (let i = 0; i < logits.length; i++) total += tokenNll(logits[i]!, w[i + 1]!, temperature);
        tokens += w.length - 1;
      } finally {
        session.dispose();
      }
    }
    opts.onProgress?.(d + 1, docs.length, tokens);
  }
  if (tokens === 0) throw new ParamError("perplexity: the text gives no token to predict");
  return { ppl: Math.exp(total / tokens), tokens, nll: total / tokens, totalNll: total, documents: docs.length, windows };
}
