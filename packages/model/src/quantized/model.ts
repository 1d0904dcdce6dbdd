/**
 * The W4A8KV4 forward pass of a LLaMA model (QServe's decoder layer, qoq-spec §9.2 item 8),
 * every op run through a {@link Backend} (`backend.run(op, inputs, params)`); the host does only
 * data movement (embedding gather, column splits, zero padding, page scatter) and the fp16
 * lm_head.
 *
 * Per decoder layer, for the T tokens of one step:
 * `h` (fp16) → `rmsnorm_quant(h, γ_attn)` → GEMM `qkv` (one fused GEMM, columns `[q | k | v]`) →
 * `rope` on q and on k (the model's style, table from `ropeTable` with the model's θ, positions =
 * absolute token index) → `quant_kv4` of the post-RoPE k and of v, scattered into the sequence's
 * 64-token pages → attention → `quant_act_int8` of its output → GEMM `o` → `residual_add` →
 * `rmsnorm_quant(h, γ_ffn)` → GEMM `gateUp` (columns `[gate | up]`) → `silu_mul_quant` → GEMM
 * `down` → `residual_add`. Attention: a forward() into an *empty* session is a prefill
 * (`attention_prefill`, causal over the fp16 q/k/v of all its tokens, T ≥ 1); a forward() into a
 * non-empty session feeds its tokens one by one as decode steps (`attention_kv4_decode`: the past
 * from the KV4 pages, the new token's own unquantized k/v).
 *
 * After the last layer: `rmsnorm_quant(h, γ_final)` (its binary16 output `y` is used; the codes
 * are not) and the binary16 lm_head: `logit_v = Σ_R32 f32(W[v,d] · y_d)` (binary32, the canonical
 * R32 order of `sumR32`; each product of two binary16 values is exact in binary32).
 *
 * GEMM dispatch by variant: `g128` → `gemm_w4a8_g128` (activation codes zero-padded to the
 * weight's padded K, see `quantize.ts`), `chn` → `gemm_w4a8_chn` (with the exact code sum
 * `qsum`), `w8a8` → `gemm_w8a8`. The W8A8 variant keeps the KV4 cache (the op registry has no
 * fp16-KV decode attention), so it is "W8A8KV4".
 * @module
 */
import {
  fromF16Bits,
  ParamError,
  R32_LANES,
  RangeViolationError,
  tensor,
  type Backend,
  type NamedTensors,
  type Tensor,
} from "@qoq/core";
import { createReferenceBackend, KV4_PAGE_SIZE, ropeTable } from "@qoq/reference";
import type { LlamaConfig } from "../config.js";
import { headDim } from "../config.js";
import type { LanguageModel, LayerHook, Session } from "../language_model.js";
import type { LlamaWeights } from "../weights.js";
import { Kv4PagedCache } from "./kv_cache.js";
import { padColumns, quantizeRtn, resolveQuantVariant, type QuantizedLinear, type QuantizedModel, type QuantVariant } from "./quantize.js";

/** Options of {@link createW4A8KV4Model}. */
export interface W4A8KV4Options {
  /** Weight format: `g128` (default), `chn` or `w8a8`. */
  readonly variant?: QuantVariant;
  /** Input channels per group for `g128` (default 128). */
  readonly group?: number;
  /** Backend that runs every op (default: a new reference backend). */
  readonly backend?: Backend;
  /**
   * Observer of the residual stream after each decoder layer (the binary16 `h` as binary32
   * values; see {@link LayerHook}); absent, no extra work is done.
   */
  readonly onLayer?: LayerHook;
  /** How a prefill's attention sees K/V (default `fp16`; see {@link PrefillKv}). */
  readonly prefillKv?: PrefillKv;
}

/**
 * How the attention of a prefill (the first forward() of a session) sees keys and values:
 * - `fp16` (default, as QServe's engine): `attention_prefill` over the step's own binary16 K/V;
 *   the KV4 pages are written for later decode steps but not read.
 * - `kv4`: the pages are written first, then every token attends exactly as a decode step at
 *   its position would — `attention_kv4_decode` with one "sequence" per token, all sharing the
 *   block table, `ctx_len` = its position — so the past is read back from KV4 and only the
 *   token's own K/V is unquantized. Logits equal those of feeding the tokens one at a time, bit
 *   for bit. Perplexity under `kv4` measures the KV4 cache's error, as fake-quantized evaluations
 *   (DeepCompressor's) do.
 */
