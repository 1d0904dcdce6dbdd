/**
 * Per-op ONNX graphs of the float ops. Every graph takes the op's tensors as graph inputs with
 * static shapes, computes in float32 nodes and rounds to binary16 explicitly where an FP16
 * inference engine stores a binary16 tensor (see `README.md`): onnxruntime's x86 CPU provider has
 * no float16 arithmetic kernels, and the casts it inserts around float16 nodes are
 * "precision-free" (a chain of float16 nodes runs entirely in float32), so explicit
 * `Cast(FLOAT16) → Cast(FLOAT)` pairs are the only way to get binary16 rounding between nodes.
 * @module
 */
import type { Dims, OpName, ResolvedParams } from "@qoq/core";
import { GraphBuilder } from "./graph.js";
import { OnnxDataType as T } from "./proto.js";

/** Round a float32 value to binary16 and back (an explicit binary16 storage point). */
export function roundF16(g: GraphBuilder, x: string): string {
  return g.cast(g.cast(x, T.FLOAT16), T.FLOAT);
}

/** The ops that have an ONNX graph here. */
export type GraphOp =
  | "residual_add"
  | "rmsnorm_quant"
  | "silu_mul_quant"
  | "rope"
  | "attention_prefill"
  | "dequant_kv4"
  | "dequant_weight_g128"
  | "dequant_weight_chn"
  | "attention_kv4_decode";

/** Ops with a graph, in registry order. */
export const GRAPH_OPS: readonly GraphOp[] = [
  "dequant_weight_g128",
  "dequant_weight_chn",
  "dequant_kv4",
  "rmsnorm_quant",
  "rope",
  "silu_mul_quant",
  "residual_add",
  "attention_prefill",
  "attention_kv4_decode",
];

/** True when `op` has an ONNX graph here. */
export function isGraphOp(op: OpName): op is GraphOp {
  return (GRAPH_OPS as readonly string[]).includes(op);
}

/** The float32 value of the causal mask entry for a key after the query. */
const MASKED = -Infinity;

/**
 * Build the graph of `op` for the bound dims and params (and, for `attention_kv4_decode`, the
 * context length of each sequence, which fixes the graph's shapes). Graph inputs are the op's input tensors
 * by name; graph outputs are the float outputs (`y`, `o`, `v`, `w`, `w8`) — the INT8
 * quantization outputs of `rmsnorm_quant` / `silu_mul_quant` are computed on the host.
 */
