/**
 * RTN (round-to-nearest) quantization of {@link LlamaWeights} into a {@link QuantizedModel}:
 * every linear layer of every decoder layer quantized with the weight-quantization op of the
 * variant, run through a {@link Backend}; embeddings, RMSNorm γ and the classifier (lm_head)
 * kept in binary16, as QServe does.
 *
 * Linear layers are fused the way QServe's engine fuses them: `qkv` = rows of wq, then wk, then
 * wv (output columns `[q | k | v]`), and `gateUp` = rows of w1 (gate), then w3 (up). All three
 * quantizers work per output channel (row) — level 2 of `g128` per group *within* a row — so a
 * fused matrix quantizes exactly as its parts would, and a fused GEMM gives the same bits as
 * separate GEMMs.
 *
 * **Zero padding (g128).** `quant_weight_g128` and `gemm_w4a8_g128` need the input dimension K
 * to be a multiple of the group. When it is not (stories260K: dim 64 and hidden 172 with group
 * 128), the weight gets `Kp − K` zero columns appended (`Kp` = K rounded up to the group), and at
 * run time the INT8 activation codes get `Kp − K` zero codes appended per row. This is exact:
 * - level 1 uses `max|w|` over the row, which zeros do not change, so `s1` and every real code
 *   are those of the unpadded row; in the last group the zeros widen nothing (`vmin ≤ 0 ≤ vmax`
 *   holds already), and a zero column gets `u = 0`, hence code `q = rne(0) + z = z` and
 *   `w8 = (q − z)·s2 = 0`;
 * - the activation codes are quantized from the *unpadded* row (amax, scale and `qsum` are those
 *   of the real K values) and the padded codes are 0, so every padded term `xq·w8` is `0·0`.
 * Hence `acc` — and the epilogue — equal the unpadded integer product `Σ_{k<K} xq·w8` exactly.
 * Only the last group of a padded row differs from what a hypothetical "short group" quantizer
 * would do: its level-2 range is that of its real columns (zeros are already inside it).
 * `chn` and `w8a8` need no padding.
 * @module
 */
import { ParamError, tensor, toF16Bits, type Backend, type NamedTensors, type Tensor } from "@qoq/core";
import type { LlamaConfig } from "../config.js";
import { headDim } from "../config.js";
import { validateWeights } from "../validate.js";
import type { LlamaWeights } from "../weights.js";

/** Weight formats of the quantized forward pass. */
export type QuantVariant = "g128" | "chn" | "w8a8";

/** All variants, in the order the CLI lists them. */
export const QUANT_VARIANTS: readonly QuantVariant[] = ["g128", "chn", "w8a8"];

/** Default group size of the `g128` variant. */
export const DEFAULT_QUANT_GROUP = 128;

/** A linear layer with progressive group weights, exactly as `gemm_w4a8_g128` takes them. */
export interface QuantizedLinearG128 {
  /** Variant tag. */
  readonly variant: "g128";
  /** Output channels N. */
  readonly n: number;
  /** Input channels K of the model (before padding). */
  readonly k: number;
  /** Input channels after zero padding to a multiple of `group` (= `k` when it divides). */
  readonly kPadded: number;
  /** Input channels per level-2 group. */
  readonly group: number;
  /** UINT4 codes, u8[N × kPadded] (padded columns hold code = zero, i.e. w8 = 0). */
  readonly q: Tensor<"u8">;
  /** Level-2 zero points, u8[N × kPadded/group]. */
  readonly zero: Tensor<"u8">;
  /** Level-2 integer scales, u8[N × kPadded/group]. */
  readonly s2: Tensor<"u8">;
  /** Level-1 per-channel scales, f16[N]. */
  readonly s1: Tensor<"f16">;
}

/** A linear layer with per-channel UINT4 weights, exactly as `gemm_w4a8_chn` takes them. */
export interface QuantizedLinearChn {
  /** Variant tag. */
  readonly variant: "chn";
  /** Output channels N. */
  readonly n: number;
  /** Input channels K. */
  readonly k: number;
  /** UINT4 codes, u8[N × K]. */
  readonly q: Tensor<"u8">;
  /** Zero points, u8[N]. */
  readonly zero: Tensor<"u8">;
  /** Scales, f16[N]. */
  readonly scale: Tensor<"f16">;
}

/** A linear layer with per-channel INT8 weights, exactly as `gemm_w8a8` takes them. */
export interface QuantizedLinearW8 {
  /** Variant tag. */
  readonly variant: "w8a8";
  /** Output channels N. */
  readonly n: number;
  /** Input channels K. */
  readonly k: number;
  /** INT8 codes, i8[N × K]. */
  readonly q: Tensor<"i8">;
  /** Scales, f16[N]. */
  readonly scale: Tensor<"f16">;
}

/** One quantized linear layer, tagged by variant. */
export type QuantizedLinear = QuantizedLinearG128 | QuantizedLinearChn | QuantizedLinearW8;

