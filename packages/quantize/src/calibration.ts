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
import { ParamError, yieldToEventLoop } from "@qoq/core";
import { BOS_ID, createFp32Model, headDim, splitDocuments, type ActivationSite, type LlamaWeights, type Tokenizer } from "@qoq/model";

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

/** The activations of the first calibration window kept for clipping (binary32, row-major tokens × width). */
export interface KeptInputs {
  /** Tokens kept (rows), the first `tokens` positions of window 0. */
  readonly tokens: number;
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
  /** Keep the inputs of the first `keepTokens` tokens of window 0 (default 0, at most its length). */
  readonly keepTokens?: number;
  /** Also accumulate the {@link LinearGrams} of every layer over all tokens (default false: K² work per token and input). */
  readonly grams?: boolean;
  /** Called after each window with (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

const SITES: readonly ActivationSite[] = ["attn_in", "q", "k", "v", "o_in", "ffn_in", "down_in"];

/** Run every calibration window through the FP32 forward pass of `weights` and collect {@link CalibrationStats}. */
export async function collectStats(weights: LlamaWeights, set: CalibrationSet, opts: CollectOptions = {}): Promise<CalibrationStats> {
  const c = weights.config;
  const hd = headDim(c);
  const width: Record<ActivationSite, number> = {
    attn_in: c.dim,
    q: c.nHeads * hd,
    k: c.nKvHeads * hd,
    v: c.nKvHeads * hd,
    o_in: c.nHeads * hd,
    ffn_in: c.dim,
    down_in: c.hiddenDim,
  };
  const maxima: SiteMaxima[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const m = {} as SiteMaxima;
    for (const s of SITES) m[s] = new Float64Array(width[s]);
    maxima.push(m);
  }
  const keep = Math.min(opts.keepTokens ?? 0, set.windows[0]?.length ?? 0);
  const keptSites = { attn_in: "attnIn", q: "q", k: "k", v: "v", o_in: "oIn", ffn_in: "ffnIn", down_in: "downIn" } as const;
  const kept = Array.from({ length: keep > 0 ? c.nLayers : 0 }, () => ({
    tokens: keep,
    attnIn: new Float32Array(keep * c.dim),
    q: new Float32Array(keep * width.q),
    k: new Float32Array(keep * width.k),
    v: new Float32Array(keep * width.v),
    oIn: new Float32Array(keep * width.o_in),
    ffnIn: new Float32Array(keep * c.dim),
    downIn: new Float32Array(keep * c.hiddenDim),
  }));
  const gramSites = ["attn_in", "o_in", "ffn_in", "down_in"] as const;
  const grams: LinearGrams[] | undefined = opts.grams
    ? Array.from({ length: c.nLayers }, () => Object.fromEntries(gramSites.map((s) => [s, new Float64Array(width[s] * width[s])])) as LinearGrams)
    : undefined;
  let windowIndex = 0;
  const model = createFp32Model(weights, {
    onActivation: (layer, site, values, tokens, w) => {
      const m = maxima[layer]![site];
      for (let t = 0; t < tokens; t++) {
        for (let j = 0; j < w; j++) {
          const a = Math.abs(values[t * w + j]!);
          if (a > m[j]!) m[j] = a;
        }
      }
      if (windowIndex === 0 && keep > 0) {
        const dst = kept[layer]![keptSites[site]];
        dst.set(values.subarray(0, keep * w));
      }
      if (grams !== undefined && site in grams[layer]!) accumulateGram(grams[layer]![site as keyof LinearGrams], values, tokens, w);
    },
  });
  for (windowIndex = 0; windowIndex < set.windows.length; windowIndex++) {
    const session = model.newSession();
    try {
      await session.forward(set.windows[windowIndex]!);
    } finally {
      session.dispose();
    }
    opts.onProgress?.(windowIndex + 1, set.windows.length);
    await yieldToEventLoop();
  }
  for (const layerGrams of grams ?? []) {
    for (const g of Object.values(layerGrams)) {
      const w = Math.sqrt(g.length);
      for (let i = 0; i < w; i++) for (let j = 0; j < i; j++) g[i * w + j] = g[j * w + i]!;
    }
  }
  return { maxima, kept, ...(grams ? { grams } : {}), tokens: set.tokens };
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
