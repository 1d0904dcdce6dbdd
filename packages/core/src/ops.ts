/**
 * The op registry: one typed list of op names and, for each op, its signature — named input
 * and output tensors with dtypes and symbolic shapes, and parameters with defaults and ranges.
 * Every backend, the CLI (`qoq op run`), the goldens and the conformance harness read these,
 * so an op's interface is written down exactly once.
 * @module
 */
import { DTypeError, ParamError, ShapeError, UnknownOpError } from "./errors.js";
import type { DType, NamedTensors } from "./tensor.js";
import { describe } from "./tensor.js";

/** Every op, in the order `qoq op list` prints them. */
export const OP_NAMES = [
  "quant_act_int8",
  "quant_weight_g128",
  "quant_weight_chn",
  "quant_weight_int8",
  "dequant_weight_g128",
  "dequant_weight_chn",
  "gemm_w4a8_g128",
  "gemm_w4a8_chn",
  "gemm_w8a8",
  "quant_kv4",
  "dequant_kv4",
  "rmsnorm_quant",
  "rope",
  "silu_mul_quant",
  "residual_add",
  "attention_prefill",
  "attention_kv4_decode",
  "smooth_attention",
  "hadamard_rotate",
  "smooth_linear",
  "reorder_channels",
  "clip_search",
] as const;

/** Name of an op. */
export type OpName = (typeof OP_NAMES)[number];

/** A named tensor in an op's interface. `shape` uses symbols (e.g. `["M", "K"]`) bound per call. */
export interface TensorSpec {
  /** Tensor name (also its safetensors name). */
  readonly name: string;
  /** Accepted dtype(s); outputs with several follow the input listed in `sameDtypeAs`. */
  readonly dtype: DType | readonly DType[];
  /** Symbolic shape: each symbol must take one value across all tensors of a call. */
  readonly shape: readonly string[];
  /** Optional input. */
  readonly optional?: boolean;
  /** For polymorphic dtypes: this tensor has the same dtype as that input. */
  readonly sameDtypeAs?: string;
  /** One line on what the tensor holds. */
  readonly doc: string;
}

/** A scalar parameter of an op. */
export interface ParamSpec {
  /** Parameter name (`--param name=value` on the CLI). */
  readonly name: string;
  /** `int` and `float` take numbers; `enum` takes one of `values`. */
  readonly kind: "int" | "float" | "enum";
  /** Default value; a parameter without one is required. */
  readonly default?: number | string;
  /** Allowed values of an enum. */
  readonly values?: readonly string[];
  /** Inclusive lower bound of a number. */
  readonly min?: number;
  /** Inclusive upper bound of a number. */
  readonly max?: number;
  /** One line on what it does. */
  readonly doc: string;
}

/** Parameter values of one call. */
export type ParamValues = Readonly<Record<string, number | string>>;

/** The interface of an op. */
export interface OpSignature {
  /** Op name. */
  readonly name: OpName;
  /** One line on what it computes. */
  readonly summary: string;
  /** Input tensors. */
  readonly inputs: readonly TensorSpec[];
  /** Output tensors. */
  readonly outputs: readonly TensorSpec[];
  /** Parameters. */
  readonly params: readonly ParamSpec[];
}

const F16 = "f16" as const;
const FLOAT_W = ["f32", "f64"] as const;

const t = (name: string, dtype: TensorSpec["dtype"], shape: string[], doc: string, extra: Partial<TensorSpec> = {}): TensorSpec => ({
  name,
  dtype,
  shape,
  doc,
  ...extra,
});

const ACT_QUANT_OUTPUTS: readonly TensorSpec[] = [
  t("q", "i8", ["M", "K"], "INT8 codes in [−127, 127]"),
  t("scale", F16, ["M"], "per-token scale amax/127 (0 for an all-zero row)"),
  t("qsum", "i32", ["M"], "per-token sum of the codes"),
];

