/**
 * The `onnx-fp16` backend: the float ops as FP16 ONNX graphs run by onnxruntime-node's CPU
 * provider. It is an oracle of a different kind from the reference — an independent FP16
 * implementation with its own reduction orders and exp — so its contracts are named tolerances.
 *
 * The INT8 outputs (`q`, `scale`, `qsum`) of `rmsnorm_quant` and `silu_mul_quant` are the
 * reference `quant_act_int8` applied to the ONNX `y` (ONNX has no op with the pinned rounding).
 * Quantizers, the integer GEMMs and the offline transforms are unsupported.
 * @module
 */
import {
  assertFinite,
  bindInputs,
  fromF16Bits,
  getSignature,
  NonFiniteError,
  OverflowError,
  ParamError,
  RangeViolationError,
  resolveParams,
  ShapeError,
  tensor,
  UnsupportedError,
  type Backend,
  type Dims,
  type NamedTensors,
  type OpName,
  type ParamValues,
  type ResolvedParams,
  type Support,
  type Tensor,
} from "@qoq/core";
import { quantizeActivations } from "@qoq/reference";
import { buildOpGraph, isGraphOp, type GraphOp } from "./ops.js";
import { OnnxModel, type OrtDType, type OrtTensorData } from "./runtime.js";

/** Why each op without a graph is unsupported. */
const UNSUPPORTED: Partial<Record<OpName, string>> = {
  quant_act_int8: "a quantizer: the pinned INT8 rounding is the reference's; an FP16 oracle has nothing independent to say",
  quant_weight_g128: "a quantizer (offline, exact integer rules): not an FP16 computation",
  quant_weight_chn: "a quantizer (offline, exact integer rules): not an FP16 computation",
  quant_weight_int8: "a quantizer (offline, exact integer rules): not an FP16 computation",
  gemm_w4a8_g128: "integer GEMM: a float GEMM over the dequantized operands is a different function — on the oracle's mixed/extreme cases float32 accumulation of cancelling products is off by up to 1024 and a row the exact int32 sum cancels to 0 comes out nonzero (NMSE ∞), so no tolerance is meaningful; the model-level FP16 comparison covers the GEMMs",
  gemm_w4a8_chn: "integer GEMM: a float GEMM over the dequantized operands is a different function — on the oracle's mixed/extreme cases float32 accumulation of cancelling products is off by up to 1024 and a row the exact int32 sum cancels to 0 comes out nonzero (NMSE ∞), so no tolerance is meaningful; the model-level FP16 comparison covers the GEMMs",
  gemm_w8a8: "integer GEMM: a float GEMM over the dequantized operands is a different function — on the oracle's mixed/extreme cases float32 accumulation of cancelling products is off by up to 1024 and a row the exact int32 sum cancels to 0 comes out nonzero (NMSE ∞), so no tolerance is meaningful; the model-level FP16 comparison covers the GEMMs",
  quant_kv4: "a quantizer: the pinned UINT4 rounding is the reference's; an FP16 oracle has nothing independent to say",
  smooth_attention: "offline float64 weight transform: not an FP16 computation",
  hadamard_rotate: "offline float64 weight transform: not an FP16 computation",
  smooth_linear: "offline float64 weight transform: not an FP16 computation",
  reorder_channels: "offline weight permutation: not an FP16 computation",
  clip_search: "offline float64 search: not an FP16 computation",
};

const ORT_TYPE: Record<Tensor["dtype"], OrtDType | undefined> = { f16: "float16", f32: "float32", f64: undefined, i8: "int8", u8: "uint8", i32: "int32" };

function uint4(name: string, t: Tensor): void {
  const d = t.data as Uint8Array;
  for (let i = 0; i < d.length; i++) if (d[i]! > 15) throw new RangeViolationError(name, i, `code ${d[i]} is not a UINT4 code 0..15`);
}