export function buildOpGraph(op: GraphOp, d: Dims, p: ResolvedParams, ctxLen: readonly number[] = []): Uint8Array {
  const g = new GraphBuilder(op);
  switch (op) {
    case "residual_add": {
      const dims = [d.M!, d.K!];
      const a = g.cast(g.input("a", T.FLOAT16, dims), T.FLOAT);
      const b = g.cast(g.input("b", T.FLOAT16, dims), T.FLOAT);
      g.op("Cast", [g.op("Add", [a, b])], { to: T.FLOAT16 }, "y");
      g.output("y", T.FLOAT16, dims);
      break;
    }
    case "rmsnorm_quant": {
      // The one float16-native compute kernel of the CPU provider (float32 inside, one rounding to binary16).
      const dims = [d.M!, d.K!];
      g.input("x", T.FLOAT16, dims);
      g.input("gamma", T.FLOAT16, [d.K!]);
      g.op("SimplifiedLayerNormalization", ["x", "gamma"], { axis: -1, epsilon: { f: p.eps as number }, stash_type: 1 }, "y");
      g.output("y", T.FLOAT16, dims);
      break;
    }
    case "silu_mul_quant": {
      // silu(g) = g·σ(g) in float32, stored as binary16 (as PyTorch's fp16 SiLU); then the product, stored as binary16.
      const dims = [d.M!, d.K!];
      const gate = g.cast(g.input("gate", T.FLOAT16, dims), T.FLOAT);
      const up = g.cast(g.input("up", T.FLOAT16, dims), T.FLOAT);
      const silu = roundF16(g, g.op("Mul", [gate, g.op("Sigmoid", [gate])]));
      g.op("Cast", [g.op("Mul", [silu, up])], { to: T.FLOAT16 }, "y");
      g.output("y", T.FLOAT16, dims);
      break;
    }
    case "rope":
      buildRope(g, d, p.style as string);
      break;
    case "attention_prefill":
      buildAttention(g, d);
      break;
    case "attention_kv4_decode":
      buildDecode(g, d, ctxLen);
      break;
    case "dequant_kv4": {
      // float32 inside: q·scale is exact (4-bit × 11-bit significands), one rounding at the add — the op's own formula.
      const [t, h, dd] = [d.T!, d.H!, d.D!];
      const q = g.cast(g.input("q", T.UINT8, [t, h, dd]), T.FLOAT);
      const s = g.op("Unsqueeze", [g.cast(g.input("scale", T.FLOAT16, [t, h]), T.FLOAT), g.ints([2])]);
      const mn = g.op("Unsqueeze", [g.cast(g.input("min", T.FLOAT16, [t, h]), T.FLOAT), g.ints([2])]);
      g.op("Add", [g.op("Mul", [q, s]), mn], {}, "v");
      g.output("v", T.FLOAT, [t, h, dd]);
      break;
    }
    case "dequant_weight_g128": {
      const [n, k, gg] = [d.N!, d.K!, d.G!];
      const gs = k / gg;
      const q = g.op("Reshape", [g.cast(g.input("q", T.UINT8, [n, k]), T.FLOAT), g.ints([n, gg, gs])]);
      const z = g.op("Unsqueeze", [g.cast(g.input("zero", T.UINT8, [n, gg]), T.FLOAT), g.ints([2])]);
      const s2 = g.op("Unsqueeze", [g.cast(g.input("s2", T.UINT8, [n, gg]), T.FLOAT), g.ints([2])]);
      const s1 = g.op("Unsqueeze", [g.cast(g.input("s1", T.FLOAT16, [n]), T.FLOAT), g.ints([1])]);
      const w8f = g.op("Reshape", [g.op("Mul", [g.op("Sub", [q, z]), s2]), g.ints([n, k])]);
      g.op("Cast", [w8f], { to: T.INT8 }, "w8");
      g.op("Mul", [w8f, s1], {}, "w");
      g.output("w8", T.INT8, [n, k]);
      g.output("w", T.FLOAT, [n, k]);
      break;
    }
    case "dequant_weight_chn": {
      const [n, k] = [d.N!, d.K!];
      const q = g.cast(g.input("q", T.UINT8, [n, k]), T.FLOAT);
      const z = g.op("Unsqueeze", [g.cast(g.input("zero", T.UINT8, [n]), T.FLOAT), g.ints([1])]);
      const s = g.op("Unsqueeze", [g.cast(g.input("scale", T.FLOAT16, [n]), T.FLOAT), g.ints([1])]);
      g.op("Mul", [g.op("Sub", [q, z]), s], {}, "w");
      g.output("w", T.FLOAT, [n, k]);
      break;
    }
  }
  return g.build();
}

/**
 * The two halves (a, b) of every RoPE pair of a float32 [T, H, D] value, each [T, H, D/2]:
 * `rotate_half` pairs (i, i + D/2), `interleaved` pairs (2i, 2i + 1).
 */
export function ropePairs(g: GraphBuilder, x: string, h: number, dd: number, style: string): [string, string] {
  const r = dd / 2;
  if (style === "rotate_half") {
    return [g.op("Slice", [x, g.ints([0]), g.ints([r]), g.ints([2])]), g.op("Slice", [x, g.ints([r]), g.ints([dd]), g.ints([2])])];
  }
  const pairs = g.op("Reshape", [x, g.ints([0, h, r, 2])]);
  const half = (i: number): string => g.op("Squeeze", [g.op("Slice", [pairs, g.ints([i]), g.ints([i + 1]), g.ints([3])]), g.ints([3])]);
  return [half(0), half(1)];
}

/** Put rotated halves back in the channel order of `style`: the inverse of {@link ropePairs}. */
export function ropeJoin(g: GraphBuilder, a: string, b: string, h: number, dd: number, style: string, output?: string): string {
  if (style === "rotate_half") return g.op("Concat", [a, b], { axis: 2 }, output);
  const stacked = g.op("Concat", [g.op("Unsqueeze", [a, g.ints([3])]), g.op("Unsqueeze", [b, g.ints([3])])], { axis: 3 });
  return g.op("Reshape", [stacked, g.ints([0, h, dd])], {}, output);
}