/** The signature of every op. */
export const OP_SIGNATURES: { readonly [K in OpName]: OpSignature & { readonly name: K } } = {
  quant_act_int8: {
    name: "quant_act_int8",
    summary: "Per-token symmetric INT8 quantization of fp16 activations.",
    inputs: [t("x", F16, ["M", "K"], "activations, one token per row")],
    outputs: ACT_QUANT_OUTPUTS,
    params: [],
  },
  quant_weight_g128: {
    name: "quant_weight_g128",
    summary: "Progressive group quantization: per-channel INT8 (protective range ±119), then per-group UINT4 with integer scale and zero.",
    inputs: [t("w", "f32", ["N", "K"], "weights, one output channel per row")],
    outputs: [
      t("q", "u8", ["N", "K"], "UINT4 codes 0..15, one per byte"),
      t("zero", "u8", ["N", "G"], "level-2 integer zero point 0..15 per group"),
      t("s2", "u8", ["N", "G"], "level-2 integer scale 1..16 per group"),
      t("s1", F16, ["N"], "level-1 per-channel scale max|w|/119"),
    ],
    params: [{ name: "group", kind: "int", default: 128, min: 1, doc: "input channels per group; must divide K" }],
  },
  quant_weight_chn: {
    name: "quant_weight_chn",
    summary: "Per-channel asymmetric UINT4 weight quantization (the range widened to include 0, optionally clipped).",
    inputs: [
      t("w", "f32", ["N", "K"], "weights, one output channel per row"),
      t("ratio", "f32", ["N"], "per-row clipping ratio in (0, 1] applied to the range (default 1)", { optional: true }),
    ],
    outputs: [
      t("q", "u8", ["N", "K"], "UINT4 codes 0..15, one per byte"),
      t("zero", "u8", ["N"], "integer zero point 0..15"),
      t("scale", F16, ["N"], "per-channel scale (vmax − vmin)/15"),
    ],
    params: [],
  },
  quant_weight_int8: {
    name: "quant_weight_int8",
    summary: "Per-channel symmetric INT8 weight quantization (the W8A8 baseline).",
    inputs: [t("w", "f32", ["N", "K"], "weights, one output channel per row")],
    outputs: [t("q", "i8", ["N", "K"], "INT8 codes in [−127, 127]"), t("scale", F16, ["N"], "per-channel scale max|w|/127")],
    params: [],
  },
  dequant_weight_g128: {
    name: "dequant_weight_g128",
    summary: "Reconstruct progressive group weights: w8 = (q − z)·s2 (exact INT8) and w = s1·w8.",
    inputs: [
      t("q", "u8", ["N", "K"], "UINT4 codes"),
      t("zero", "u8", ["N", "G"], "level-2 zero points"),
      t("s2", "u8", ["N", "G"], "level-2 scales"),
      t("s1", F16, ["N"], "level-1 scales"),
    ],
    outputs: [t("w8", "i8", ["N", "K"], "exact INT8 weights (q − z)·s2"), t("w", "f32", ["N", "K"], "dequantized weights s1·w8 (exact in binary32)")],
    params: [],
  },
  dequant_weight_chn: {
    name: "dequant_weight_chn",
    summary: "Reconstruct per-channel UINT4 weights: w = scale·(q − zero).",
    inputs: [t("q", "u8", ["N", "K"], "UINT4 codes"), t("zero", "u8", ["N"], "zero points"), t("scale", F16, ["N"], "scales")],
    outputs: [t("w", "f32", ["N", "K"], "dequantized weights (exact in binary32)")],
    params: [],
  },
  gemm_w4a8_g128: {
    name: "gemm_w4a8_g128",
    summary: "W4A8 GEMM with progressive group weights: y = f16(f32(acc)·(s1·sx)), acc = Σ xq·(q − z)·s2 in int32.",
    inputs: [
      t("xq", "i8", ["M", "K"], "activation codes"),
      t("xscale", F16, ["M"], "activation scales"),
      t("q", "u8", ["N", "K"], "weight UINT4 codes"),
      t("zero", "u8", ["N", "G"], "level-2 zero points"),
      t("s2", "u8", ["N", "G"], "level-2 scales"),
      t("s1", F16, ["N"], "level-1 scales"),
    ],
    outputs: [t("y", F16, ["M", "N"], "output activations")],
    params: [],
  },
  gemm_w4a8_chn: {
    name: "gemm_w4a8_chn",
    summary: "W4A8 GEMM with per-channel UINT4 weights: acc = Σ xq·q − z·Σ xq (exact), y = f16(f32(acc)·(scale·sx)).",
    inputs: [
      t("xq", "i8", ["M", "K"], "activation codes"),
      t("xscale", F16, ["M"], "activation scales"),
      t("xqsum", "i32", ["M"], "per-token sum of activation codes"),
      t("q", "u8", ["N", "K"], "weight UINT4 codes"),
      t("zero", "u8", ["N"], "weight zero points"),
      t("scale", F16, ["N"], "weight scales"),
    ],
    outputs: [t("y", F16, ["M", "N"], "output activations")],
    params: [],
  },
  gemm_w8a8: {
    name: "gemm_w8a8",
    summary: "W8A8 GEMM (baseline): y = f16(f32(acc)·(scale·sx)), acc = Σ xq·q in int32.",
    inputs: [
      t("xq", "i8", ["M", "K"], "activation codes"),
      t("xscale", F16, ["M"], "activation scales"),
      t("q", "i8", ["N", "K"], "weight INT8 codes"),
      t("scale", F16, ["N"], "weight scales"),
    ],
    outputs: [t("y", F16, ["M", "N"], "output activations")],
    params: [],
  },
  quant_kv4: {
    name: "quant_kv4",
    summary: "KV4 cache quantization: asymmetric UINT4 per (token, KV head) over head_dim, fp16 scale and fp16 minimum.",
    inputs: [t("v", F16, ["T", "H", "D"], "post-RoPE keys or values")],
    outputs: [
      t("q", "u8", ["T", "H", "D"], "UINT4 codes 0..15, one per byte"),
      t("scale", F16, ["T", "H"], "(max − min)/15"),
      t("min", F16, ["T", "H"], "minimum (the value of code 0)"),
    ],
    params: [],
  },
  dequant_kv4: {
    name: "dequant_kv4",
    summary: "KV4 dequantization: v = f32(f32(q·scale) + min).",
    inputs: [t("q", "u8", ["T", "H", "D"], "UINT4 codes"), t("scale", F16, ["T", "H"], "scales"), t("min", F16, ["T", "H"], "minima")],
    outputs: [t("v", "f32", ["T", "H", "D"], "dequantized values")],
    params: [],
  },
  rmsnorm_quant: {
    name: "rmsnorm_quant",
    summary: "RMSNorm with γ (canonical R32 sum of squares), fp16 output, fused per-token INT8 quantization of that output.",
    inputs: [t("x", F16, ["M", "K"], "residual stream, one token per row"), t("gamma", F16, ["K"], "RMSNorm weight γ")],
    outputs: [t("y", F16, ["M", "K"], "normalized activations"), ...ACT_QUANT_OUTPUTS],
    params: [{ name: "eps", kind: "float", default: 1e-5, min: 0, doc: "added to mean(x²) before the square root (rounded to binary32)" }],
  },
  rope: {
    name: "rope",
    summary: "Rotary position embedding with a host-built cos/sin table, interleaved-pair or rotate-half pairing.",
    inputs: [
      t("x", F16, ["T", "H", "D"], "queries or keys"),
      t("pos", "i32", ["T"], "absolute position of each token (row of the table)"),
      t("cos", "f32", ["P", "R"], "cos table, R = D/2 frequencies"),
      t("sin", "f32", ["P", "R"], "sin table"),
    ],
    outputs: [t("y", F16, ["T", "H", "D"], "rotated values")],
    params: [
      {
        name: "style",
        kind: "enum",
        default: "rotate_half",
        values: ["rotate_half", "interleaved"],
        doc: "pairing: rotate_half (i, i+D/2) as Hugging Face LLaMA; interleaved (2i, 2i+1) as llama2.c",
      },
    ],
  },
  silu_mul_quant: {
    name: "silu_mul_quant",
    summary: "SwiGLU: y = f16(f16(silu(gate))·up), with fused per-token INT8 quantization of y.",
    inputs: [t("gate", F16, ["M", "K"], "gate projection output"), t("up", F16, ["M", "K"], "up projection output")],
    outputs: [t("y", F16, ["M", "K"], "SwiGLU output"), ...ACT_QUANT_OUTPUTS],
    params: [],
  },
  residual_add: {
    name: "residual_add",
    summary: "Residual add in fp16: y = f16(f32(a + b)).",
    inputs: [t("a", F16, ["M", "K"], "residual stream"), t("b", F16, ["M", "K"], "branch output")],
    outputs: [t("y", F16, ["M", "K"], "sum")],
    params: [],
  },
  attention_prefill: {
    name: "attention_prefill",
    summary: "Causal grouped-query attention over fp16 Q/K/V of a prompt (canonical two-pass softmax).",
    inputs: [
      t("q", F16, ["T", "HQ", "D"], "post-RoPE queries"),
      t("k", F16, ["T", "HKV", "D"], "post-RoPE keys"),
      t("v", F16, ["T", "HKV", "D"], "values"),
    ],
    outputs: [t("o", F16, ["T", "HQ", "D"], "attention output")],
    params: [],
  },
  attention_kv4_decode: {
    name: "attention_kv4_decode",
    summary: "One new token per sequence attends to its past in a paged KV4 cache (64-token pages, block table) and to its own unquantized K/V.",
    inputs: [
      t("q", F16, ["B", "HQ", "D"], "post-RoPE query of the new token"),
      t("k", F16, ["B", "HKV", "D"], "post-RoPE key of the new token (unquantized)"),
      t("v", F16, ["B", "HKV", "D"], "value of the new token (unquantized)"),
      t("k_cache", "u8", ["P", "HKV", "S", "D"], "key codes by page, KV head, slot"),
      t("k_scale", F16, ["P", "HKV", "S"], "key scales"),
      t("k_min", F16, ["P", "HKV", "S"], "key minima"),
      t("v_cache", "u8", ["P", "HKV", "S", "D"], "value codes"),
      t("v_scale", F16, ["P", "HKV", "S"], "value scales"),
      t("v_min", F16, ["P", "HKV", "S"], "value minima"),
      t("block_table", "i32", ["B", "NB"], "page index of each 64-token block of each sequence"),
      t("ctx_len", "i32", ["B"], "number of past tokens in the cache for each sequence"),
    ],
    outputs: [t("o", F16, ["B", "HQ", "D"], "attention output")],
    params: [],
  },
  smooth_attention: {
    name: "smooth_attention",
    summary: "SmoothAttention: λ = max|K|^α / max|Q|^β, equal on each RoPE pair, per KV head; Wq rows ×λ, Wk rows ÷λ (float64).",
    inputs: [
      t("wq", FLOAT_W, ["NQ", "C"], "q_proj weight, rows = heads × head_dim"),
      t("wk", FLOAT_W, ["NK", "C"], "k_proj weight, rows = kv_heads × head_dim", { sameDtypeAs: "wq" }),
      t("kmax", "f32", ["NK"], "per-channel max |K| (post-RoPE) over calibration tokens"),
      t("qmax", "f32", ["NQ"], "per-channel max |Q| (needed when beta ≠ 0)", { optional: true }),
    ],
    outputs: [
      t("wq", FLOAT_W, ["NQ", "C"], "smoothed q_proj", { sameDtypeAs: "wq" }),
      t("wk", FLOAT_W, ["NK", "C"], "smoothed k_proj", { sameDtypeAs: "wq" }),
      t("lambda", "f64", ["NK"], "smoothing factor per key channel"),
    ],
    params: [
      { name: "heads", kind: "int", min: 1, doc: "query heads" },
      { name: "kv_heads", kind: "int", min: 1, doc: "key/value heads (divides heads)" },
      { name: "alpha", kind: "float", default: 0.5, min: 0, max: 1, doc: "exponent of max|K|" },
      { name: "beta", kind: "float", default: 0, min: 0, max: 1, doc: "exponent of max|Q|" },
      { name: "style", kind: "enum", default: "rotate_half", values: ["rotate_half", "interleaved"], doc: "RoPE pairing that λ must respect" },
    ],
  },
  hadamard_rotate: {
    name: "hadamard_rotate",
    summary: "Multiply by a normalized Sylvester Hadamard matrix on the input side (W·H) or output side (Hᵀ·W), in float64.",
    inputs: [t("w", FLOAT_W, ["R", "C"], "weight matrix")],
    outputs: [t("w", FLOAT_W, ["R", "C"], "rotated weight", { sameDtypeAs: "w" })],
    params: [
      { name: "side", kind: "enum", default: "input", values: ["input", "output"], doc: "input: rotate columns (W·H); output: rotate rows (Hᵀ·W)" },
    ],
  },
  smooth_linear: {
    name: "smooth_linear",
    summary: "SmoothQuant-style smoothing: λ_j = max|X_j|^α / max|W_:,j|^β; W[:, j] ×λ_j and the producing layer's row j ÷λ_j (float64).",
    inputs: [
      t("w", FLOAT_W, ["N", "K"], "consumer linear weight"),
      t("prev", FLOAT_W, ["K", "C"], "producer linear weight whose output rows feed input channel j", { sameDtypeAs: "w" }),
      t("xmax", "f32", ["K"], "per-channel max |X| over calibration tokens"),
    ],
    outputs: [
      t("w", FLOAT_W, ["N", "K"], "smoothed consumer", { sameDtypeAs: "w" }),
      t("prev", FLOAT_W, ["K", "C"], "compensated producer", { sameDtypeAs: "w" }),
      t("lambda", "f64", ["K"], "smoothing factor per channel"),
    ],
    params: [
      { name: "alpha", kind: "float", default: 0.5, min: 0, max: 1, doc: "exponent of max|X|" },
      { name: "beta", kind: "float", default: 0.5, min: 0, max: 1, doc: "exponent of max|W|" },
    ],
  },
  reorder_channels: {
    name: "reorder_channels",
    summary: "Activation-aware channel reordering: sort input channels by max|X| ascending (stable), permute W's columns and the producer's rows.",
    inputs: [
      t("w", FLOAT_W, ["N", "K"], "consumer linear weight"),
      t("xmax", "f32", ["K"], "per-channel max |X|"),
      t("prev", FLOAT_W, ["K", "C"], "producer weight (rows permuted the same way)", { optional: true, sameDtypeAs: "w" }),
    ],
    outputs: [
      t("w", FLOAT_W, ["N", "K"], "permuted consumer", { sameDtypeAs: "w" }),
      t("perm", "i32", ["K"], "new channel j holds old channel perm[j]"),
      t("prev", FLOAT_W, ["K", "C"], "permuted producer (only when given)", { optional: true, sameDtypeAs: "w" }),
    ],
    params: [],
  },
  clip_search: {
    name: "clip_search",
    summary: "Per-channel clipping search for UINT4 weights: the ratio (1, then 1 − i·s/n) that minimizes the row's output MSE on calibration inputs.",
    inputs: [t("w", "f32", ["N", "K"], "weights"), t("x", "f32", ["T", "K"], "calibration inputs of the layer")],
    outputs: [t("ratio", "f32", ["N"], "chosen ratio per row"), t("err", "f64", ["N"], "output MSE at the chosen ratio")],
    params: [
      { name: "grid", kind: "int", default: 80, min: 1, max: 10000, doc: "number of shrink steps" },
      { name: "max_shrink", kind: "float", default: 0.8, min: 0, max: 0.99, doc: "largest shrink (ratio 1 − max_shrink at the last step)" },
    ],
  },
};

