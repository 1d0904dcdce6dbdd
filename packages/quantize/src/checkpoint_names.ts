/**
 * The tensor layout of the QoQ quantized checkpoint format (`docs/checkpoint.md`): every tensor's
 * name, dtype, shape and value rule, derived from the model configuration, the variant, the group
 * size and whether the classifier is stored or tied to the token embedding.
 *
 * Names follow Hugging Face LLaMA module paths (`model.layers.3.self_attn.qkv_proj`), with the
 * fused projections QServe uses (`qkv_proj`, `gate_up_proj`) and, per linear layer, one tensor per
 * operand of the variant's GEMM, named like the fields of `QuantizedLinear`: `q`, `zero`, `s2`,
 * `s1` (g128); `q`, `zero`, `scale` (chn); `q`, `scale` (w8a8).
 * @module
 */
import type { DType } from "@qoq/core";
import { headDim, paddedK, type LlamaConfig, type QuantVariant } from "@qoq/model";

/** Name of the token-embedding tensor, f16[vocabSize × dim]. */
export const CHECKPOINT_EMBEDDING = "model.embed_tokens.weight";
/** Name of the classifier (lm_head) tensor, f16[vocabSize × dim]; absent when tied to the embedding. */
export const CHECKPOINT_LM_HEAD = "lm_head.weight";
/** Name of the final RMSNorm γ, f16[dim]. */
export const CHECKPOINT_FINAL_NORM = "model.norm.weight";

/** The four quantized linear layers of a decoder layer, by their `QuantizedLayer` field. */
export type CheckpointLinearSlot = "qkv" | "o" | "gateUp" | "down";

/** Module path (inside `model.layers.{i}.`) of each quantized linear layer. */
export const CHECKPOINT_LINEAR_PATHS: Readonly<Record<CheckpointLinearSlot, string>> = {
  qkv: "self_attn.qkv_proj",
  o: "self_attn.o_proj",
  gateUp: "mlp.gate_up_proj",
  down: "mlp.down_proj",
};

/** The linear slots in the order the layout lists them. */
export const CHECKPOINT_LINEAR_SLOTS: readonly CheckpointLinearSlot[] = ["qkv", "o", "gateUp", "down"];

/** Tensors of one quantized linear layer, per variant, in layout order (suffixes of the module path). */
export const CHECKPOINT_LINEAR_PARTS: Readonly<Record<QuantVariant, readonly string[]>> = {
  g128: ["q", "zero", "s2", "s1"],
  chn: ["q", "zero", "scale"],
  w8a8: ["q", "scale"],
};

/** Name of layer `i`'s RMSNorm γ before attention, f16[dim]. */
export function checkpointAttnNormName(i: number): string {
  return `model.layers.${i}.input_layernorm.weight`;
}

/** Name of layer `i`'s RMSNorm γ before the FFN, f16[dim]. */
export function checkpointFfnNormName(i: number): string {
  return `model.layers.${i}.post_attention_layernorm.weight`;
}

/** Module path of linear `slot` of layer `i` (its tensors are `<path>.q`, `<path>.zero`, …). */
export function checkpointLinearPath(i: number, slot: CheckpointLinearSlot): string {
  return `model.layers.${i}.${CHECKPOINT_LINEAR_PATHS[slot]}`;
}

/**
 * The value rule of a tensor, checked element by element on save and on load:
 * - `float`: binary16, finite (norm γ, embeddings, classifier);
 * - `scale`: binary16, finite and non-negative with the sign bit clear (`+0` only for an all-zero row);
 * - `uint4`: u8 codes or zero points in 0..15;
 * - `s2`: u8 level-2 scales in 1..16;
 * - `int8`: i8 codes in −127..127 (the symmetric range `quant_weight_int8` produces).
 */
export type CheckpointValueRule = "float" | "scale" | "uint4" | "s2" | "int8";

/** One tensor of the layout. */
export interface CheckpointTensorSpec {
  /** Tensor name in the file. */
  readonly name: string;
  /** qoq dtype (safetensors `F16`, `U8` or `I8`). */
  readonly dtype: DType;
  /** Exact shape. */
  readonly shape: readonly number[];
  /** The shape in symbols, for error messages and the docs (e.g. `[N, kPadded/group]`). */
  readonly shapeDoc: string;
  /** The element rule. */
  readonly rule: CheckpointValueRule;
}

/** The dimensions of one quantized linear layer in the layout. */
export interface CheckpointLinearSpec {
  /** Layer index. */
  readonly layer: number;
  /** Which linear of the layer. */
  readonly slot: CheckpointLinearSlot;
  /** Module path, the common prefix of its tensor names. */
  readonly path: string;
  /** Output channels N. */
  readonly n: number;
  /** Input channels K of the model. */
  readonly k: number;
  /** K rounded up to a multiple of the group (g128; equal to `k` for the other variants). */
  readonly kPadded: number;
  /** Its tensors, in {@link CHECKPOINT_LINEAR_PARTS} order. */
  readonly tensors: readonly CheckpointTensorSpec[];
}

/** One unit of the layout: a single tensor, or the tensors of one quantized linear layer. */
export type CheckpointLayoutUnit = { readonly kind: "tensor"; readonly tensor: CheckpointTensorSpec } | { readonly kind: "linear"; readonly linear: CheckpointLinearSpec };

