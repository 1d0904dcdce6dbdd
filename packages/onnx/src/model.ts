/**
 * The whole LLaMA model as one FP16 ONNX graph: token ids `[1, T]` → logits `[1, T, vocab]`.
 *
 * Weights are binary16 initializers. Every tensor an FP16 inference engine stores — embeddings,
 * RMSNorm outputs, projections, RoPE products and sums, attention output, SiLU, the SwiGLU
 * product, residual stream, logits — is rounded to binary16 by an explicit Cast pair; inside a
 * node the arithmetic is float32 (GEMMs accumulate in float32 like cuBLAS's fp16 GEMM; RMSNorm is
 * onnxruntime's float16 SimplifiedLayerNormalization, float32 inside; attention is SDPA-style,
 * float32 from the scores to the weighted sum). `T` is symbolic: one session serves every length.
 * @module
 */
import { OverflowError, RangeViolationError, ShapeError, toF16Bits } from "@qoq/core";
import { headDim, type LanguageModel, type LlamaConfig, type LlamaWeights, type Session } from "@qoq/model";
import { ropeTable } from "@qoq/reference";
import { GraphBuilder } from "./graph.js";
import { attentionCore, causalMask, roundF16, ropeRotate } from "./ops.js";
import { OnnxDataType as T } from "./proto.js";
import { OnnxModel } from "./runtime.js";

/** Binary16 bits of a float32 array, transposed from `[rows][cols]` to `[cols][rows]` when `transpose`. */
function f16Matrix(a: Float32Array, rows: number, cols: number, transpose: boolean): Uint16Array {
  const out = new Uint16Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[transpose ? c * rows + r : r * cols + c] = toF16Bits(a[r * cols + c]!);
  }
  return out;
}

function checkWeights(w: LlamaWeights): void {
  const c = w.config;
  const hd = headDim(c);
  if (!Number.isInteger(hd) || hd % 2 !== 0) throw new ShapeError(`onnx model: head dimension dim/nHeads = ${hd} must be an even integer`);
  if (c.nKvHeads < 1 || c.nHeads % c.nKvHeads !== 0) throw new ShapeError(`onnx model: nHeads = ${c.nHeads} is not a multiple of nKvHeads = ${c.nKvHeads}`);
  const want = (name: string, a: Float32Array, n: number): void => {
    if (a.length !== n) throw new ShapeError(`onnx model: '${name}' has ${a.length} elements, expected ${n}`);
  };
  want("tokenEmbedding", w.tokenEmbedding, c.vocabSize * c.dim);
  want("classifier", w.classifier, c.vocabSize * c.dim);
  want("finalNorm", w.finalNorm, c.dim);
  if (w.layers.length !== c.nLayers) throw new ShapeError(`onnx model: ${w.layers.length} layers, config says ${c.nLayers}`);
  const kv = c.nKvHeads * hd;
  w.layers.forEach((l, i) => {
    want(`layers[${i}].attnNorm`, l.attnNorm, c.dim);
    want(`layers[${i}].ffnNorm`, l.ffnNorm, c.dim);
    want(`layers[${i}].wq`, l.wq, c.dim * c.dim);
    want(`layers[${i}].wk`, l.wk, kv * c.dim);
    want(`layers[${i}].wv`, l.wv, kv * c.dim);
    want(`layers[${i}].wo`, l.wo, c.dim * c.dim);
    want(`layers[${i}].w1`, l.w1, c.hiddenDim * c.dim);
    want(`layers[${i}].w2`, l.w2, c.dim * c.hiddenDim);
    want(`layers[${i}].w3`, l.w3, c.hiddenDim * c.dim);
  });
}

/**
 * Build the FP16 graph of a model. Inputs: `tokens` int64 `[1, T]`, `cos`/`sin` float32 `[T, D/2]`
 * (rows of `ropeTable` for positions 0 … T−1), `mask` float32 `[T, T]` (0 on and below the
 * diagonal, −∞ above). Output: `logits` float32 `[1, T, vocab]` holding binary16 values.
 */