/** True if `name` is a registered op. */
export function isOpName(name: string): name is OpName {
  return (OP_NAMES as readonly string[]).includes(name);
}

/** The signature of `name`, or an {@link UnknownOpError}. */
export function getSignature(name: string): OpSignature {
  if (!isOpName(name)) throw new UnknownOpError(name, OP_NAMES);
  return OP_SIGNATURES[name];
}

/** Dims bound by a call: every shape symbol and its value. */
export type Dims = Readonly<Record<string, number>>;

function dtypesOf(spec: TensorSpec): readonly DType[] {
  return typeof spec.dtype === "string" ? [spec.dtype] : spec.dtype;
}

function specText(spec: TensorSpec): string {
  return `${dtypesOf(spec).join("|")}[${spec.shape.join("×")}]`;
}

/**
 * Check the inputs of a call against the signature: every required tensor present, no unknown
 * tensor, dtypes accepted, ranks right, and each shape symbol bound to one value. Returns the
 * bound dims. Throws {@link ShapeError} / {@link DTypeError} naming the tensor.
 */
export function bindInputs(sig: OpSignature, inputs: NamedTensors): Dims {
  const dims: Record<string, number> = {};
  const known = new Set(sig.inputs.map((s) => s.name));
  for (const name of Object.keys(inputs)) {
    if (!known.has(name)) throw new ShapeError(`${sig.name}: unexpected input tensor '${name}'; inputs are ${sig.inputs.map((s) => `${s.name}: ${specText(s)}`).join(", ")}`);
  }
  for (const spec of sig.inputs) {
    const x = inputs[spec.name];
    if (x === undefined) {
      if (spec.optional) continue;
      throw new ShapeError(`${sig.name}: missing input tensor '${spec.name}' (${specText(spec)})`);
    }
    if (!dtypesOf(spec).includes(x.dtype)) throw new DTypeError(`${sig.name}: input '${spec.name}' is ${describe(x)}, expected ${specText(spec)}`);
    if (spec.sameDtypeAs !== undefined) {
      const other = inputs[spec.sameDtypeAs];
      if (other !== undefined && other.dtype !== x.dtype) {
        throw new DTypeError(`${sig.name}: input '${spec.name}' is ${x.dtype} but '${spec.sameDtypeAs}' is ${other.dtype}; they must match`);
      }
    }
    if (x.shape.length !== spec.shape.length) {
      throw new ShapeError(`${sig.name}: input '${spec.name}' has shape [${x.shape.join(", ")}], expected rank ${spec.shape.length} (${specText(spec)})`);
    }
    spec.shape.forEach((sym, i) => {
      const d = x.shape[i]!;
      const bound = dims[sym];
      if (bound === undefined) dims[sym] = d;
      else if (bound !== d) {
        throw new ShapeError(`${sig.name}: input '${spec.name}' dimension ${i} (${sym}) is ${d}, but ${sym} = ${bound} from an earlier tensor`);
      }
    });
  }
  return dims;
}

