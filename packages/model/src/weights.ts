/**
 * FP32 weights of a LLaMA-family model: every matrix row-major `[out][in]`, so `y = W · x`.
 * @module
 */
import type { LlamaConfig } from "./config.js";

/** Weights of one decoder layer. */
export interface LayerWeights {
  /** RMSNorm γ before attention, [dim]. */
  readonly attnNorm: Float32Array;
  /** q_proj, [nHeads·headDim][dim]. */
  readonly wq: Float32Array;
  /** k_proj, [nKvHeads·headDim][dim]. */
  readonly wk: Float32Array;
  /** v_proj, [nKvHeads·headDim][dim]. */
  readonly wv: Float32Array;
  /** o_proj, [dim][nHeads·headDim]. */
  readonly wo: Float32Array;
  /** RMSNorm γ before the FFN, [dim]. */
  readonly ffnNorm: Float32Array;
  /** gate_proj (llama2.c w1), [hiddenDim][dim]. */
  readonly w1: Float32Array;
  /** down_proj (llama2.c w2), [dim][hiddenDim]. */
  readonly w2: Float32Array;
  /** up_proj (llama2.c w3), [hiddenDim][dim]. */
  readonly w3: Float32Array;
}

/** A whole model. */
export interface LlamaWeights {
  /** Its configuration. */
  readonly config: LlamaConfig;
  /** Token embeddings, [vocabSize][dim]. */
  readonly tokenEmbedding: Float32Array;
  /** Decoder layers. */
  readonly layers: readonly LayerWeights[];
  /** Final RMSNorm γ, [dim]. */
  readonly finalNorm: Float32Array;
  /** Classifier (lm_head), [vocabSize][dim]; the same array as `tokenEmbedding` when tied. */
  readonly classifier: Float32Array;
}