/**
 * Rotate a float32 [T, H, D] value by float32 cos/sin rows [T, 1, D/2] that already hold binary16
 * values, FP16-eager style: `a' = f16(f16(a·c) − f16(b·s))`, `b' = f16(f16(a·s) + f16(b·c))`.
 */
export function ropeRotate(g: GraphBuilder, x: string, cos: string, sin: string, h: number, dd: number, style: string, output?: string): string {
  const [a, b] = ropePairs(g, x, h, dd, style);
  const mul = (u: string, v: string): string => roundF16(g, g.op("Mul", [u, v]));
  const a2 = roundF16(g, g.op("Sub", [mul(a, cos), mul(b, sin)]));
  const b2 = roundF16(g, g.op("Add", [mul(a, sin), mul(b, cos)]));
  return ropeJoin(g, a2, b2, h, dd, style, output);
}

function buildRope(g: GraphBuilder, d: Dims, style: string): void {
  const [t, h, dd, np, r] = [d.T!, d.H!, d.D!, d.P!, d.R!];
  const x = g.cast(g.input("x", T.FLOAT16, [t, h, dd]), T.FLOAT);
  g.input("pos", T.INT32, [t]);
  g.input("cos", T.FLOAT, [np, r]);
  g.input("sin", T.FLOAT, [np, r]);
  // The table rows are stored as binary16, as an FP16 model keeps its cos/sin cache.
  const row = (name: string): string => g.op("Unsqueeze", [roundF16(g, g.op("Gather", [name, "pos"], { axis: 0 })), g.ints([1])]);
  const y = ropeRotate(g, x, row("cos"), row("sin"), h, dd, style);
  g.op("Cast", [y], { to: T.FLOAT16 }, "y");
  g.output("y", T.FLOAT16, [t, h, dd]);
}

/**
 * Causal GQA attention on float32 [T, HQ, D] queries and [T, HKV, D] keys/values (binary16 values),
 * SDPA style: scores, softmax and the weighted sum in float32, returns [T, HQ, D] float32.
 * `mask` is a float32 [T, T] value: 0 on and below the diagonal, −∞ above.
 */
export function attentionCore(g: GraphBuilder, q: string, k: string, v: string, mask: string, hq: number, hkv: number, dd: number): string {
  const group = hq / hkv;
  const heads = g.ints(Array.from({ length: hq }, (_, i) => Math.floor(i / group)));
  const qh = g.op("Transpose", [q], { perm: [1, 0, 2] }); // [HQ, T, D]
  const kh = g.op("Gather", [g.op("Transpose", [k], { perm: [1, 2, 0] }), heads], { axis: 0 }); // [HQ, D, T]
  const vh = g.op("Gather", [g.op("Transpose", [v], { perm: [1, 0, 2] }), heads], { axis: 0 }); // [HQ, T, D]
  const sc = g.f32([Math.fround(1 / Math.fround(Math.sqrt(dd)))]);
  const scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [qh, kh]), sc]), mask]);
  const probs = g.op("Softmax", [scores], { axis: -1 });
  return g.op("Transpose", [g.op("MatMul", [probs, vh])], { perm: [1, 0, 2] });
}

/** A float32 [T, T] causal mask constant: 0 where key ≤ query, −∞ after. */
export function causalMask(t: number): Float32Array {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = MASKED;
  return m;
}

function buildAttention(g: GraphBuilder, d: Dims): void {
  const [t, hq, hkv, dd] = [d.T!, d.HQ!, d.HKV!, d.D!];
  const q = g.cast(g.input("q", T.FLOAT16, [t, hq, dd]), T.FLOAT);
  const k = g.cast(g.input("k", T.FLOAT16, [t, hkv, dd]), T.FLOAT);
  const v = g.cast(g.input("v", T.FLOAT16, [t, hkv, dd]), T.FLOAT);
  const mask = g.init("mask", T.FLOAT, [t, t], causalMask(t));
  g.op("Cast", [attentionCore(g, q, k, v, mask, hq, hkv, dd)], { to: T.FLOAT16 }, "o");
  g.output("o", T.FLOAT16, [t, hq, dd]);
}