export function buildModelGraph(w: LlamaWeights): Uint8Array {
  checkWeights(w);
  const c = w.config;
  const hd = headDim(c);
  const [hq, hkv, dim, hid, vocab] = [c.nHeads, c.nKvHeads, c.dim, c.hiddenDim, c.vocabSize];
  const g = new GraphBuilder("llama_fp16");
  g.input("tokens", T.INT64, [1, "T"]);
  g.input("cos", T.FLOAT, ["T", hd / 2]);
  g.input("sin", T.FLOAT, ["T", hd / 2]);
  g.input("mask", T.FLOAT, ["T", "T"]);
  g.output("logits", T.FLOAT, [1, "T", vocab]);

  const weight16 = (name: string, a: Float32Array, rows: number, cols: number): string =>
    g.init(name, T.FLOAT16, [cols, rows], f16Matrix(a, rows, cols, true)); // stored transposed: [in][out]
  const vector16 = (name: string, a: Float32Array): string => g.init(name, T.FLOAT16, [a.length], f16Matrix(a, 1, a.length, false));
  /** y = x·Wᵀ: float32 GEMM over binary16 operands, stored as binary16. */
  const linear = (x: string, wt: string): string => roundF16(g, g.op("MatMul", [x, g.cast(wt, T.FLOAT)]));
  /** RMSNorm of a float32 value holding binary16 values; returns float32 holding binary16 values. */
  const rmsnorm = (x: string, gamma: string): string =>
    g.cast(g.op("SimplifiedLayerNormalization", [g.cast(x, T.FLOAT16), gamma], { axis: -1, epsilon: { f: c.normEps }, stash_type: 1 }), T.FLOAT);

  const emb = g.init("tok_embeddings", T.FLOAT16, [vocab, dim], f16Matrix(w.tokenEmbedding, vocab, dim, false));
  let x = g.cast(g.op("Gather", [emb, g.op("Squeeze", ["tokens", g.ints([0])])], { axis: 0 }), T.FLOAT); // [T, dim]
  const cos = g.op("Unsqueeze", [roundF16(g, "cos"), g.ints([1])]); // [T, 1, D/2], binary16 values
  const sin = g.op("Unsqueeze", [roundF16(g, "sin"), g.ints([1])]);

  w.layers.forEach((l, i) => {
    const p = `layers.${i}.`;
    const n = rmsnorm(x, vector16(`${p}attn_norm`, l.attnNorm));
    const heads = (v: string, h: number): string => g.op("Reshape", [v, g.ints([0, h, hd])]);
    const q = ropeRotate(g, heads(linear(n, weight16(`${p}wq`, l.wq, dim, dim)), hq), cos, sin, hq, hd, c.ropeStyle);
    const k = ropeRotate(g, heads(linear(n, weight16(`${p}wk`, l.wk, hkv * hd, dim)), hkv), cos, sin, hkv, hd, c.ropeStyle);
    const v = heads(linear(n, weight16(`${p}wv`, l.wv, hkv * hd, dim)), hkv);
    const att = g.op("Reshape", [roundF16(g, attentionCore(g, q, k, v, "mask", hq, hkv, hd)), g.ints([0, dim])]);
    x = roundF16(g, g.op("Add", [x, linear(att, weight16(`${p}wo`, l.wo, dim, dim))]));
    const n2 = rmsnorm(x, vector16(`${p}ffn_norm`, l.ffnNorm));
    const gate = linear(n2, weight16(`${p}w1`, l.w1, hid, dim));
    const up = linear(n2, weight16(`${p}w3`, l.w3, hid, dim));
    const silu = roundF16(g, g.op("Mul", [gate, g.op("Sigmoid", [gate])]));
    const h = roundF16(g, g.op("Mul", [silu, up]));
    x = roundF16(g, g.op("Add", [x, linear(h, weight16(`${p}w2`, l.w2, dim, hid))]));
  });
  const final = rmsnorm(x, vector16("norm", w.finalNorm));
  const logits = linear(final, weight16("output", w.classifier, vocab, dim));
  g.op("Unsqueeze", [logits, g.ints([0])], {}, "logits");
  return g.build();
}

/**
 * A `LanguageModel` whose forward pass is the FP16 ONNX graph. A session keeps the fed
 * tokens and recomputes the whole prefix on every `forward()` (no KV cache: O(T²) work per call,
 * fine for the small models this oracle checks), returning float32 logits of the new tokens.
 */
export class OnnxFp16LanguageModel implements LanguageModel {
  /** Short description. */
  readonly label = "fp16-onnx";
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;

  private constructor(
    /** Model configuration. */
    readonly config: LlamaConfig,
    private readonly model: OnnxModel,
  ) {
    const t = ropeTable(config.seqLen, headDim(config), config.ropeTheta);
    this.cos = t.cos.data;
    this.sin = t.sin.data;
  }

  /** Build the graph from FP32 weights (rounded to binary16) and load it; throws an `OnnxRuntimeError` if onnxruntime rejects it. */
  static async create(weights: LlamaWeights): Promise<OnnxFp16LanguageModel> {
    const model = await OnnxModel.create("llama_fp16", buildModelGraph(weights));
    return new OnnxFp16LanguageModel(weights.config, model);
  }

  /** Logits `[T][vocab]` (binary16 values as float32) of a whole token sequence. */
  async logits(tokens: readonly number[]): Promise<Float32Array[]> {
    const c = this.config;
    const t = tokens.length;
    if (t === 0) return [];
    if (t > c.seqLen) throw new ShapeError(`fp16-onnx: ${t} tokens exceed the model's context of ${c.seqLen}`);
    tokens.forEach((tok, i) => {
      if (!Number.isInteger(tok) || tok < 0 || tok >= c.vocabSize) throw new RangeViolationError("tokens", i, `token ${tok} is not in [0, ${c.vocabSize})`);
    });
    const r = headDim(c) / 2;
    const out = await this.model.run({
      tokens: { type: "int64", dims: [1, t], data: BigInt64Array.from(tokens.map((v) => BigInt(v))) },
      cos: { type: "float32", dims: [t, r], data: this.cos.slice(0, t * r) },
      sin: { type: "float32", dims: [t, r], data: this.sin.slice(0, t * r) },
      mask: { type: "float32", dims: [t, t], data: causalMask(t) },
    });
    const data = out.logits!.data as Float32Array;
    const rows: Float32Array[] = [];
    for (let i = 0; i < t; i++) {
      const row = data.slice(i * c.vocabSize, (i + 1) * c.vocabSize);
      for (let j = 0; j < row.length; j++) {
        if (!Number.isFinite(row[j]!)) throw new OverflowError(`fp16-onnx: logit ${j} of token ${i} is ${row[j]} (binary16 overflow)`);
      }
      rows.push(row);
    }
    return rows;
  }

  /** Start an empty sequence. */
  newSession(): Session {
    const fed: number[] = [];
    return {
      forward: async (tokens: readonly number[]): Promise<Float32Array[]> => {
        const all = [...fed, ...tokens];
        const rows = await this.logits(all);
        fed.push(...tokens);
        return rows.slice(all.length - tokens.length);
      },
      dispose: () => {
        fed.length = 0;
      },
    };
  }

  /** Release the onnxruntime session. */
  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