export type PrefillKv = "fp16" | "kv4";

/** Options of {@link createQuantizedModel}. */
export interface QuantizedModelOptions {
  /** Observer of the residual stream after each decoder layer (see {@link LayerHook}). */
  readonly onLayer?: LayerHook;
  /** How a prefill's attention sees K/V (default `fp16`; see {@link PrefillKv}). */
  readonly prefillKv?: PrefillKv;
}

/** Label of a quantized model, e.g. `w4a8kv4-g128 (rtn) on reference`. */
export function quantizedLabel(q: Pick<QuantizedModel, "variant" | "group" | "method">, backendName: string): string {
  const v = q.variant === "g128" ? `w4a8kv4-g${q.group}` : q.variant === "chn" ? "w4a8kv4-chn" : "w8a8kv4";
  return `${v} (${q.method}) on ${backendName}`;
}

/**
 * `logits[v] = Σ_R32 f32(w[v·dim + d] · y[d])` for v < vocab: the R32 order of `sumR32`
 * (lane l adds terms l, l+32, … into a binary32 accumulator starting at +0, then the
 * xor-butterfly), written out for speed: each lane is one scalar chain over its terms, and the
 * butterfly is unrolled. Lanes without terms (dim < 32) stay +0; a lane is never −0 (it starts at
 * +0, and +0 + (−0) = +0), so this is the same sequence of binary32 operations as `sumR32`.
 */
export function lmHeadR32(w: Float32Array, y: Float32Array, vocab: number, dim: number, out: Float32Array, outOffset = 0): void {
  const f = Math.fround;
  const lanes = new Float64Array(R32_LANES);
  const used = Math.min(dim, R32_LANES);
  for (let v = 0; v < vocab; v++) {
    const o = v * dim;
    for (let l = 0; l < used; l++) {
      let acc = f(w[o + l]! * y[l]!) + 0; // f32(+0 + term): a −0 term gives +0
      for (let d = l + R32_LANES; d < dim; d += R32_LANES) acc = f(acc + f(w[o + d]! * y[d]!));
      lanes[l] = acc;
    }
    // The butterfly: lane l ← lane l + lane (l + off) for off = 16, 8 (in place), then 4, 2, 1 written out.
    for (let l = 0; l < 16; l++) lanes[l] = f(lanes[l]! + lanes[l + 16]!);
    for (let l = 0; l < 8; l++) lanes[l] = f(lanes[l]! + lanes[l + 8]!);
    const x0 = f(lanes[0]! + lanes[4]!);
    const x1 = f(lanes[1]! + lanes[5]!);
    const x2 = f(lanes[2]! + lanes[6]!);
    const x3 = f(lanes[3]! + lanes[7]!);
    out[outOffset + v] = f(f(x0 + x2) + f(x1 + x3));
  }
}

/** Binary16 bits → binary32 values. */
function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = fromF16Bits(bits[i]!);
  return out;
}

/** Columns [c0, c0 + width) of a row-major f16 [rows × cols] tensor, as a new tensor of `shape`. */
function sliceColumns(t: Tensor, rows: number, cols: number, c0: number, width: number, shape: readonly number[]): Tensor<"f16"> {
  const src = t.data as Uint16Array;
  const out = new Uint16Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * cols + c0, r * cols + c0 + width), r * width);
  return tensor("f16", shape, out);
}

/** Run one quantized linear layer on quantized activations (`q`, `scale`, `qsum` of T rows). */
async function gemm(backend: Backend, lin: QuantizedLinear, act: NamedTensors, rows: number): Promise<Tensor> {
  const xscale = act.scale!;
  switch (lin.variant) {
    case "g128": {
      const xq = tensor("i8", [rows, lin.kPadded], padColumns(act.q!.data as Int8Array, rows, lin.k, lin.kPadded));
      return (await backend.run("gemm_w4a8_g128", { xq, xscale, q: lin.q, zero: lin.zero, s2: lin.s2, s1: lin.s1 })).y!;
    }
    case "chn":
      return (await backend.run("gemm_w4a8_chn", { xq: act.q!, xscale, xqsum: act.qsum!, q: lin.q, zero: lin.zero, scale: lin.scale })).y!;
    case "w8a8":
      return (await backend.run("gemm_w8a8", { xq: act.q!, xscale, q: lin.q, scale: lin.scale })).y!;
  }
}