/**
 * `attention_kv4_decode`: for each sequence b (context length `L_b` fixed in the graph), gather its
 * first ⌈L_b/64⌉ pages by the run-time block table, dequantize the past keys/values with the
 * `dequant_kv4` formula in float32 (exact as the reference), append the new token's own binary16
 * K/V, and attend SDPA style in float32; one rounding to binary16 at the output.
 */
function buildDecode(g: GraphBuilder, d: Dims, ctxLen: readonly number[]): void {
  const [nb, hq, hkv, dd, np, s, nbk] = [d.B!, d.HQ!, d.HKV!, d.D!, d.P!, d.S!, d.NB!];
  for (const name of ["q", "k", "v"]) g.input(name, T.FLOAT16, [nb, name === "q" ? hq : hkv, dd]);
  for (const kind of ["k", "v"]) {
    g.input(`${kind}_cache`, T.UINT8, [np, hkv, s, dd]);
    g.input(`${kind}_scale`, T.FLOAT16, [np, hkv, s]);
    g.input(`${kind}_min`, T.FLOAT16, [np, hkv, s]);
  }
  g.input("block_table", T.INT32, [nb, nbk]);
  g.input("ctx_len", T.INT32, [nb]);
  const heads = g.ints(Array.from({ length: hq }, (_, i) => Math.floor(i / (hq / hkv))));
  const sc = g.f32([Math.fround(1 / Math.fround(Math.sqrt(dd)))]);
  const outs: string[] = [];
  ctxLen.forEach((len, b) => {
    const row = (x: string): string => g.op("Slice", [x, g.ints([b]), g.ints([b + 1]), g.ints([0])]);
    const newTok = (x: string): string => g.op("Transpose", [g.cast(row(x), T.FLOAT)], { perm: [1, 0, 2] }); // [HKV, 1, D]
    const used = Math.ceil(len / s);
    const seq = (kind: string): string => {
      if (len === 0) return newTok(kind);
      const pages = g.op("Slice", [g.op("Squeeze", [row("block_table"), g.ints([0])]), g.ints([0]), g.ints([used]), g.ints([0])]);
      const tokens = (x: string, perm: number[], shape: number[]): string =>
        g.op("Slice", [g.op("Reshape", [g.op("Transpose", [g.op("Gather", [x, pages], { axis: 0 })], { perm }), g.ints(shape)]), g.ints([0]), g.ints([len]), g.ints([1])]);
      const codes = g.cast(tokens(`${kind}_cache`, [1, 0, 2, 3], [hkv, used * s, dd]), T.FLOAT);
      const per = (name: string): string => g.op("Unsqueeze", [g.cast(tokens(name, [1, 0, 2], [hkv, used * s]), T.FLOAT), g.ints([2])]);
      const past = g.op("Add", [g.op("Mul", [codes, per(`${kind}_scale`)]), per(`${kind}_min`)]);
      return g.op("Concat", [past, newTok(kind)], { axis: 1 }); // [HKV, L + 1, D]
    };
    const kAll = g.op("Gather", [seq("k"), heads], { axis: 0 }); // [HQ, L + 1, D]
    const vAll = g.op("Gather", [seq("v"), heads], { axis: 0 });
    const qb = g.op("Transpose", [g.cast(row("q"), T.FLOAT)], { perm: [1, 0, 2] }); // [HQ, 1, D]
    const scores = g.op("Mul", [g.op("MatMul", [qb, g.op("Transpose", [kAll], { perm: [0, 2, 1] })]), sc]);
    outs.push(g.op("Transpose", [g.op("MatMul", [g.op("Softmax", [scores], { axis: -1 }), vAll])], { perm: [1, 0, 2] })); // [1, HQ, D]
  });
  g.op("Cast", [outs.length === 1 ? outs[0]! : g.op("Concat", outs, { axis: 0 })], { to: T.FLOAT16 }, "o");
  g.output("o", T.FLOAT16, [nb, hq, dd]);
}
