/**
 * The LLaMA-family model configuration every loader maps to.
 * @module
 */
import type { RopeStyle } from "@qoq/reference";

/** Configuration of a LLaMA-family decoder. */
export interface LlamaConfig {
  /** Residual stream width (hidden size). */
  readonly dim: number;
  /** FFN intermediate size. */
  readonly hiddenDim: number;
  /** Number of decoder layers. */
  readonly nLayers: number;
  /** Query heads. */
  readonly nHeads: number;
  /** Key/value heads (divides nHeads; fewer than nHeads means grouped-query attention). */
  readonly nKvHeads: number;
  /** Vocabulary size. */
  readonly vocabSize: number;
  /** Longest context the model was trained for. */
  readonly seqLen: number;
  /** RoPE base θ. */
  readonly ropeTheta: number;
  /** RoPE channel pairing: llama2.c checkpoints use interleaved pairs, Hugging Face LLaMA rotate-half. */
  readonly ropeStyle: RopeStyle;
  /** RMSNorm ε. */
  readonly normEps: number;
  /** The classifier shares the token-embedding matrix. */
  readonly tiedEmbeddings: boolean;
}

/** Head dimension `dim / nHeads`. */
export function headDim(c: LlamaConfig): number {
  return c.dim / c.nHeads;
}
