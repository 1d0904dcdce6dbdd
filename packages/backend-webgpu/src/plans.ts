/**
 * How each op runs on the GPU: which WGSL kernel, how the logical input tensors are laid out in
 * storage buffers (the backend's own packed formats; the logical tensors stay the reference's),
 * the kernel's scalar parameters and the dispatch grid. Every output is one u32 word per element
 * (binary16 bits, sign-extended integers or binary32 bits) between guard regions.
 * @module
 */
import { gemvPlan } from "./gemv.js";
import { hadamardBlockSize } from "@qoq/reference";
import { UnsupportedError, type Dims, type DType, type NamedTensors, type OpName, type ResolvedParams, type Tensor } from "@qoq/core";

/** Everything the backend needs to dispatch one op. */
export interface KernelPlan {
  /** Kernel file in `kernels/wgsl/`. */
  readonly kernel: string;
  /** Extra WGSL files included before the kernel. */
  readonly includes: readonly string[];
  /** Input buffers, bound at bindings 1 … n in order. */
  readonly inputs: readonly Uint32Array[];
  /** Output tensors, bound after the inputs in order. */
  readonly outputs: readonly { readonly name: string; readonly dtype: DType; readonly shape: readonly number[] }[];
  /** Scalar parameters n0 … n6 of the `Params` uniform. */
  readonly params: readonly number[];
  /** Workgroups in x and y. */
  readonly grid: readonly [number, number];
  /** Words of a scratch buffer bound after the outputs (not read back), if the kernel needs one. */
  readonly scratch?: number;
  /**
   * Several dispatches in order (one compute pass, so each sees the previous one's writes) instead
   * of the one of `kernel`/`includes`/`grid`; they share the parameters and the buffers.
   */
  readonly passes?: readonly KernelPass[];
  /**
   * False: compose this kernel without subgroup operations even where the backend uses them
   * (measured slower with them; the backend option `subgroups: "all"` still uses them).
   */
  readonly subgroups?: boolean;
}

/** One dispatch of a multi-dispatch {@link KernelPlan}. */
export interface KernelPass {
  /** Kernel file in `kernels/wgsl/`. */
  readonly kernel: string;
  /** Extra WGSL files included before the kernel. */
  readonly includes: readonly string[];
  /** Workgroups in x and y. */
  readonly grid: readonly [number, number];
  /**
   * The bindings (after the uniform at 0) this kernel declares: inputs 1 … n, then the outputs,
   * then the scratch buffer. A pipeline's automatic layout has only the bindings its kernel uses,
   * so its bind group must name exactly these.
   */
  readonly bindings: readonly number[];
  /** As {@link KernelPlan.subgroups}, for this dispatch. */
  readonly subgroups?: boolean;
}

/** Largest workgroup count per grid dimension (WebGPU's default limit). */
export const MAX_GROUPS = 65535;

/** A 2-D grid of `groups` workgroups (kernels index them as `wid.x + wid.y · nw.x`). */
export function grid1d(groups: number): [number, number] {
  if (groups <= 0) return [0, 0];
  const x = Math.min(groups, MAX_GROUPS);
  const y = Math.ceil(groups / x);
  if (y > MAX_GROUPS) throw new UnsupportedError(`webgpu: ${groups} workgroups exceed the ${MAX_GROUPS}² grid`);
  return [x, y];
}

