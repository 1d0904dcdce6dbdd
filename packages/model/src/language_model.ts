/**
 * The interface every forward pass implements (FP32, FP16, FP16-ONNX, W4A8KV4), so generation,
 * perplexity and comparisons are written once.
 * @module
 */
import type { LlamaConfig } from "./config.js";

/** One sequence being processed: tokens are fed in order; each call returns their logits. */
export interface Session {
  /**
   * Feed the next tokens of the sequence (a prompt for prefill, or one token for decode) and
   * return one logits vector (length vocabSize) per fed token, in order.
   */
  forward(tokens: readonly number[]): Promise<Float32Array[]>;
  /** Release resources of this sequence (e.g. its KV-cache pages). */
  dispose(): void;
}

/** A model that can start sequences. */
export interface LanguageModel {
  /** Its configuration. */
  readonly config: LlamaConfig;
  /** A short description, e.g. `fp32`, `w4a8kv4-g128 on reference`. */
  readonly label: string;
  /** Start a new, empty sequence. */
  newSession(): Session;
}
