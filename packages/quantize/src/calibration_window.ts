/**
 * One calibration window's share of the statistics, as a record: what the FP32 forward pass
 * over that window saw. The main thread folds the records in window order into
 * {@link CalibrationStats}, whether it computed them itself or calibration workers did, so the
 * statistics are the same bits either way (`calibration.ts`).
 * @module
 */
import { createFp32Model, forwardFresh, headDim, type ActivationSite, type LanguageModel, type LlamaConfig, type LlamaWeights } from "@qoq/model";

/** Every site the calibration observes, in the order the records hold them. */
export const SITES: readonly ActivationSite[] = ["attn_in", "q", "k", "v", "o_in", "ffn_in", "down_in"];

/** The sites that are linear inputs (their Gram matrices are what GPTQ needs). */
export const GRAM_SITES = ["attn_in", "o_in", "ffn_in", "down_in"] as const;

/** Channels per token at every site. */
export function siteWidths(c: LlamaConfig): Record<ActivationSite, number> {
  const hd = headDim(c);
  return { attn_in: c.dim, q: c.nHeads * hd, k: c.nKvHeads * hd, v: c.nKvHeads * hd, o_in: c.nHeads * hd, ffn_in: c.dim, down_in: c.hiddenDim };
}

/** What one window contributes; arrays are per layer, then per site in {@link SITES} / {@link GRAM_SITES} order. */
export interface WindowRecord {
  /** Position of the window in the calibration set. */
  readonly index: number;
  /** Per-channel max |x| over the window's tokens (NaN never raises a maximum; start 0). */
  readonly maxima: Float64Array[][];
  /** The first `keep` tokens' activations at every site (the first `keepWindows` windows only, when asked for). */
  readonly kept?: Float32Array[][];
  /** The linear inputs of every token, for the Gram matrices (when asked for). */
  readonly inputs?: Float32Array[][];
}

/** What a {@link WindowCollector} records besides the maxima. */
export interface WindowRequest {
  /** Tokens of each kept window whose activations are kept (0: none). */
  readonly keep: number;
  /** Windows (the first ones, by index) whose first `keep` tokens are kept. */
  readonly keepWindows: number;
  /** Whether the linear inputs are recorded for the Gram matrices. */
  readonly grams: boolean;
}

/** The FP32 model of some weights, observed window by window. */
export class WindowCollector {
  private readonly model: LanguageModel;
  private readonly request: WindowRequest;
  private readonly width: Record<ActivationSite, number>;
  private readonly layers: number;
  private current: { maxima: Float64Array[][]; kept?: Float32Array[][]; inputs?: Float32Array[][] } | undefined;

  /**
   * @param weights the FP32 weights
   * @param request what is recorded besides the maxima
   */
  constructor(weights: LlamaWeights, request: WindowRequest) {
    this.request = request;
    this.width = siteWidths(weights.config);
    this.layers = weights.config.nLayers;
    this.model = createFp32Model(weights, { onActivation: (layer, site, values, tokens, w) => this.observe(layer, site, values, tokens, w) });
  }

  /** Run window `index` (its tokens `tokens`) through the model and return its record. */
  async collect(tokens: readonly number[], index: number): Promise<WindowRecord> {
    const perLayer = <T>(make: () => T): T[] => Array.from({ length: this.layers }, make);
    const keep = index < this.request.keepWindows ? Math.min(this.request.keep, tokens.length) : 0;
    this.current = {
      maxima: perLayer(() => SITES.map((s) => new Float64Array(this.width[s]))),
      ...(keep > 0 ? { kept: perLayer(() => SITES.map((s) => new Float32Array(keep * this.width[s]))) } : {}),
      ...(this.request.grams ? { inputs: perLayer(() => GRAM_SITES.map((s) => new Float32Array(tokens.length * this.width[s]))) } : {}),
    };
    // The logits are not needed: the activation hook fills the record.
    await forwardFresh(this.model, tokens);
    const record = { index, ...this.current };
    this.current = undefined;
    return record;
  }

  private observe(layer: number, site: ActivationSite, values: Float32Array, tokens: number, w: number): void {
    const rec = this.current!;
    const si = SITES.indexOf(site);
    const m = rec.maxima[layer]![si]!;
    for (let t = 0; t < tokens; t++) {
      for (let j = 0; j < w; j++) {
        const a = Math.abs(values[t * w + j]!);
        if (a > m[j]!) m[j] = a;
      }
    }
    if (rec.kept !== undefined) {
      const dst = rec.kept[layer]![si]!;
      dst.set(values.subarray(0, dst.length));
    }
    const gi = (GRAM_SITES as readonly string[]).indexOf(site);
    if (rec.inputs !== undefined && gi >= 0) rec.inputs[layer]![gi]!.set(values.subarray(0, tokens * w));
  }
}