/** The W4A8KV4 model: a {@link LanguageModel} over a {@link QuantizedModel} and a backend. */
export class W4A8KV4Model implements LanguageModel {
  /** Its configuration. */
  readonly config: LlamaConfig;
  /** E.g. `w4a8kv4-g128 (rtn) on reference`. */
  readonly label: string;
  /** The backend every op runs on. */
  readonly backend: Backend;
  /** The paged KV4 cache shared by this model's sessions. */
  readonly cache: Kv4PagedCache;
  private readonly load: () => Promise<QuantizedModel>;
  private source: Promise<QuantizedModel> | undefined;
  private prepared: Promise<PreparedModel> | undefined;
  private nextSessionId = 0;
  private rope: { positions: number; cos: Tensor<"f32">; sin: Tensor<"f32"> } | undefined;
  /** Observer of the residual stream after each layer, if any (see {@link LayerHook}). */
  readonly onLayer: LayerHook | undefined;
  /** How a prefill's attention sees K/V (see {@link PrefillKv}). */
  readonly prefillKv: PrefillKv;

  /**
   * @param config the model's configuration
   * @param label its label
   * @param backend the backend of every op
   * @param load produces the quantized weights; called once, on the first forward() or
   *   {@link W4A8KV4Model.quantized} (so quantization through the backend runs lazily)
   * @param onLayer observer of the residual stream after each layer (see {@link LayerHook})
   * @param prefillKv how a prefill's attention sees K/V (default `fp16`; see {@link PrefillKv})
   */
  constructor(config: LlamaConfig, label: string, backend: Backend, load: () => Promise<QuantizedModel>, onLayer?: LayerHook, prefillKv: PrefillKv = "fp16") {
    if (prefillKv !== "fp16" && prefillKv !== "kv4") throw new ParamError(`prefillKv must be 'fp16' or 'kv4', got '${String(prefillKv)}'`);
    this.config = config;
    this.onLayer = onLayer;
    this.prefillKv = prefillKv;
    this.label = label;
    this.backend = backend;
    this.load = load;
    this.cache = new Kv4PagedCache(config.nLayers, config.nKvHeads, headDim(config));
  }

  /** The quantized weights (awaits the quantization on first use). */
  quantized(): Promise<QuantizedModel> {
    this.source ??= this.load();
    return this.source;
  }

  /** The quantized weights plus the host-side copies the forward pass needs (computed once). */
  prepare(): Promise<PreparedModel> {
    this.prepared ??= this.quantized().then((q) => ({ q, lmHead: f16ToF32(q.lmHead.data), emb: q.tokenEmbedding.data }));
    return this.prepared;
  }

  /** The RoPE table covering positions < `n` (rebuilt, doubled, when a sequence outgrows it). */
  ropeFor(n: number): { cos: Tensor<"f32">; sin: Tensor<"f32"> } {
    if (this.rope === undefined || this.rope.positions < n) {
      let positions = Math.max(this.rope?.positions ?? 0, this.config.seqLen, KV4_PAGE_SIZE);
      while (positions < n) positions *= 2;
      this.rope = { positions, ...ropeTable(positions, headDim(this.config), this.config.ropeTheta) };
    }
    return this.rope;
  }

  /** Start a new, empty sequence. */
  newSession(): W4A8KV4Session {
    return new W4A8KV4Session(this, this.nextSessionId++);
  }
}

/** What {@link W4A8KV4Model.prepare} gives the sessions. */
export interface PreparedModel {
  /** The quantized weights. */
  readonly q: QuantizedModel;
  /** The binary16 lm_head as binary32 values, [vocabSize × dim]. */
  readonly lmHead: Float32Array;
  /** The binary16 token embeddings (bits), [vocabSize × dim]. */
  readonly emb: Uint16Array;
}

/** One sequence of a {@link W4A8KV4Model}: its block table (pages) and length. */
export class W4A8KV4Session implements Session {
  /** Owner id of this session's pages in the model's cache. */
  readonly id: number;
  private readonly model: W4A8KV4Model;
  private readonly pageList: number[] = [];
  private len = 0;
  private busy = false;
  private disposed = false;