/** Input checks the graphs rely on: the op's own rules (finite floats, code ranges, shape relations). */
function validate(op: GraphOp, inputs: NamedTensors, d: Dims): void {
  if (op === "attention_kv4_decode") return validateDecode(inputs, d);
  for (const [name, t] of Object.entries(inputs)) assertFinite(name, t);
  switch (op) {
    case "rope": {
      if (d.D! % 2 !== 0) throw new ShapeError(`rope: head dimension D = ${d.D} of 'x' must be even`);
      if (d.R !== d.D! / 2) throw new ShapeError(`rope: tables have R = ${d.R} frequencies, expected D/2 = ${d.D! / 2}`);
      const pos = inputs.pos!.data as Int32Array;
      for (let i = 0; i < pos.length; i++) {
        if (pos[i]! < 0 || pos[i]! >= d.P!) throw new RangeViolationError("pos", i, `position ${pos[i]} is outside the table's rows [0, ${d.P})`);
      }
      break;
    }
    case "attention_prefill":
      if (d.HKV! < 1 || d.HQ! % d.HKV! !== 0) throw new ShapeError(`attention_prefill: HQ = ${d.HQ} is not a multiple of HKV = ${d.HKV}`);
      if (d.D! < 1) throw new ShapeError(`attention_prefill: head dimension D must be at least 1`);
      break;
    case "dequant_kv4":
      uint4("q", inputs.q!);
      break;
    case "dequant_weight_chn":
      uint4("q", inputs.q!);
      uint4("zero", inputs.zero!);
      break;
    case "dequant_weight_g128": {
      const [n, k, g] = [d.N!, d.K!, d.G!];
      if (g === 0 ? k !== 0 : k % g !== 0) throw new ShapeError(`${op}: K = ${k} is not a multiple of the G = ${g} groups of 'zero' and 's2'`);
      uint4("q", inputs.q!);
      uint4("zero", inputs.zero!);
      const z = inputs.zero!.data as Uint8Array;
      const s2 = inputs.s2!.data as Uint8Array;
      for (let i = 0; i < s2.length; i++) if (s2[i]! < 1 || s2[i]! > 16) throw new RangeViolationError("s2", i, `level-2 scale ${s2[i]} is outside 1..16`);
      const q = inputs.q!.data as Uint8Array;
      const gs = g === 0 ? 0 : k / g;
      for (let i = 0; i < n * k; i++) {
        const grp = Math.floor(i / k) * g + Math.floor((i % k) / gs);
        const w8 = (q[i]! - z[grp]!) * s2[grp]!;
        if (w8 < -128 || w8 > 127) throw new RangeViolationError("q", i, `w8 = (q − z)·s2 = ${w8} is outside [−128, 127]`);
      }
      break;
    }
    default:
      break;
  }
}

/** The decode's checks: only what is read (the pages and slots of each context) must be valid. */
function validateDecode(inputs: NamedTensors, d: Dims): void {
  const [nb, hq, hkv, dd, np, s, nbk] = [d.B!, d.HQ!, d.HKV!, d.D!, d.P!, d.S!, d.NB!];
  if (s !== 64) throw new ShapeError(`attention_kv4_decode: 'k_cache'/'v_cache' have S = ${s} slots per page, expected 64`);
  if (hkv < 1 || hq % hkv !== 0) throw new ShapeError(`attention_kv4_decode: HQ = ${hq} is not a multiple of HKV = ${hkv}`);
  if (dd < 1) throw new ShapeError("attention_kv4_decode: head dimension D must be at least 1");
  for (const name of ["q", "k", "v"]) assertFinite(name, inputs[name]!);
  const table = inputs.block_table!.data as Int32Array;
  const ctx = inputs.ctx_len!.data as Int32Array;
  for (let b = 0; b < nb; b++) {
    const len = ctx[b]!;
    if (len < 0 || len > nbk * s) throw new RangeViolationError("ctx_len", b, `context length ${len} is outside [0, NB·64 = ${nbk * s}]`);
    for (let blk = 0; blk * s < len; blk++) {
      const p = table[b * nbk + blk]!;
      if (p < 0 || p >= np) throw new RangeViolationError("block_table", b * nbk + blk, `page ${p} is outside the cache's pages [0, ${np})`);
    }
    for (let j = 0; j < len; j++) {
      for (let g = 0; g < hkv; g++) {
        const r = (table[b * nbk + (j >> 6)]! * hkv + g) * s + (j & 63);
        for (const kind of ["k", "v"]) {
          for (const part of ["scale", "min"]) {
            const v = fromF16Bits((inputs[`${kind}_${part}`]!.data as Uint16Array)[r]!);
            if (!Number.isFinite(v)) throw new NonFiniteError(`${kind}_${part}`, r, v);
          }
          const codes = inputs[`${kind}_cache`]!.data as Uint8Array;
          for (let c = 0; c < dd; c++) {
            if (codes[r * dd + c]! > 15) throw new RangeViolationError(`${kind}_cache`, r * dd + c, `code ${codes[r * dd + c]} is not a UINT4 code (0..15)`);
          }
        }
      }
    }
  }
}

function toOrt(t: Tensor): OrtTensorData {
  const type = ORT_TYPE[t.dtype];
  if (type === undefined) throw new UnsupportedError(`onnx-fp16: dtype ${t.dtype} is not fed to onnxruntime`);
  return { type, dims: t.shape, data: t.data as OrtTensorData["data"] };
}

