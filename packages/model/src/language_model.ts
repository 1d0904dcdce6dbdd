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

/**
 * Where in a decoder layer an {@link ActivationHook} looks: `attn_in` the attention RMSNorm's
 * output (the q/k/v projections' input), `q` and `k` the queries and keys after RoPE, `v` the
 * values, `o_in` the attention output (o_proj's input), `ffn_in` the FFN RMSNorm's output
 * (gate/up's input), `down_in` the SwiGLU product (down_proj's input).
 */
export type ActivationSite = "attn_in" | "q" | "k" | "v" | "o_in" | "ffn_in" | "down_in";

/**
 * Observer of a decoder layer's activations at one {@link ActivationSite}: `values` holds
 * `tokens × width` binary32 values, row-major, channels in the model's natural order. It is a
 * view into the forward pass's scratch memory, valid only during the call: copy what you keep.
 * Calibration uses it to collect per-channel maxima and sample inputs.
 */
export type ActivationHook = (layer: number, site: ActivationSite, values: Float32Array, tokens: number, width: number) => void;

/** Options of the forward passes that can report their residual stream. */
export interface LayerHookOptions {
  /** Called with the residual stream after each decoder layer (see {@link LayerHook}). */
  readonly onLayer?: LayerHook;
  /** Called with the layer's activations at every {@link ActivationSite} (dense forward passes only). */
  readonly onActivation?: ActivationHook;
}