  /**
   * @param model the model
   * @param id owner id of its pages
   */
  constructor(model: W4A8KV4Model, id: number) {
    this.model = model;
    this.id = id;
  }

  /** Tokens in the cache so far. */
  get length(): number {
    return this.len;
  }

  /** Pages of this sequence, block 0 first (its block table). */
  get pages(): readonly number[] {
    return this.pageList;
  }

  /** Feed tokens; see the module comment for prefill vs decode. Returns one logits vector per token. */
  async forward(tokens: readonly number[]): Promise<Float32Array[]> {
    if (this.disposed) throw new ParamError("forward() on a disposed session");
    if (this.busy) throw new ParamError("forward() while another forward() of the same session is running");
    const v = this.model.config.vocabSize;
    tokens.forEach((t, i) => {
      if (!Number.isSafeInteger(t) || t < 0 || t >= v) throw new RangeViolationError("tokens", i, `token ${t} is outside the vocabulary [0, ${v})`);
    });
    if (tokens.length === 0) return [];
    this.busy = true;
    try {
      const p = await this.model.prepare();
      if (this.len === 0) return await this.step(p, tokens);
      const out: Float32Array[] = [];
      for (const t of tokens) out.push(...(await this.step(p, [t])));
      return out;
    } finally {
      this.busy = false;
    }
  }

  /** Free this sequence's pages (idempotent). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.cache.release(this.id, this.pageList);
    this.pageList.length = 0;
  }

  /** One forward step over `tokens` at positions len … len+T−1 (prefill when len = 0, else T = 1). */
  private async step(p: PreparedModel, tokens: readonly number[]): Promise<Float32Array[]> {
    const { backend, cache } = this.model;
    const c = this.model.config;
    const run = (op: Parameters<Backend["run"]>[0], inputs: NamedTensors, params?: Parameters<Backend["run"]>[2]) => backend.run(op, inputs, params);
    const T = tokens.length;
    const pos0 = this.len;
    const decode = pos0 > 0;
    const [dim, hq, hkv, hd] = [c.dim, c.nHeads, c.nKvHeads, headDim(c)];
    const qDim = hq * hd;
    const kvDim = hkv * hd;
    const eps = c.normEps;

    // Pages for the new positions, and where each token goes.
    while (this.pageList.length * KV4_PAGE_SIZE < pos0 + T) this.pageList.push(cache.allocate(this.id));
    const pages: number[] = [];
    const slots: number[] = [];
    const posData = new Int32Array(T);
    for (let t = 0; t < T; t++) {
      const pos = pos0 + t;
      posData[t] = pos;
      pages.push(this.pageList[pos >> 6]!);
      slots.push(pos & (KV4_PAGE_SIZE - 1));
    }
    const pos = tensor("i32", [T], posData);
    const { cos, sin } = this.model.ropeFor(pos0 + T);
    const style = c.ropeStyle;

    // Embedding lookup: binary16 rows.
    const hData = new Uint16Array(T * dim);
    for (let t = 0; t < T; t++) hData.set(p.emb.subarray(tokens[t]! * dim, (tokens[t]! + 1) * dim), t * dim);
    let h: Tensor = tensor("f16", [T, dim], hData);

    for (let l = 0; l < c.nLayers; l++) {
      const L = p.q.layers[l]!;
      const n1 = await run("rmsnorm_quant", { x: h, gamma: L.attnNorm }, { eps });
      const qkv = await gemm(backend, L.qkv, n1, T);
      const width = qDim + 2 * kvDim;
      const q = sliceColumns(qkv, T, width, 0, qDim, [T, hq, hd]);
      const k = sliceColumns(qkv, T, width, qDim, kvDim, [T, hkv, hd]);
      const v = sliceColumns(qkv, T, width, qDim + kvDim, kvDim, [T, hkv, hd]);
      const qr = (await run("rope", { x: q, pos, cos, sin }, { style })).y!;
      const kr = (await run("rope", { x: k, pos, cos, sin }, { style })).y!;
      const kq = await run("quant_kv4", { v: kr });
      const vq = await run("quant_kv4", { v });
      let o: Tensor;
      // The step's own rows go into the pages first: decode reads only positions < ctx_len, and a
      // kv4 prefill needs the earlier rows of the same step.
      cache.write(l, "k", kq.q!, kq.scale!, kq.min!, pages, slots);
      cache.write(l, "v", vq.q!, vq.scale!, vq.min!, pages, slots);
      if (!decode && this.model.prefillKv === "kv4") {
        // Every token as a decode step at its own position (see PrefillKv).
        const nb = this.pageList.length;
        const table = new Int32Array(T * nb);
        for (let t = 0; t < T; t++) table.set(this.pageList, t * nb);
        o = (
          await run("attention_kv4_decode", {
            q: qr,
            k: kr,
            v,
            ...cache.decodeInputs(l),
            block_table: tensor("i32", [T, nb], table),
            ctx_len: tensor("i32", [T], posData),
          })
        ).o!;
      } else if (!decode) {
        o = (await run("attention_prefill", { q: qr, k: kr, v })).o!;
      } else {
        // The past (positions < pos0) is read from the pages; the new token's own k/v unquantized.
        o = (
          await run("attention_kv4_decode", {
            q: qr,
            k: kr,
            v,
            ...cache.decodeInputs(l),
            block_table: tensor("i32", [1, this.pageList.length], Int32Array.from(this.pageList)),
            ctx_len: tensor("i32", [1], Int32Array.of(pos0)),
          })
        ).o!;
      }
      const a = await run("quant_act_int8", { x: tensor("f16", [T, qDim], o.data as Uint16Array) });
      const y = await gemm(backend, L.o, a, T);
      h = (await run("residual_add", { a: h, b: y })).y!;
      const n2 = await run("rmsnorm_quant", { x: h, gamma: L.ffnNorm }, { eps });
      const gu = await gemm(backend, L.gateUp, n2, T);
      const hid = c.hiddenDim;
      const gate = sliceColumns(gu, T, 2 * hid, 0, hid, [T, hid]);
      const up = sliceColumns(gu, T, 2 * hid, hid, hid, [T, hid]);
      const s = await run("silu_mul_quant", { gate, up });
      const d = await gemm(backend, L.down, s, T);
      h = (await run("residual_add", { a: h, b: d })).y!;
      if (this.model.onLayer !== undefined) this.model.onLayer(l, f16ToF32(h.data as Uint16Array));
    }
    const fin = (await run("rmsnorm_quant", { x: h, gamma: p.q.finalNorm }, { eps })).y!;
    const yAll = f16ToF32(fin.data as Uint16Array);
    const out: Float32Array[] = [];
    for (let t = 0; t < T; t++) {
      const logits = new Float32Array(c.vocabSize);
      lmHeadR32(p.lmHead, yAll.subarray(t * dim, (t + 1) * dim), c.vocabSize, dim, logits);
      out.push(logits);
    }
    this.len = pos0 + T;
    return out;
  }
}