function fromOrt(o: OrtTensorData): Tensor {
  switch (o.type) {
    case "float16":
      return tensor("f16", o.dims, new Uint16Array(o.data as Uint16Array));
    case "float32":
      return tensor("f32", o.dims, new Float32Array(o.data as Float32Array));
    case "int8":
      return tensor("i8", o.dims, new Int8Array(o.data as Int8Array));
    default:
      throw new UnsupportedError(`onnx-fp16: unexpected onnxruntime output type ${o.type}`);
  }
}

/** The INT8 quantization of a binary16 `y` (M×K) by the reference rule, after an overflow check. */
function quantizeY(op: string, y: Tensor): NamedTensors {
  const bits = y.data as Uint16Array;
  const values = new Float64Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    values[i] = fromF16Bits(bits[i]!);
    if (!Number.isFinite(values[i]!)) throw new OverflowError(`${op}: output 'y' at flat index ${i} overflows binary16 (${values[i]})`);
  }
  const { q, scale, qsum } = quantizeActivations(values, y.shape[0]!, y.shape[1]!);
  return { y, q, scale, qsum };
}

/** Options of {@link createOnnxFp16Backend}. */
export interface OnnxFp16BackendOptions {
  /** Most loaded sessions kept (least recently used are released); default 64. */
  readonly maxSessions?: number;
}

/** The `onnx-fp16` backend (see the module comment for what it runs and how). */
export class OnnxFp16Backend implements Backend {
  /** Backend name. */
  readonly name = "onnx-fp16";
  private readonly sessions = new Map<string, OnnxModel>();
  private readonly maxSessions: number;

  /** @param options cache size */
  constructor(options: OnnxFp16BackendOptions = {}) {
    this.maxSessions = options.maxSessions ?? 64;
  }

  /** Supported: the float ops that have a graph; every other op says why not. */
  supports(op: OpName, _params: ParamValues): Support {
    if (isGraphOp(op)) return "supported";
    return { unsupported: UNSUPPORTED[op] ?? "no ONNX graph for this op" };
  }

  private async session(op: GraphOp, dims: Dims, params: ResolvedParams, ctxLen: readonly number[]): Promise<OnnxModel> {
    const key = `${op}|${JSON.stringify(dims)}|${JSON.stringify(params)}|${ctxLen.join(",")}`;
    const hit = this.sessions.get(key);
    if (hit !== undefined) {
      this.sessions.delete(key);
      this.sessions.set(key, hit);
      return hit;
    }
    const model = await OnnxModel.create(op, buildOpGraph(op, dims, params, ctxLen));
    this.sessions.set(key, model);
    if (this.sessions.size > this.maxSessions) {
      const [oldKey, old] = this.sessions.entries().next().value as [string, OnnxModel];
      this.sessions.delete(oldKey);
      await old.dispose();
    }
    return model;
  }

  /** Run `op`: checks the call against the signature and the op's input rules, then runs its graph. */
  async run(op: OpName, inputs: NamedTensors, params: ParamValues = {}): Promise<NamedTensors> {
    const sig = getSignature(op);
    if (!isGraphOp(sig.name)) throw new UnsupportedError(`onnx-fp16 does not run ${op}: ${UNSUPPORTED[sig.name] ?? "no graph"}`);
    const gop = sig.name;
    const dims = bindInputs(sig, inputs);
    const resolved = resolveParams(sig, params);
    if (gop === "rmsnorm_quant" && !(Math.fround(resolved.eps as number) > 0)) {
      throw new ParamError("onnx-fp16: rmsnorm_quant needs eps > 0 in binary32 (SimplifiedLayerNormalization divides 0 by 0 on an all-zero row)");
    }
    validate(gop, inputs, dims);
    if (Object.values(dims).some((v) => v === 0)) throw new ShapeError(`onnx-fp16: ${op} with an empty dimension is not run`);
    const ctxLen = gop === "attention_kv4_decode" ? Array.from(inputs.ctx_len!.data as Int32Array) : [];
    const model = await this.session(gop, dims, resolved, ctxLen);
    const feeds: Record<string, OrtTensorData> = {};
    for (const [name, t] of Object.entries(inputs)) feeds[name] = toOrt(t);
    const raw = await model.run(feeds);
    const out: NamedTensors = {};
    for (const [name, o] of Object.entries(raw)) out[name] = fromOrt(o);
    if (gop === "rmsnorm_quant" || gop === "silu_mul_quant") return quantizeY(op, out.y!);
    return out;
  }

  /** Release every cached session. */
  async dispose(): Promise<void> {
    for (const m of this.sessions.values()) await m.dispose();
    this.sessions.clear();
  }
}

/** Create the `onnx-fp16` backend. */
export function createOnnxFp16Backend(options: OnnxFp16BackendOptions = {}): Backend {
  return new OnnxFp16Backend(options);
}