/** The N and K of each linear slot for a configuration. */
export function checkpointLinearDims(c: LlamaConfig, slot: CheckpointLinearSlot): { n: number; k: number } {
  const hd = headDim(c);
  switch (slot) {
    case "qkv":
      return { n: (c.nHeads + 2 * c.nKvHeads) * hd, k: c.dim };
    case "o":
      return { n: c.dim, k: c.nHeads * hd };
    case "gateUp":
      return { n: 2 * c.hiddenDim, k: c.dim };
    case "down":
      return { n: c.dim, k: c.hiddenDim };
  }
}

const SLOT_DOC: Readonly<Record<CheckpointLinearSlot, string>> = {
  qkv: "N = (nHeads + 2·nKvHeads)·headDim, K = dim",
  o: "N = dim, K = nHeads·headDim",
  gateUp: "N = 2·hiddenDim, K = dim",
  down: "N = dim, K = hiddenDim",
};

/** The tensor specs of one quantized linear layer. */
function linearSpec(c: LlamaConfig, variant: QuantVariant, group: number, layer: number, slot: CheckpointLinearSlot): CheckpointLinearSpec {
  const { n, k } = checkpointLinearDims(c, slot);
  const path = checkpointLinearPath(layer, slot);
  const dims = SLOT_DOC[slot];
  let tensors: CheckpointTensorSpec[];
  switch (variant) {
    case "g128": {
      const kp = paddedK(k, group);
      const groups = kp / group;
      tensors = [
        { name: `${path}.q`, dtype: "u8", shape: [n, kp], shapeDoc: `[N, kPadded] (${dims}, kPadded = ⌈K/group⌉·group)`, rule: "uint4" },
        { name: `${path}.zero`, dtype: "u8", shape: [n, groups], shapeDoc: `[N, kPadded/group] (${dims})`, rule: "uint4" },
        { name: `${path}.s2`, dtype: "u8", shape: [n, groups], shapeDoc: `[N, kPadded/group] (${dims})`, rule: "s2" },
        { name: `${path}.s1`, dtype: "f16", shape: [n], shapeDoc: `[N] (${dims})`, rule: "scale" },
      ];
      return { layer, slot, path, n, k, kPadded: kp, tensors };
    }
    case "chn":
      tensors = [
        { name: `${path}.q`, dtype: "u8", shape: [n, k], shapeDoc: `[N, K] (${dims})`, rule: "uint4" },
        { name: `${path}.zero`, dtype: "u8", shape: [n], shapeDoc: `[N] (${dims})`, rule: "uint4" },
        { name: `${path}.scale`, dtype: "f16", shape: [n], shapeDoc: `[N] (${dims})`, rule: "scale" },
      ];
      return { layer, slot, path, n, k, kPadded: k, tensors };
    case "w8a8":
      tensors = [
        { name: `${path}.q`, dtype: "i8", shape: [n, k], shapeDoc: `[N, K] (${dims})`, rule: "int8" },
        { name: `${path}.scale`, dtype: "f16", shape: [n], shapeDoc: `[N] (${dims})`, rule: "scale" },
      ];
      return { layer, slot, path, n, k, kPadded: k, tensors };
  }
}

/**
 * The layout, lazily and in a fixed order: the token embedding, then per layer its attention
 * norm, qkv, o, FFN norm, gate/up and down, then the final norm and (unless `tiedLmHead`) the
 * classifier. Lazy so that a reader can stop at the first missing tensor whatever `nLayers` a
 * hostile file claims. The configuration must already be valid (`validateConfig`).
 */
export function* checkpointLayout(c: LlamaConfig, variant: QuantVariant, group: number, tiedLmHead: boolean): Generator<CheckpointLayoutUnit> {
  const plain = (name: string, shape: number[], shapeDoc: string): CheckpointLayoutUnit => ({ kind: "tensor", tensor: { name, dtype: "f16", shape, shapeDoc, rule: "float" } });
  yield plain(CHECKPOINT_EMBEDDING, [c.vocabSize, c.dim], "[vocabSize, dim]");
  for (let i = 0; i < c.nLayers; i++) {
    yield plain(checkpointAttnNormName(i), [c.dim], "[dim]");
    yield { kind: "linear", linear: linearSpec(c, variant, group, i, "qkv") };
    yield { kind: "linear", linear: linearSpec(c, variant, group, i, "o") };
    yield plain(checkpointFfnNormName(i), [c.dim], "[dim]");
    yield { kind: "linear", linear: linearSpec(c, variant, group, i, "gateUp") };
    yield { kind: "linear", linear: linearSpec(c, variant, group, i, "down") };
  }
  yield plain(CHECKPOINT_FINAL_NORM, [c.dim], "[dim]");
  if (!tiedLmHead) yield plain(CHECKPOINT_LM_HEAD, [c.vocabSize, c.dim], "[vocabSize, dim]");
}

/** Every tensor name of the layout, in layout order (see {@link checkpointLayout}). */
export function checkpointTensorNames(c: LlamaConfig, variant: QuantVariant, group: number, tiedLmHead: boolean): string[] {
  const names: string[] = [];
  for (const u of checkpointLayout(c, variant, group, tiedLmHead)) {
    if (u.kind === "tensor") names.push(u.tensor.name);
    else for (const t of u.linear.tensors) names.push(t.name);
  }
  return names;
}