/**
 * A W4A8KV4 model over already quantized weights (RTN here, the QoQ pipeline later), running its
 * ops on `backend` (default: the reference).
 */
export function createQuantizedModel(q: QuantizedModel, backend: Backend = createReferenceBackend(), opts: QuantizedModelOptions = {}): W4A8KV4Model {
  return new W4A8KV4Model(q.config, quantizedLabel(q, backend.name), backend, () => Promise.resolve(q), opts.onLayer, opts.prefillKv);
}

/**
 * The W4A8KV4 forward pass of `weights` with plain RTN weight quantization (no QoQ transforms):
 * variant `g128` (default, group `group`, default 128), `chn`, or `w8a8`; every op on `backend`
 * (default: the reference); `onLayer` observes the residual stream after each layer. The options are checked now (a `ParamError`); the weights are
 * quantized through the backend on the first forward(), and any error there (e.g. a malformed
 * weight) surfaces from that forward().
 */
export function createW4A8KV4Model(weights: LlamaWeights, opts: W4A8KV4Options = {}): W4A8KV4Model {
  const { variant, group } = resolveQuantVariant(opts);
  const backend = opts.backend ?? createReferenceBackend();
  const rtn = opts.group !== undefined ? { variant, group } : { variant };
  return new W4A8KV4Model(weights.config, quantizedLabel({ variant, group, method: "rtn" }, backend.name), backend, () => quantizeRtn(weights, backend, rtn), opts.onLayer, opts.prefillKv);
}
