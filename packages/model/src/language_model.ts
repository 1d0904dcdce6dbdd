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

/**
 * Observer of the residual stream: called once per decoder layer and forward step, layer 0
 * first, with the hidden state after that layer (after its second residual add) for the tokens
 * of the step, `tokens × dim` binary32 values, row-major. `hidden` is a fresh copy the callee may
 * keep. A forward pass without a hook does no extra work; the hook never changes the numerics.
 * (The W4A8KV4 forward feeds tokens of a non-empty session one by one, so it calls the hook
 * once per layer per token there.)
 */
export type LayerHook = (layer: number, hidden: Float32Array) => void;

/** Options of the forward passes that can report their residual stream. */
export interface LayerHookOptions {
  /** Called with the residual stream after each decoder layer (see {@link LayerHook}). */
  readonly onLayer?: LayerHook;
}