/** One quantized decoder layer. */
export interface QuantizedLayer {
  /** RMSNorm γ before attention, f16[dim]. */
  readonly attnNorm: Tensor<"f16">;
  /** Fused q/k/v projection: N = (nHeads + 2·nKvHeads)·headDim, output columns `[q | k | v]`. */
  readonly qkv: QuantizedLinear;
  /** o_proj: N = dim, K = nHeads·headDim. */
  readonly o: QuantizedLinear;
  /** RMSNorm γ before the FFN, f16[dim]. */
  readonly ffnNorm: Tensor<"f16">;
  /** Fused gate/up projection: N = 2·hiddenDim, output columns `[gate | up]`. */
  readonly gateUp: QuantizedLinear;
  /** down_proj: N = dim, K = hiddenDim. */
  readonly down: QuantizedLinear;
}

/**
 * A quantized LLaMA model: what the W4A8KV4 forward pass consumes. RTN quantization produces
 * one; the QoQ pipeline (rotation, smoothing, clipping) will produce the same structure.
 */
export interface QuantizedModel {
  /** The model's configuration. */
  readonly config: LlamaConfig;
  /** Weight format of every linear layer. */
  readonly variant: QuantVariant;
  /** Group size of `g128` (the default 128 for the other variants, where it is unused). */
  readonly group: number;
  /** How the weights were obtained, e.g. `rtn` (shown in the model's label). */
  readonly method: string;
  /** Token embeddings, f16[vocabSize × dim]. */
  readonly tokenEmbedding: Tensor<"f16">;
  /** Decoder layers. */
  readonly layers: readonly QuantizedLayer[];
  /** Final RMSNorm γ, f16[dim]. */
  readonly finalNorm: Tensor<"f16">;
  /** Classifier (lm_head), f16[vocabSize × dim], not quantized. */
  readonly lmHead: Tensor<"f16">;
}

/** Options of {@link quantizeRtn}. */
export interface RtnOptions {
  /** Weight format; default `g128`. */
  readonly variant?: QuantVariant;
  /** Input channels per group for `g128`; default 128. */
  readonly group?: number;
}

/** Per-row clipping ratios of one layer's linears (fused row order), for the `chn` variant. */
export interface LinearRatios {
  /** Fused q/k/v rows. */
  readonly qkv: Float32Array;
  /** o_proj rows. */
  readonly o: Float32Array;
  /** Fused gate/up rows. */
  readonly gateUp: Float32Array;
  /** down_proj rows. */
  readonly down: Float32Array;
}

/** Options of {@link quantizeWeights}: {@link RtnOptions} plus what a calibrated pipeline adds. */
export interface QuantizeWeightsOptions extends RtnOptions {
  /** Per layer, clipping ratios for the `chn` quantizer (absent: ratio 1, plain RTN). */
  readonly ratios?: readonly LinearRatios[];
  /** The method recorded in the model (default `rtn`). */
  readonly method?: string;
}

/** Check a variant and group; returns the resolved pair. Throws `ParamError`. */
export function resolveQuantVariant(opts: RtnOptions): { variant: QuantVariant; group: number } {
  const variant = opts.variant ?? "g128";
  if (!QUANT_VARIANTS.includes(variant)) throw new ParamError(`unknown quantization variant '${String(variant)}'; available: ${QUANT_VARIANTS.join(", ")}`);
  const group = opts.group ?? DEFAULT_QUANT_GROUP;
  if (!Number.isSafeInteger(group) || group < 1) throw new ParamError(`group must be a positive integer, got ${group}`);
  if (opts.group !== undefined && variant !== "g128") throw new ParamError(`group applies to the g128 variant only, not '${variant}'`);
  return { variant, group };
}

/** `k` rounded up to a multiple of `group`. */
export function paddedK(k: number, group: number): number {
  return Math.ceil(k / group) * group;
}

/**
 * Append `kPadded − k` zero columns to each of the `n` rows of a row-major [n × k] matrix
 * (returns `w` itself when nothing is added). Works for weights (f32) and activation codes (i8).
 */
export function padColumns<A extends Float32Array | Int8Array>(w: A, n: number, k: number, kPadded: number): A {
  if (kPadded === k) return w;
  const out = new (w.constructor as new (len: number) => A)(n * kPadded);
  for (let r = 0; r < n; r++) out.set(w.subarray(r * k, (r + 1) * k), r * kPadded);
  return out;
}

/** Rows of several [· × k] matrices, stacked (how the fused qkv and gate/up weights are formed). */
export function stackRows(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Binary16 copy of an f32 array (round to nearest even). */
export function toF16Tensor(a: Float32Array, shape: readonly number[]): Tensor<"f16"> {
  const bits = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) bits[i] = toF16Bits(a[i]!); // a binary32 value: one rounding to binary16
  return tensor("f16", shape, bits);
}

