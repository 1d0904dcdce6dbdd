/**
 * Calibration: token windows cut from a calibration text, run through the FP32 model, and the
 * statistics the QoQ steps need — per-channel absolute maxima of every linear layer's input, of
 * the post-RoPE queries and keys, and of the values (qoq-spec §5.5), plus the inputs of the
 * first tokens kept for clipping, and (on request) the Gram matrices `Σ x·xᵀ` of the linear
 * layers' inputs that GPTQ needs.
 *
 * The windows (deterministic; DeepCompressor instead draws random 1024-token windows with seed
 * 42 from the Pile): the text is split into documents as the perplexity protocol does (blank
 * lines), each document becomes `[BOS] + encode(document)`, the documents are concatenated into
 * one token stream, and the first `samples` consecutive windows of `seqLen` tokens are taken (as
 * many as the text has, at least one), after skipping `offset` windows (held-out windows for the
 * step selection come after the calibration windows). Only the documents needed are tokenized, so a long
 * calibration text costs no more than the windows it supplies; a document longer than
 * {@link CALIB_CHUNK_CHARS} characters is tokenized in pieces of whole lines (the BPE merge is
 * quadratic in a piece's length, and a text without blank lines is one document).
 * @module
 */
import { createHash } from "node:crypto";
import { ParamError, RangeViolationError, yieldToEventLoop } from "@qoq/core";
import { BOS_ID, splitDocuments, stackRows, type ActivationSite, type LlamaWeights, type Tokenizer } from "@qoq/model";
import { GRAM_SITES, SITES, siteWidths, WindowCollector, type WindowRecord } from "./calibration_window.js";
import { runPipelineTasks, shareWeights } from "./worker_pool.js";

/** Options of {@link calibrationWindows}. */
export interface CalibrationOptions {
  /** Number of windows (default 32). */
  readonly samples?: number;
  /** Tokens per window (default min(256, the model's seqLen)). */
  readonly seqLen?: number;
  /** Windows of the stream to skip before the first one taken (default 0): held-out windows of the same text come after the calibration windows. */
  readonly offset?: number;
}

/** The calibration data: token windows and the identity of the text they came from. */
export interface CalibrationSet {
  /** Token windows, each `seqLen` long. */
  readonly windows: readonly (readonly number[])[];
  /** SHA-256 (hex) of the calibration text's UTF-8 bytes. */
  readonly sha256: string;
  /** Tokens over all windows. */
  readonly tokens: number;
}

/** Longest piece of a calibration document that is tokenized at once (see the module comment). */
export const CALIB_CHUNK_CHARS = 4096;

