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
  /** With a reference model: the mean KL(reference ‖ model) per predicted token, in nats. */
  readonly kl?: number;
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
  /** Called after each document with (documents done, documents total, tokens so far). */
  readonly onProgress?: (done: number, total: number, tokens: number) => void;
  /** A reference model (e.g. FP32) to measure the mean KL(reference ‖ model) against; its logits are untempered. */
  readonly reference?: LanguageModel;
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

/** The windows of a text under the protocol of {@link perplexity}. */
export interface PerplexityWindows {
  /** Every window's tokens (2 to seqLen + 1 of them), document by document, in order. */
  readonly windows: readonly (readonly number[])[];
  /** Per document, how many windows the documents up to and including it have (a one-token document has none). */
  readonly documentEnds: readonly number[];
}

/**
 * The protocol's windows of `text` (see {@link perplexity}): the first `maxChars` characters,
 * split into documents, each `[BOS] + encode(piece)` cut into consecutive non-overlapping windows
 * of `seqLen + 1` tokens; a window of one token predicts nothing and is dropped.
 */
export function perplexityWindows(tokenizer: Tokenizer, text: string, seqLen: number, maxChars = Infinity): PerplexityWindows {
  if (!(maxChars >= 0)) throw new ParamError(`perplexity: maxChars must be ≥ 0, got ${maxChars}`);
  const docs = splitDocuments(Number.isFinite(maxChars) ? firstChars(text, maxChars) : text);
  const win = seqLen + 1;
  const windows: number[][] = [];
  const documentEnds: number[] = [];
  for (const doc of docs) {
    const ids = [BOS_ID, ...tokenizer.encode(doc)];
    for (let start = 0; start < ids.length; start += win) if (ids.length - start >= 2) windows.push(ids.slice(start, start + win));
    documentEnds.push(windows.length);
  }
  return { windows, documentEnds };
}

/**
 * The scores of one window (its first token up to the last predicts the next): per predicted
 * token its NLL under `softmax(logits / temperature)`, then, when `reference` is given, its
 * KL(reference ‖ model) (plain softmax), in one array (length `window.length − 1`, or twice that).
 * Each model runs the window in a fresh session.
 */
export async function scoreWindow(model: LanguageModel, window: readonly number[], temperature = 1, reference?: LanguageModel): Promise<Float64Array> {
  const n = window.length - 1;
  const logits = await forwardFresh(model, window.slice(0, -1));
  const ref = reference !== undefined ? await forwardFresh(reference, window.slice(0, -1)) : undefined;
  const scores = new Float64Array(ref !== undefined ? 2 * n : n);
  for (let i = 0; i < n; i++) {
    scores[i] = tokenNll(logits[i]!, window[i + 1]!, temperature);
    if (ref !== undefined) scores[n + i] = klDivergence(ref[i]!, logits[i]!);
  }
  return scores;
}

/** The logits of `tokens` from a fresh session of `model`, disposed after (also when the forward pass throws). */
export async function forwardFresh(model: LanguageModel, tokens: readonly number[]): Promise<Float32Array[]> {
  const session = model.newSession();
  try {
    return await session.forward(tokens);
  } finally {
    session.dispose();
  }
}

/**
 * Sums windows' scores ({@link scoreWindow}) into a {@link PerplexityResult}, token by token in
 * the order added: fed the windows in order, it gives the same bits however the scores were
 * computed (in this thread or in workers).
 */
export class PerplexityTally {
  private totalNll = 0;
  private totalKl = 0;
  private tokens = 0;
  private windows = 0;
  private documentsDone = 0;

  /** `kl`: whether the scores carry a KL half (a reference model). */
  constructor(
    private readonly plan: PerplexityWindows,
    private readonly kl: boolean,
    private readonly onProgress?: (done: number, total: number, tokens: number) => void,
  ) {
    this.reportDocuments();
  }

  /** Add the next window's scores. */
  add(scores: Float64Array): void {
    const n = this.kl ? scores.length / 2 : scores.length;
    for (let i = 0; i < n; i++) this.totalNll += scores[i]!;
    if (this.kl) for (let i = n; i < 2 * n; i++) this.totalKl += scores[i]!;
    this.tokens += n;
    this.windows++;
    this.reportDocuments();
  }

  /** Report the documents whose windows are all added (a document without windows as soon as those before it are). */
  private reportDocuments(): void {
    const ends = this.plan.documentEnds;
    while (this.documentsDone < ends.length && ends[this.documentsDone]! <= this.windows) {
      this.documentsDone++;
      this.onProgress?.(this.documentsDone, ends.length, this.tokens);
    }
  }

  /** The result; throws `ParamError` when no token was predicted. */
  result(): PerplexityResult {
    if (this.tokens === 0) throw new ParamError("perplexity: the text gives no token to predict");
    const nll = this.totalNll / this.tokens;
    return { ppl: Math.exp(nll), tokens: this.tokens, nll, totalNll: this.totalNll, documents: this.plan.documentEnds.length, windows: this.windows, ...(this.kl ? { kl: this.totalKl / this.tokens } : {}) };
  }
}

/** Checks a perplexity temperature: finite and > 0. */
export function checkTemperature(temperature: number): void {
  if (!(temperature > 0 && temperature < Infinity)) throw new ParamError(`perplexity: temperature must be finite and > 0, got ${temperature}`);
}

/**
 * Perplexity under the fixed protocol: take the first `maxChars` characters; split on "\n\n";
 * trim each piece; drop empty ones; each piece is a document `[BOS] + encode(piece)` (encode
 * with the dummy prefix, as llama2.c); score each document in consecutive non-overlapping windows
 * of `seqLen + 1` tokens (seqLen from the model config), each window with a fresh session, every
 * token after the first of a window predicted from the ones before it in the window;
 * `ppl = exp(total NLL / predicted tokens)`, NLL from log-softmax in float64, summed token by
 * token in text order. With `reference`, also the mean KL(reference ‖ model) per predicted token.
 */
export async function perplexity(model: LanguageModel, tokenizer: Tokenizer, text: string, opts: PerplexityOptions = {}): Promise<PerplexityResult> {
  if (tokenizer.vocabSize !== model.config.vocabSize) throw new ParamError(`perplexity: tokenizer has ${tokenizer.vocabSize} tokens, the model ${model.config.vocabSize}`);
  const temperature = opts.temperature ?? 1;
  checkTemperature(temperature);
  if (opts.reference !== undefined && opts.reference.config.vocabSize !== model.config.vocabSize) {
    throw new ParamError(`perplexity: the reference model has ${opts.reference.config.vocabSize} tokens, the model ${model.config.vocabSize}`);
  }
  const plan = perplexityWindows(tokenizer, text, model.config.seqLen, opts.maxChars);
  const tally = new PerplexityTally(plan, opts.reference !== undefined, opts.onProgress);
  // The forward passes are synchronous: give the event loop a turn now and then (timers, I/O, progress).
  const turn = periodicYield(100);
  for (const w of plan.windows) {
    await turn();
    tally.add(await scoreWindow(model, w, temperature, opts.reference));
  }
  return tally.result();
}