/** Resolved parameter values: every parameter present, numbers as numbers. */
export type ResolvedParams = Readonly<Record<string, number | string>>;

/**
 * Fill defaults and check parameter values: required present, no unknown names, ints integral,
 * numbers finite and in range, enums among their values. Strings that hold numbers (from the
 * CLI) are converted. Throws {@link ParamError}.
 */
export function resolveParams(sig: OpSignature, params: ParamValues = {}): ResolvedParams {
  const out: Record<string, number | string> = {};
  const known = new Set(sig.params.map((p) => p.name));
  for (const name of Object.keys(params)) {
    if (!known.has(name)) {
      const list = sig.params.map((p) => p.name).join(", ") || "none";
      throw new ParamError(`${sig.name}: unknown parameter '${name}' (parameters: ${list})`);
    }
  }
  for (const p of sig.params) {
    const raw = params[p.name] ?? p.default;
    if (raw === undefined) throw new ParamError(`${sig.name}: parameter '${p.name}' is required (${p.doc})`);
    if (p.kind === "enum") {
      const v = String(raw);
      if (!p.values!.includes(v)) throw new ParamError(`${sig.name}: parameter '${p.name}' must be one of ${p.values!.join(", ")}, got '${v}'`);
      out[p.name] = v;
      continue;
    }
    const v = typeof raw === "number" ? raw : raw.trim() === "" ? NaN : Number(raw);
    if (!Number.isFinite(v)) throw new ParamError(`${sig.name}: parameter '${p.name}' must be a finite number, got '${String(raw)}'`);
    if (p.kind === "int" && !Number.isSafeInteger(v)) throw new ParamError(`${sig.name}: parameter '${p.name}' must be an integer, got ${v}`);
    if (p.min !== undefined && v < p.min) throw new ParamError(`${sig.name}: parameter '${p.name}' must be ≥ ${p.min}, got ${v}`);
    if (p.max !== undefined && v > p.max) throw new ParamError(`${sig.name}: parameter '${p.name}' must be ≤ ${p.max}, got ${v}`);
    out[p.name] = v;
  }
  return out;
}