/** The raw bytes of a tensor as u32 words (zero-padded to a whole word, at least one word). */
export function words(t: Tensor): Uint32Array {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint32Array(Math.max(1, Math.ceil(bytes.length / 4)));
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** INT8/UINT8 rows of `k` bytes repacked with a row stride of `⌈k/4⌉` words, zero-padded. */
export function rowWords(data: Int8Array | Uint8Array, rows: number, k: number): { words: Uint32Array; kw: number } {
  const kw = Math.ceil(k / 4);
  const out = new Uint32Array(Math.max(1, rows * kw));
  const bytes = new Uint8Array(out.buffer);
  const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  for (let r = 0; r < rows; r++) bytes.set(src.subarray(r * k, (r + 1) * k), r * kw * 4);
  return { words: out, kw };
}

/**
 * Several input buffers as one (a kernel with more inputs than WebGPU's default of 8 storage
 * buffers per shader stage allows): word `t` of the result is the word offset of part `t`, the
 * parts follow the header in order.
 */
export function arena(parts: readonly Uint32Array[]): Uint32Array {
  const offsets: number[] = [];
  let at = parts.length;
  for (const p of parts) {
    offsets.push(at);
    at += p.length;
  }
  const out = new Uint32Array(at);
  out.set(offsets);
  parts.forEach((p, t) => out.set(p, offsets[t]!));
  return out;
}

const ROW_WG = (rows: number) => grid1d(rows);
const ELEM_WG = (n: number) => grid1d(Math.ceil(n / 64));

/** The plan of `op` for validated inputs, or `undefined` when the op has no kernel. */
export function planFor(op: OpName, inputs: NamedTensors, params: ResolvedParams, dims: Dims): KernelPlan | undefined {
  const I = inputs;
  switch (op) {
    case "residual_add": {
      const n = dims.M! * dims.K!;
      return { kernel: "residual_add.wgsl", includes: [], inputs: [words(I.a!), words(I.b!)], outputs: [{ name: "y", dtype: "f16", shape: [dims.M!, dims.K!] }], params: [n], grid: ELEM_WG(n) };
    }
    case "quant_act_int8": {
      const [m, k] = [dims.M!, dims.K!];
      return {
        kernel: "quant_act_int8.wgsl",
        includes: [],
        inputs: [words(I.x!)],
        outputs: [
          { name: "q", dtype: "i8", shape: [m, k] },
          { name: "scale", dtype: "f16", shape: [m] },
          { name: "qsum", dtype: "i32", shape: [m] },
        ],
        params: [m, k],
        grid: ROW_WG(m),
      };
    }
    case "rmsnorm_quant":
    case "silu_mul_quant": {
      const [m, k] = [dims.M!, dims.K!];
      const ins = op === "rmsnorm_quant" ? [words(I.x!), words(I.gamma!)] : [words(I.gate!), words(I.up!)];
      const eps = new Uint32Array(new Float32Array([op === "rmsnorm_quant" ? (params.eps as number) : 0]).buffer)[0]!;
      return {
        kernel: `${op}.wgsl`,
        includes: ["act_quant_tail.wgsl"],
        inputs: ins,
        outputs: [
          { name: "y", dtype: "f16", shape: [m, k] },
          { name: "q", dtype: "i8", shape: [m, k] },
          { name: "scale", dtype: "f16", shape: [m] },
          { name: "qsum", dtype: "i32", shape: [m] },
        ],
        params: [m, k, eps],
        grid: ROW_WG(m),
      };
    }
    case "gemm_w8a8":
    case "gemm_w4a8_chn":
    case "gemm_w4a8_g128": {
      const [m, n, k] = [dims.M!, dims.N!, dims.K!];
      if (op !== "gemm_w8a8") {
        // The packed kernel (gemv.ts) whenever it applies; the byte-per-code kernels below otherwise.
        const packed = gemvPlan(op, I, dims);
        if (packed !== undefined) return packed;
      }
      if (m > MAX_GROUPS) throw new UnsupportedError(`webgpu ${op}: M = ${m} exceeds ${MAX_GROUPS} rows per dispatch`);
      const x = rowWords(I.xq!.data as Int8Array, m, k);
      const w = rowWords(I.q!.data as Int8Array | Uint8Array, n, k);
      const out = [{ name: "y", dtype: "f16" as const, shape: [m, n] }];
      const grid: [number, number] = [Math.ceil(n / 64), m];
      if (op === "gemm_w8a8") return { kernel: "gemm_w8a8.wgsl", includes: ["epilogue.wgsl"], inputs: [x.words, words(I.xscale!), w.words, words(I.scale!)], outputs: out, params: [m, n, x.kw], grid };
      if (op === "gemm_w4a8_chn") {
        return { kernel: "gemm_w4a8_chn.wgsl", includes: ["epilogue.wgsl"], inputs: [x.words, words(I.xscale!), words(I.xqsum!), w.words, words(I.zero!), words(I.scale!)], outputs: out, params: [m, n, x.kw], grid };
      }
      const g = dims.G!;
      const zs = new Uint32Array(Math.max(1, n * g));
      const z = I.zero!.data as Uint8Array;
      const s2 = I.s2!.data as Uint8Array;
      for (let i = 0; i < n * g; i++) zs[i] = z[i]! | (s2[i]! << 8);
      return { kernel: "gemm_w4a8_g128.wgsl", includes: ["epilogue.wgsl"], inputs: [x.words, words(I.xscale!), w.words, zs, words(I.s1!)], outputs: out, params: [m, n, x.kw, k, g === 0 ? 1 : k / g, Math.max(g, 1)], grid };
    }
    case "quant_kv4": {
      const [t, h, d] = [dims.T!, dims.H!, dims.D!];
      return {
        kernel: "quant_kv4.wgsl",
        includes: [],
        inputs: [words(I.v!)],
        outputs: [
          { name: "q", dtype: "u8", shape: [t, h, d] },
          { name: "scale", dtype: "f16", shape: [t, h] },
          { name: "min", dtype: "f16", shape: [t, h] },
        ],
        params: [d === 0 ? 0 : t * h, d],
        grid: ROW_WG(d === 0 ? 0 : t * h),
      };
    }
    case "dequant_kv4": {
      const [t, h, d] = [dims.T!, dims.H!, dims.D!];
      const n = t * h * d;
      return { kernel: "dequant_kv4.wgsl", includes: [], inputs: [words(I.q!), words(I.scale!), words(I.min!)], outputs: [{ name: "v", dtype: "f32", shape: [t, h, d] }], params: [n, Math.max(d, 1)], grid: ELEM_WG(n) };
    }
    case "rope": {
      const [t, h, d] = [dims.T!, dims.H!, dims.D!];
      const pairs = (t * h * d) / 2;
      return {
        kernel: "rope.wgsl",
        includes: [],
        inputs: [words(I.x!), words(I.pos!), words(I.cos!), words(I.sin!)],
        outputs: [{ name: "y", dtype: "f16", shape: [t, h, d] }],
        params: [pairs, h, d, params.style === "interleaved" ? 1 : 0],
        grid: ELEM_WG(pairs),
      };
    }
    case "dequant_weight_g128": {
      const [n, k, g] = [dims.N!, dims.K!, dims.G!];
      const e = n * k;
      return {
        kernel: "dequant_weight_g128.wgsl",
        includes: [],
        inputs: [words(I.q!), words(I.zero!), words(I.s2!), words(I.s1!)],
        outputs: [
          { name: "w8", dtype: "i8", shape: [n, k] },
          { name: "w", dtype: "f32", shape: [n, k] },
        ],
        params: [e, Math.max(k, 1), g === 0 ? 1 : k / g, g],
        grid: ELEM_WG(e),
      };
    }
    case "dequant_weight_chn": {
      const [n, k] = [dims.N!, dims.K!];
      return { kernel: "dequant_weight_chn.wgsl", includes: [], inputs: [words(I.q!), words(I.zero!), words(I.scale!)], outputs: [{ name: "w", dtype: "f32", shape: [n, k] }], params: [n * k, Math.max(k, 1)], grid: ELEM_WG(n * k) };
    }
    case "quant_weight_int8": {
      const [n, k] = [dims.N!, dims.K!];
      return {
        kernel: "quant_weight_int8.wgsl",
        includes: [],
        inputs: [words(I.w!)],
        outputs: [
          { name: "q", dtype: "i8", shape: [n, k] },
          { name: "scale", dtype: "f16", shape: [n] },
        ],
        params: [n, k],
        grid: ROW_WG(n),
      };
    }
    case "quant_weight_g128": {
      const [n, k] = [dims.N!, dims.K!];
      const gs = params.group as number;
      const g = k / gs;
      return {
        kernel: "quant_weight_g128.wgsl",
        includes: [],
        inputs: [words(I.w!)],
        outputs: [
          { name: "q", dtype: "u8", shape: [n, k] },
          { name: "zero", dtype: "u8", shape: [n, g] },
          { name: "s2", dtype: "u8", shape: [n, g] },
          { name: "s1", dtype: "f16", shape: [n] },
        ],
        params: [n, k, gs, g],
        grid: ROW_WG(n),
      };
    }
    case "quant_weight_chn": {
      const [n, k] = [dims.N!, dims.K!];
      const ratio = I.ratio;
      return {
        kernel: "quant_weight_chn.wgsl",
        includes: [],
        inputs: [words(I.w!), ratio ? words(ratio) : new Uint32Array(1)],
        outputs: [
          { name: "q", dtype: "u8", shape: [n, k] },
          { name: "zero", dtype: "u8", shape: [n] },
          { name: "scale", dtype: "f16", shape: [n] },
        ],
        params: [n, k, ratio ? 1 : 0],
        grid: ROW_WG(n),
      };
    }
    case "attention_prefill": {
      const [t, hq, hkv, d] = [dims.T!, dims.HQ!, dims.HKV!, dims.D!];
      return {
        kernel: "attention_prefill.wgsl",
        includes: ["attention_core.wgsl"],
        inputs: [words(I.q!), words(I.k!), words(I.v!)],
        outputs: [{ name: "o", dtype: "f16", shape: [t, hq, d] }],
        params: [t, hq, hkv, d],
        grid: ROW_WG(t * hq),
        scratch: t * hq * t,
      };
    }
    case "attention_kv4_decode":
      return kv4DecodePlan(I, dims);
    case "reorder_channels": {
      const [n, k] = [dims.N!, dims.K!];
      const dtype = I.w!.dtype;
      const prev = I.prev;
      const c = prev === undefined ? 0 : dims.C!;
      const outputs = [
        { name: "w", dtype, shape: [n, k] },
        { name: "perm", dtype: "i32" as const, shape: [k] },
        ...(prev === undefined ? [] : [{ name: "prev", dtype, shape: [k, c] }]),
      ];
      return {
        kernel: "reorder_channels.wgsl",
        includes: [],
        inputs: [words(I.w!), words(I.xmax!), prev === undefined ? new Uint32Array(1) : words(prev)],
        outputs,
        params: [k, n, c, dtype === "f64" ? 2 : 1, prev === undefined ? 0 : 1],
        grid: ELEM_WG(k),
        // Without prev, the kernel's prev output binding is a scratch word it never writes.
        ...(prev === undefined ? { scratch: 1 } : {}),
      };
    }
    case "hadamard_rotate": {
      const [r, c] = [dims.R!, dims.C!];
      const input = params.side === "input";
      const [nvec, n] = input ? [r, c] : [c, r];
      const b = hadamardBlockSize(n);
      const nblk = Math.floor(n / b);
      // Words 0–1: 1/√b as the reference computes it; then the weight as binary64 (binary32 widens exactly).
      const x = new Float64Array(1 + r * c);
      x[0] = 1 / Math.sqrt(b);
      x.set(I.w!.data as Float32Array | Float64Array, 1);
      const dtype = I.w!.dtype;
      return {
        kernel: "hadamard_rotate.wgsl",
        includes: ["f64.wgsl"],
        inputs: [new Uint32Array(x.buffer)],
        outputs: [{ name: "w", dtype, shape: [r, c] }],
        params: [nvec * nblk, nblk, b, input ? c : 1, input ? 1 : c, dtype === "f64" ? 1 : 0],
        grid: ELEM_WG(nvec * nblk),
        scratch: Math.max(1, 2 * r * c),
      };
    }
    case "clip_search": {
      const [n, k, t] = [dims.N!, dims.K!, dims.T!];
      const ms = new Uint32Array(new Float64Array([params.max_shrink as number]).buffer);
      return {
        kernel: "clip_search.wgsl",
        includes: ["f64.wgsl"],
        inputs: [words(I.w!), words(I.x!)],
        outputs: [
          { name: "ratio", dtype: "f32", shape: [n] },
          { name: "err", dtype: "f64", shape: [n] },
        ],
        params: [n, k, t, params.grid as number, ms[0]!, ms[1]!],
        grid: ROW_WG(n),
      };
    }
    case "smooth_linear": {
      const [n, k, c] = [dims.N!, dims.K!, dims.C!];
      const dtype = I.w!.dtype;
      return smoothingPlan(
        ["smooth_linear_bases.wgsl", [1, 3, 7]],
        ["smooth_linear_apply.wgsl", [1, 2, 4, 5, 6, 7]],
        k,
        k,
        {
          inputs: [f64Words(I.w!), f64Words(I.prev!), f64Words(I.xmax!, [params.alpha as number, params.beta as number])],
          outputs: [
            { name: "w", dtype, shape: [n, k] },
            { name: "prev", dtype, shape: [k, c] },
            { name: "lambda", dtype: "f64", shape: [k] },
          ],
          params: [k, n, c, dtype === "f64" ? 1 : 0],
        },
      );
    }
    case "smooth_attention": {
      const [nq, nk, c] = [dims.NQ!, dims.NK!, dims.C!];
      const [heads, kvHeads] = [params.heads as number, params.kv_heads as number];
      const [alpha, beta] = [params.alpha as number, params.beta as number];
      const d = nk / kvHeads;
      const dtype = I.wq!.dtype;
      // qmax only when β ≠ 0: with β = 0 the reference does not consult it (qbase^0 = 1).
      const maxima = beta === 0 ? [I.kmax!] : [I.kmax!, I.qmax!];
      return smoothingPlan(
        ["smooth_attention_bases.wgsl", [3, 7]],
        ["smooth_attention_apply.wgsl", [1, 2, 4, 5, 6, 7]],
        nk,
        nq + nk,
        {
          inputs: [f64Words(I.wq!), f64Words(I.wk!), f64Words(maxima, [alpha, beta])],
          outputs: [
            { name: "wq", dtype, shape: [nq, c] },
            { name: "wk", dtype, shape: [nk, c] },
            { name: "lambda", dtype: "f64", shape: [nk] },
          ],
          params: [nk, d, heads / kvHeads, c, params.style === "interleaved" ? 1 : 0, beta === 0 ? 0 : 1, dtype === "f64" ? 1 : 0],
        },
      );
    }
    default:
      return undefined;
  }
}

/**
 * Float tensors, one after the other, as binary64 words (binary32 widens exactly), after the
 * binary64 values of `header`; at least two words.
 */
export function f64Words(t: Tensor | readonly Tensor[], header: readonly number[] = []): Uint32Array {
  const parts = (Array.isArray(t) ? t : [t]) as readonly Tensor[];
  const out = new Float64Array(Math.max(1, parts.reduce((n, p) => n + p.data.length, header.length)));
  out.set(header);
  let at = header.length;
  for (const p of parts) {
    out.set(p.data as Float32Array | Float64Array, at);
    at += p.data.length;
  }
  return new Uint32Array(out.buffer);
}

/**
 * The three dispatches of a smoothing transform: `bases` writes the bases of every channel's
 * λ = a^α / b^β into the scratch (one invocation per channel), `smoothing_pow.wgsl` raises them
 * (one invocation per base; the one pipeline with the emulated pow, shared by both ops), `apply`
 * divides the powers and scales the weights (`applyItems` invocations). Each is given with the
 * bindings it declares; the scratch is the binding after the three inputs and three outputs.
 */
function smoothingPlan(
  bases: readonly [string, readonly number[]],
  apply: readonly [string, readonly number[]],
  channels: number,
  applyItems: number,
  io: Pick<KernelPlan, "inputs" | "outputs" | "params">,
): KernelPlan {
  const f64 = ["f64.wgsl"];
  const passes: KernelPass[] = [
    { kernel: bases[0], includes: f64, grid: ELEM_WG(channels), bindings: bases[1] },
    { kernel: "smoothing_pow.wgsl", includes: ["f64.wgsl", "f64_pow.wgsl"], grid: ELEM_WG(2 * channels), bindings: [7] },
    { kernel: apply[0], includes: f64, grid: ELEM_WG(applyItems), bindings: apply[1] },
  ];
  return { ...io, kernel: bases[0], includes: f64, grid: passes[0]!.grid, scratch: 4 + 8 * channels, passes };
}

/**
 * The ops whose kernels call the subgroup helpers (`subgroup_on.wgsl` / `subgroup_off.wgsl`): the
 * ones a test must run with subgroups on and off.
 */
export const SUBGROUP_OPS: readonly OpName[] = ["rmsnorm_quant", "silu_mul_quant", "quant_act_int8", "quant_kv4", "gemm_w4a8_g128", "gemm_w4a8_chn", "attention_kv4_decode"];

/** Largest head dimension of the three-dispatch KV4 decode (its scores kernel stages q in 4 KiB of workgroup memory). */
export const KV4_SPLIT_MAX_D = 1024;

/**
 * The plan of `attention_kv4_decode`. `"split"` (the default where it applies: D ≤
 * {@link KV4_SPLIT_MAX_D} and grids within limits): three dispatches, scores in parallel over keys
 * (`attention_kv4_scores.wgsl`), the max and e_j (`attention_kv4_exp.wgsl`), the R32 sums with
 * their 32 lanes in parallel (`attention_kv4_pv.wgsl`). `"single"`: the one-dispatch kernel
 * (`attention_kv4_decode.wgsl`, one workgroup per query head). Both are bit-exact.
 */
export function kv4DecodePlan(I: NamedTensors, dims: Dims, variant: "split" | "single" | "auto" = "auto"): KernelPlan {
  const [b, hq, hkv, d, nb] = [dims.B!, dims.HQ!, dims.HKV!, dims.D!, dims.NB!];
  const ctx = I.ctx_len!.data as Int32Array;
  const maxLen = ctx.reduce((a, x) => Math.max(a, x), 0) + 1;
  const inputs = [arena(["q", "k", "v", "k_cache", "k_scale", "k_min", "v_cache", "v_scale", "v_min", "block_table", "ctx_len"].map((n) => words(I[n]!)))];
  const outputs = [{ name: "o", dtype: "f16" as const, shape: [b, hq, d] }];
  const g = hkv === 0 ? 0 : hq / hkv;
  const nblk = Math.ceil(maxLen / 64);
  const batches = Math.ceil(g / 4);
  const fits = d <= KV4_SPLIT_MAX_D && nblk <= MAX_GROUPS && b * hkv * batches <= MAX_GROUPS && b * hq <= MAX_GROUPS && Math.ceil(maxLen / 256) <= MAX_GROUPS;
  if (variant === "single" || (variant === "auto" && !fits)) {
    return { kernel: "attention_kv4_decode.wgsl", includes: ["attention_core.wgsl"], inputs, outputs, params: [b, hq, hkv, d, nb, maxLen], grid: ROW_WG(b * hq), scratch: b * hq * maxLen };
  }
  if (!fits) throw new UnsupportedError(`webgpu attention_kv4_decode: the split kernels need D ≤ ${KV4_SPLIT_MAX_D} and grids within ${MAX_GROUPS}`);
  const inc = ["kv4_cache.wgsl"];
  // subgroups: false: on an H100 (Dawn, Vulkan) the subgroup variant was never faster and up to 3.5× slower (docs/perf/webgpu.md, runs 6 and 8).
  const passes: KernelPass[] = [
    { kernel: "attention_kv4_scores.wgsl", includes: inc, grid: b === 0 ? [0, 0] : [nblk, b * hkv], bindings: [1, 3], subgroups: false },
    { kernel: "attention_kv4_exp.wgsl", includes: inc, grid: b * hq === 0 ? [0, 0] : [Math.ceil(maxLen / 256), b * hq], bindings: [1, 3], subgroups: false },
    { kernel: "attention_kv4_pv.wgsl", includes: inc, grid: b * hkv * batches === 0 ? [0, 0] : [Math.ceil(d / 8), b * hkv * batches], bindings: [1, 2, 3], subgroups: false },
  ];
  const first = passes[0]!;
  return { kernel: first.kernel, includes: first.includes, grid: first.grid, inputs, outputs, params: [b, hq, hkv, d, nb, maxLen, nblk], scratch: b * hq * maxLen + b * hq * nblk, passes, subgroups: false };
}