/** `doc` in pieces of whole lines of at most {@link CALIB_CHUNK_CHARS} characters (a longer line is cut). */
function pieces(doc: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (const line of doc.split("\n")) {
    for (let i = 0; i < Math.max(line.length, 1); i += CALIB_CHUNK_CHARS) {
      const part = line.slice(i, i + CALIB_CHUNK_CHARS);
      if (cur.length > 0 && cur.length + 1 + part.length > CALIB_CHUNK_CHARS) {
        out.push(cur);
        cur = "";
      }
      cur = cur.length > 0 ? `${cur}\n${part}` : part;
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Cut the calibration windows from `text` (see the module comment). Throws `ParamError` when the text has no full window. */
export function calibrationWindows(text: string, tokenizer: Tokenizer, modelSeqLen: number, opts: CalibrationOptions = {}): CalibrationSet {
  const samples = opts.samples ?? 32;
  const seqLen = opts.seqLen ?? Math.min(256, modelSeqLen);
  if (!Number.isSafeInteger(samples) || samples < 1) throw new ParamError(`calibration samples must be a positive integer, got ${samples}`);
  if (!Number.isSafeInteger(seqLen) || seqLen < 2 || seqLen > modelSeqLen) throw new ParamError(`calibration window length must be an integer in [2, ${modelSeqLen}] (the model's seqLen), got ${seqLen}`);
  const offset = opts.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new ParamError(`calibration window offset must be a non-negative integer, got ${offset}`);
  const need = (offset + samples) * seqLen;
  const stream: number[] = [];
  outer: for (const doc of splitDocuments(text)) {
    stream.push(BOS_ID);
    for (const piece of pieces(doc)) {
      if (stream.length >= need) break outer;
      stream.push(...tokenizer.encode(piece));
    }
  }
  const n = Math.min(samples, Math.floor(stream.length / seqLen) - offset);
  if (n <= 0) {
    const after = offset > 0 ? ` after the first ${offset} windows` : "";
    throw new ParamError(`the calibration text gives ${stream.length} tokens, fewer than one window of ${seqLen}${after}`);
  }
  const windows: number[][] = [];
  for (let i = offset; i < offset + n; i++) windows.push(stream.slice(i * seqLen, (i + 1) * seqLen));
  return { windows, sha256: createHash("sha256").update(text, "utf8").digest("hex"), tokens: n * seqLen };
}

/** Per-channel maxima of |x| at every activation site of one layer, over all calibration tokens. */
export type SiteMaxima = Record<ActivationSite, Float64Array>;

/**
 * The activations kept for clipping and the grid searches (binary32, row-major tokens × width):
 * the first `windowTokens` positions of each of the first calibration windows, window after
 * window. The attention searches score each window's causal attention on its own (positions 0 …
 * `windowTokens` − 1); the searches of a linear treat every row alike.
 */
export interface KeptInputs {
  /** Rows kept, over all kept windows: a multiple of `windowTokens`. */
  readonly tokens: number;
  /** Rows per kept window (its first positions). */
  readonly windowTokens: number;
  /** Input of q/k/v_proj. */
  readonly attnIn: Float32Array;
  /** Queries after RoPE. */
  readonly q: Float32Array;
  /** Keys after RoPE. */
  readonly k: Float32Array;
  /** Values. */
  readonly v: Float32Array;
  /** Input of o_proj. */
  readonly oIn: Float32Array;
  /** Input of gate/up_proj. */
  readonly ffnIn: Float32Array;
  /** Input of down_proj. */
  readonly downIn: Float32Array;
}

/**
 * Per layer, the Gram matrix `Σ_t x_t·x_tᵀ` (row-major K × K, float64, summed in token order) of
 * the input x of each linear: q/k/v_proj (`attn_in`), o_proj (`o_in`), gate/up_proj (`ffn_in`),
 * down_proj (`down_in`).
 */
export type LinearGrams = Record<"attn_in" | "o_in" | "ffn_in" | "down_in", Float64Array>;

/** Calibration statistics of a whole model. */
export interface CalibrationStats {
  /** Per layer: the maxima of every site. */
  readonly maxima: readonly SiteMaxima[];
  /** Per layer: the kept inputs (only when `keepTokens` > 0). */
  readonly kept: readonly KeptInputs[];
  /** Per layer: the Gram matrices of the linear inputs (only when asked for with `grams`). */
  readonly grams?: readonly LinearGrams[];
  /** Tokens the maxima cover. */
  readonly tokens: number;
}

/** Options of {@link collectStats}. */
export interface CollectOptions {
  /** Keep the inputs of the first `keepTokens` tokens of each kept window (default 0, at most the shortest kept window's length). */
  readonly keepTokens?: number;
  /** How many windows (the first ones) keep their first `keepTokens` tokens (default 1, at most the windows there are). */
  readonly keepWindows?: number;
  /** Also accumulate the {@link LinearGrams} of every layer over all tokens (default false: K² work per token and input). */
  readonly grams?: boolean;
  /**
   * Worker threads that run the windows' forward passes (default 1: this thread runs them; Node
   * only). Any count gives the same bits: each window's record is folded in window order, and the
   * Gram matrices are summed here, token by token, as one thread would.
   */
  readonly workers?: number;
  /** Called after each window with (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** The {@link KeptInputs} field of each site. */
const KEPT_NAMES = { attn_in: "attnIn", q: "q", k: "k", v: "v", o_in: "oIn", ffn_in: "ffnIn", down_in: "downIn" } as const satisfies Record<ActivationSite, keyof KeptInputs>;

/** Run every calibration window through the FP32 forward pass of `weights` and collect {@link CalibrationStats}. */
export async function collectStats(weights: LlamaWeights, set: CalibrationSet, opts: CollectOptions = {}): Promise<CalibrationStats> {
  const workers = opts.workers ?? 1;
  if (!Number.isSafeInteger(workers) || workers < 1) throw new ParamError(`calibration workers must be a positive integer, got ${workers}`);
  const c = weights.config;
  // Checked here, before any worker starts, so a bad window is the same typed error with or without workers.
  set.windows.forEach((win, w) =>
    win.forEach((t, i) => {
      if (!Number.isSafeInteger(t) || t < 0 || t >= c.vocabSize) throw new RangeViolationError(`calibration window ${w}`, i, `token ${t} is outside the vocabulary [0, ${c.vocabSize})`);
    }),
  );
  const width = siteWidths(c);
  const askedWindows = opts.keepWindows ?? 1;
  if (!Number.isSafeInteger(askedWindows) || askedWindows < 1) throw new ParamError(`calibration keepWindows must be a positive integer, got ${askedWindows}`);
  const keepWindows = Math.min(askedWindows, set.windows.length);
  const keep = keepWindows === 0 ? 0 : Math.min(opts.keepTokens ?? 0, ...set.windows.slice(0, keepWindows).map((win) => win.length));
  const request = { keep, keepWindows, grams: opts.grams === true };
  const maxima: SiteMaxima[] = Array.from({ length: c.nLayers }, () => Object.fromEntries(SITES.map((s) => [s, new Float64Array(width[s])])) as SiteMaxima);
  // Per layer and site, each kept window's rows, concatenated after the last window.
  const keptParts: Float32Array[][][] = Array.from({ length: c.nLayers }, () => SITES.map(() => []));
  const grams: LinearGrams[] | undefined = request.grams
    ? Array.from({ length: c.nLayers }, () => Object.fromEntries(GRAM_SITES.map((s) => [s, new Float64Array(width[s] * width[s])])) as LinearGrams)
    : undefined;
  const total = set.windows.length;
  // Records arrive in window order (the worker pool holds back early ones), so this is one thread's sum.
  const fold = async (r: WindowRecord): Promise<void> => {
    for (let l = 0; l < c.nLayers; l++) {
      SITES.forEach((s, si) => {
        const m = maxima[l]![s];
        const wm = r.maxima[l]![si]!;
        for (let j = 0; j < m.length; j++) if (wm[j]! > m[j]!) m[j] = wm[j]!;
      });
      r.kept?.[l]?.forEach((a, si) => keptParts[l]![si]!.push(a));
      if (grams !== undefined) GRAM_SITES.forEach((s, gi) => accumulateGram(grams[l]![s], r.inputs![l]![gi]!, r.inputs![l]![gi]!.length / width[s], width[s]));
    }
    opts.onProgress?.(r.index + 1, total);
    await yieldToEventLoop();
  };
  if (workers === 1 || total < 2) {
    const collector = new WindowCollector(weights, request);
    for (let i = 0; i < total; i++) await fold(await collector.collect(set.windows[i]!, i));
  } else {
    await runPipelineTasks<WindowRecord>({ kind: "calibration", weights: shareWeights(weights), windows: set.windows, request }, total, Math.min(workers, total), fold);
  }
  for (const layerGrams of grams ?? []) {
    for (const g of Object.values(layerGrams)) {
      const w = Math.sqrt(g.length);
      for (let i = 0; i < w; i++) for (let j = 0; j < i; j++) g[i * w + j] = g[j * w + i]!;
    }
  }
  const kept: KeptInputs[] =
    keep > 0
      ? keptParts.map((sites) => ({ tokens: keep * keepWindows, windowTokens: keep, ...Object.fromEntries(SITES.map((s, si) => [KEPT_NAMES[s], concat(sites[si]!)])) }) as unknown as KeptInputs)
      : [];
  return { maxima, kept, ...(grams ? { grams } : {}), tokens: set.tokens };
}

/**
 * The kept inputs of the first `perWindow` positions of each kept window (all of them when
 * `perWindow` is at least `windowTokens`): what a search that scores fewer tokens per window
 * reads, such as the attention objectives of clipping and of the SmoothAttention grid.
 */
export function keptPrefix(kept: KeptInputs, perWindow: number): KeptInputs {
  const n = Math.min(perWindow, kept.windowTokens);
  if (n === kept.windowTokens) return kept;
  const windows = kept.tokens / kept.windowTokens;
  const cut = (a: Float32Array): Float32Array => {
    const width = a.length / kept.tokens;
    return concat(Array.from({ length: windows }, (_, i) => a.subarray(i * kept.windowTokens * width, (i * kept.windowTokens + n) * width)));
  };
  const out = { tokens: n * windows, windowTokens: n } as Record<string, unknown>;
  for (const s of SITES) out[KEPT_NAMES[s]] = cut(kept[KEPT_NAMES[s]]);
  return out as unknown as KeptInputs;
}

/** `g += Σ_t x_t·x_tᵀ` for `tokens` rows of width `w`, upper triangle only (mirrored once by {@link collectStats} after the last window). */
function accumulateGram(g: Float64Array, x: Float32Array, tokens: number, w: number): void {
  for (let t = 0; t < tokens; t++) {
    const row = t * w;
    for (let i = 0; i < w; i++) {
      const xi = x[row + i]!;
      if (xi === 0) continue;
      const gi = i * w;
      for (let j = i; j < w; j++) g[gi + j] = g[gi + j]! + xi * x[row + j]!;
    }
  }
}

/** The arrays one after the other (the array itself when there is one). */
function concat(parts: readonly Float32Array[]): Float32Array {
  return parts.length === 1 ? parts[0]! : stackRows(parts);
}