/**
 * Quantize one [n × k] f32 weight with the op of `variant`, run on `backend`. For `g128`, the
 * columns are first zero-padded to a multiple of `group` (see the module comment). `ratio`
 * (f32[n], `chn` only) is the per-row clipping ratio `quant_weight_chn` applies to the range.
 */
export async function quantizeLinear(
  backend: Backend,
  w: Float32Array,
  n: number,
  k: number,
  variant: QuantVariant,
  group = DEFAULT_QUANT_GROUP,
  ratio?: Float32Array,
): Promise<QuantizedLinear> {
  if (ratio !== undefined && variant !== "chn") throw new ParamError(`quantizeLinear: clipping ratios apply to the chn variant only, not '${variant}'`);
  if (w.length !== n * k) throw new ParamError(`quantizeLinear: ${w.length} weights do not fill [${n} × ${k}]`);
  switch (variant) {
    case "g128": {
      const kPadded = paddedK(k, group);
      const wp = tensor("f32", [n, kPadded], padColumns(w, n, k, kPadded));
      const r = await backend.run("quant_weight_g128", { w: wp }, { group });
      return { variant, n, k, kPadded, group, q: r.q as Tensor<"u8">, zero: r.zero as Tensor<"u8">, s2: r.s2 as Tensor<"u8">, s1: r.s1 as Tensor<"f16"> };
    }
    case "chn": {
      const inputs: NamedTensors = { w: tensor("f32", [n, k], w) };
      if (ratio !== undefined) inputs.ratio = tensor("f32", [n], ratio);
      const r = await backend.run("quant_weight_chn", inputs);
      return { variant, n, k, q: r.q as Tensor<"u8">, zero: r.zero as Tensor<"u8">, scale: r.scale as Tensor<"f16"> };
    }
    case "w8a8": {
      const r = await backend.run("quant_weight_int8", { w: tensor("f32", [n, k], w) });
      return { variant, n, k, q: r.q as Tensor<"i8">, scale: r.scale as Tensor<"f16"> };
    }
  }
  throw new ParamError(`unknown quantization variant '${String(variant)}'`);
}

/**
 * RTN-quantize a whole model: the fused qkv, o, fused gate/up and down projections of every
 * layer with `variant` (group `group` for `g128`), embeddings, norms and lm_head rounded to
 * binary16. Weights are validated first (shapes, finiteness). The ops run on `backend`.
 */
export async function quantizeRtn(weights: LlamaWeights, backend: Backend, opts: RtnOptions = {}): Promise<QuantizedModel> {
  return quantizeWeights(weights, backend, opts);
}

/**
 * Quantize a whole model as {@link quantizeRtn} does, optionally with per-row clipping ratios
 * (`chn` only) and another method name — what the QoQ pipeline calls on its transformed weights.
 */
export async function quantizeWeights(weights: LlamaWeights, backend: Backend, opts: QuantizeWeightsOptions = {}): Promise<QuantizedModel> {
  validateWeights(weights);
  const { variant, group } = resolveQuantVariant(opts);
  const c = weights.config;
  const hd = headDim(c);
  const qDim = c.nHeads * hd;
  const kvDim = c.nKvHeads * hd;
  if (opts.ratios !== undefined && opts.ratios.length !== weights.layers.length) throw new ParamError(`quantizeWeights: ${opts.ratios.length} layers of clipping ratios for ${weights.layers.length} layers`);
  const layers: QuantizedLayer[] = [];
  for (let i = 0; i < weights.layers.length; i++) {
    const l = weights.layers[i]!;
    const r = opts.ratios?.[i];
    layers.push({
      attnNorm: toF16Tensor(l.attnNorm, [c.dim]),
      qkv: await quantizeLinear(backend, stackRows([l.wq, l.wk, l.wv]), qDim + 2 * kvDim, c.dim, variant, group, r?.qkv),
      o: await quantizeLinear(backend, l.wo, c.dim, qDim, variant, group, r?.o),
      ffnNorm: toF16Tensor(l.ffnNorm, [c.dim]),
      gateUp: await quantizeLinear(backend, stackRows([l.w1, l.w3]), 2 * c.hiddenDim, c.dim, variant, group, r?.gateUp),
      down: await quantizeLinear(backend, l.w2, c.dim, c.hiddenDim, variant, group, r?.down),
    });
  }
  const tokenEmbedding = toF16Tensor(weights.tokenEmbedding, [c.vocabSize, c.dim]);
  const lmHead = weights.classifier === weights.tokenEmbedding ? tokenEmbedding : toF16Tensor(weights.classifier, [c.vocabSize, c.dim]);
  return { config: c, variant, group, method: opts.method ?? "rtn", tokenEmbedding, layers, finalNorm: toF16Tensor(weights.finalNorm, [c.dim]), lmHead };
}
