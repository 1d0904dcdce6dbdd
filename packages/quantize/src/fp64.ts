/**
 * Float64 working copies of a model's weights: every offline QoQ transform (γ folding, rotation,
 * smoothing, reordering) runs on these, as DeepCompressor runs them in float64, and the result is
 * rounded to binary32 once, at the end of each step.
 * @module
 */
import type { LayerWeights, LlamaConfig, LlamaWeights } from "@qoq/model";

/** One decoder layer's weights in float64 (same layouts as {@link @qoq/model!LayerWeights}). */
export interface Fp64Layer {
  /** RMSNorm γ before attention, [dim]. */
  attnNorm: Float64Array;
  /** q_proj, [nHeads·headDim][dim]. */
  wq: Float64Array;
  /** k_proj, [nKvHeads·headDim][dim]. */
  wk: Float64Array;
  /** v_proj, [nKvHeads·headDim][dim]. */
  wv: Float64Array;
  /** o_proj, [dim][nHeads·headDim]. */
  wo: Float64Array;
  /** RMSNorm γ before the FFN, [dim]. */
  ffnNorm: Float64Array;
  /** gate_proj, [hiddenDim][dim]. */
  w1: Float64Array;
  /** down_proj, [dim][hiddenDim]. */
  w2: Float64Array;
  /** up_proj, [hiddenDim][dim]. */
  w3: Float64Array;
}

/** A whole model in float64; the classifier is always its own array (never shared with the embedding). */
export interface Fp64Weights {
  /** Configuration (its `tiedEmbeddings` is recomputed by {@link toFp32}). */
  config: LlamaConfig;
  /** Token embeddings, [vocabSize][dim]. */
  tokenEmbedding: Float64Array;
  /** Decoder layers. */
  layers: Fp64Layer[];
  /** Final RMSNorm γ, [dim]. */
  finalNorm: Float64Array;
  /** Classifier, [vocabSize][dim]. */
  classifier: Float64Array;
}

/** The name of one of a layer's arrays. */
export type LayerArrayName = keyof LayerWeights;

/** The names of a layer's arrays. */
const LAYER_KEYS: readonly LayerArrayName[] = ["attnNorm", "wq", "wk", "wv", "wo", "ffnNorm", "w1", "w2", "w3"];

/** A model's weights held as arrays of one type `A` ({@link @qoq/model!LlamaWeights}: binary32, {@link Fp64Weights}: float64). */
export interface WeightArrays<A> {
  /** Configuration. */
  readonly config: LlamaConfig;
  /** Token embeddings, [vocabSize][dim]. */
  readonly tokenEmbedding: A;
  /** Decoder layers. */
  readonly layers: readonly Readonly<Record<LayerArrayName, A>>[];
  /** Final RMSNorm γ, [dim]. */
  readonly finalNorm: A;
  /** Classifier, [vocabSize][dim]. */
  readonly classifier: A;
}

/** A layer with every array converted by `f`. */
function mapLayer<A, B>(l: Readonly<Record<LayerArrayName, A>>, f: (a: A) => B): Record<LayerArrayName, B> {
  return Object.fromEntries(LAYER_KEYS.map((k) => [k, f(l[k])])) as Record<LayerArrayName, B>;
}

/** `w` with every array converted by `f`, in one place for every copy of a model's weights (the configuration object is shared). */
export function mapWeights<A, B>(w: WeightArrays<A>, f: (a: A) => B): { config: LlamaConfig; tokenEmbedding: B; layers: Record<LayerArrayName, B>[]; finalNorm: B; classifier: B } {
  return { config: w.config, tokenEmbedding: f(w.tokenEmbedding), layers: w.layers.map((l) => mapLayer(l, f)), finalNorm: f(w.finalNorm), classifier: f(w.classifier) };
}

/** Exact float64 copies of binary32 weights. */
export function toFp64(w: LlamaWeights): Fp64Weights {
  return mapWeights(w, (a: Float32Array) => Float64Array.from(a));
}

/** A copy of `w` that shares no array with it (the configuration object is shared: it is never changed). */
export function cloneFp64(w: Fp64Weights): Fp64Weights {
  return mapWeights(w, (a: Float64Array) => a.slice());
}

/** Equal element for element (bitwise for the values binary32 rounding produces). */
function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Binary32 weights, each value rounded once from float64. The embedding and classifier stay one
 * array (and `tiedEmbeddings` true) only when they round to the same values — γ folding and
 * rotation usually untie them.
 */
export function toFp32(w: Fp64Weights): LlamaWeights {
  const f = (a: Float64Array) => Float32Array.from(a);
  const tokenEmbedding = f(w.tokenEmbedding);
  const cls = f(w.classifier);
  const tied = sameValues(tokenEmbedding, cls);
  return {
    config: { ...w.config, tiedEmbeddings: tied },
    tokenEmbedding,
    layers: w.layers.map((l) => mapLayer(l, f)),
    finalNorm: f(w.finalNorm),
    classifier: tied ? tokenEmbedding : cls,
  };
}
