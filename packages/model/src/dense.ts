/**
 * Unquantized forward passes of a LLaMA-family decoder: FP32 and FP16, one token at a time with
 * a KV cache, following llama2.c `run.c`'s `forward()` operation by operation.
 *
 * **FP32** ("plain binary32"): every + − × ÷ √ is one binary32 operation (`Math.fround` of the
 * double result, i.e. IEEE round-to-nearest-even, no FMA); `exp`, `cos`, `sin`, `pow` are the
 * host's double functions rounded to binary32 (like `expf`/`cosf`/`powf` in C, up to a last-bit
 * difference of the libm). Fixed orders:
 * - matrix–vector products `y_r = Σ_j W[r][j]·x[j]` accumulate `acc = f32(acc + f32(W·x))` from
 *   j = 0 upwards, starting at +0;
 * - RMSNorm: `ss = Σ f32(x_j²)` in order, `ss = f32(ss/dim)`, `ss = f32(ss + f32(ε))`,
 *   `r = f32(1/f32(√ss))`, `y_j = f32(γ_j · f32(r · x_j))`;
 * - RoPE like llama2.c: for frequency i (0 ≤ i < hd/2), `freq = f32(1/f32(θ^f32(2i/hd)))`,
 *   `angle = f32(pos·freq)`, `c = f32(cos angle)`, `s = f32(sin angle)`, pair (a, b) →
 *   `(f32(f32(a·c) − f32(b·s)), f32(f32(a·s) + f32(b·c)))`; the pair is channels (2i, 2i+1) for
 *   `interleaved` and (i, i + hd/2) for `rotate_half`;
 * - attention score `f32(f32(q·k) / f32(√hd))` with q·k summed in *pair order* (for each
 *   frequency i, the first then the second channel of the pair: 0,1,2,3,… for interleaved;
 *   0, hd/2, 1, hd/2+1, … for rotate_half) — so a model and its interleaved→rotate_half
 *   permutation give bit-identical logits;
 * - softmax over positions 0…pos: max, `e_t = f32(exp(f32(s_t − max)))`, `sum` in order,
 *   `p_t = f32(e_t / sum)`; output `o_i = Σ_t f32(p_t · v_t,i)` accumulated in order of t;
 * - SwiGLU: `g = f32(g · f32(1 / f32(1 + f32(exp(−g)))))`, then `f32(g · u)`;
 * - residual adds `f32(x + y)`; the KV cache holds binary32 values (after RoPE for keys).
 *
 * **FP16**: the same algorithm and orders, with every weight (embedding, norms γ, all matrices,
 * classifier) rounded to binary16 once (`f16` of core, nearest even) and every activation that
 * an op outputs rounded to binary16: the embedding row; each RMSNorm output; q, k, v; q and k
 * after RoPE (the KV cache therefore holds binary16 values); each attention score; each softmax
 * probability; each head's attention output; the o_proj output; each residual sum; gate and up;
 * SiLU(gate); SiLU(gate)·up; the down_proj output; the final norm output; the logits. Inside an
 * op everything is binary32 as in FP32 (accumulators, ss and r of RMSNorm, e_t and the sum of
 * softmax, the RoPE products). Binary16 overflow becomes ±∞ (IEEE), as in an FP16 GPU kernel.
 * @module
 */
import { f16, ParamError, RangeViolationError } from "@qoq/core";
import type { LlamaConfig } from "./config.js";
import type { ActivationHook, LanguageModel, LayerHook, LayerHookOptions, Session } from "./language_model.js";
import { validateWeights } from "./validate.js";
import type { LayerWeights, LlamaWeights } from "./weights.js";

/** The arithmetic of a dense forward pass. */
export type DensePrecision = "fp32" | "fp16";


/**
 * Round each of the first `n` binary32 values of `a` to binary16 (nearest even), in place; `u`
 * must be a Uint32Array view of the same memory. Equals `f16` of core on every value (the normal
 * range is done on the bits, the rest by `f16`).
 */
export function roundF16InPlace(a: Float32Array, u: Uint32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const bits = u[i]!;
    const e = (bits >>> 23) & 0xff;
    if (e >= 113 && e <= 141) {
      // 2^-14 ≤ |x| < 2^15: keep 10 of the 23 fraction bits, ties to even; a carry into the
      // exponent is the correct result (at most 2^15, still finite in binary16).
      u[i] = ((bits + 0xfff + ((bits >>> 13) & 1)) & ~0x1fff) >>> 0;
    } else {
      a[i] = f16(a[i]!);
    }
  }
}

/** `f16` of every element, into a new array. */
function f16Copy(a: Float32Array): Float32Array {
  const out = Float32Array.from(a);
  roundF16InPlace(out, new Uint32Array(out.buffer), out.length);
  return out;
}

/** y = W·x, rows × cols, each row accumulated in binary32 from column 0 upwards. */
function matvec(out: Float32Array, w: Float32Array, x: Float32Array, rows: number, cols: number): void {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const o0 = r * cols;
    const o1 = o0 + cols;
    const o2 = o1 + cols;
    const o3 = o2 + cols;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let j = 0; j < cols; j++) {
      const xj = x[j]!;
      a0 = Math.fround(a0 + Math.fround(w[o0 + j]! * xj));
      a1 = Math.fround(a1 + Math.fround(w[o1 + j]! * xj));
      a2 = Math.fround(a2 + Math.fround(w[o2 + j]! * xj));
      a3 = Math.fround(a3 + Math.fround(w[o3 + j]! * xj));
    }
    out[r] = a0;
    out[r + 1] = a1;
    out[r + 2] = a2;
    out[r + 3] = a3;
  }
  for (; r < rows; r++) {
    const o = r * cols;
    let a = 0;
    for (let j = 0; j < cols; j++) a = Math.fround(a + Math.fround(w[o + j]! * x[j]!));
    out[r] = a;
  }
}

/**
 * Y[t] = W·X[t] for T tokens (X [T][cols], Y [T][rows]); every output is accumulated exactly as
 * {@link matvec} does (binary32, column 0 upwards) — tiles of 4 rows × 4 tokens only interleave
 * independent accumulators, they never reorder one.
 */
function matmul(out: Float32Array, w: Float32Array, X: Float32Array, T: number, rows: number, cols: number): void {
  let t = 0;
  for (; t + 4 <= T; t += 4) {
    const x0 = t * cols;
    const x1 = x0 + cols;
    const x2 = x1 + cols;
    const x3 = x2 + cols;
    const y0 = t * rows;
    const y1 = y0 + rows;
    const y2 = y1 + rows;
    const y3 = y2 + rows;
    let r = 0;
    for (; r + 4 <= rows; r += 4) {
      const o0 = r * cols;
      const o1 = o0 + cols;
      const o2 = o1 + cols;
      const o3 = o2 + cols;
      let a00 = 0;
      let a01 = 0;
      let a02 = 0;
      let a03 = 0;
      let a10 = 0;
      let a11 = 0;
      let a12 = 0;
      let a13 = 0;
      let a20 = 0;
      let a21 = 0;
      let a22 = 0;
      let a23 = 0;
      let a30 = 0;
      let a31 = 0;
      let a32 = 0;
      let a33 = 0;
      for (let j = 0; j < cols; j++) {
        const w0 = w[o0 + j]!;
        const w1 = w[o1 + j]!;
        const w2 = w[o2 + j]!;
        const w3 = w[o3 + j]!;
        const v0 = X[x0 + j]!;
        const v1 = X[x1 + j]!;
        const v2 = X[x2 + j]!;
        const v3 = X[x3 + j]!;
        a00 = Math.fround(a00 + Math.fround(w0 * v0));
        a01 = Math.fround(a01 + Math.fround(w0 * v1));
        a02 = Math.fround(a02 + Math.fround(w0 * v2));
        a03 = Math.fround(a03 + Math.fround(w0 * v3));
        a10 = Math.fround(a10 + Math.fround(w1 * v0));
        a11 = Math.fround(a11 + Math.fround(w1 * v1));
        a12 = Math.fround(a12 + Math.fround(w1 * v2));
        a13 = Math.fround(a13 + Math.fround(w1 * v3));
        a20 = Math.fround(a20 + Math.fround(w2 * v0));
        a21 = Math.fround(a21 + Math.fround(w2 * v1));
        a22 = Math.fround(a22 + Math.fround(w2 * v2));
        a23 = Math.fround(a23 + Math.fround(w2 * v3));
        a30 = Math.fround(a30 + Math.fround(w3 * v0));
        a31 = Math.fround(a31 + Math.fround(w3 * v1));
        a32 = Math.fround(a32 + Math.fround(w3 * v2));
        a33 = Math.fround(a33 + Math.fround(w3 * v3));
      }
      out[y0 + r] = a00;
      out[y1 + r] = a01;
      out[y2 + r] = a02;
      out[y3 + r] = a03;
      out[y0 + r + 1] = a10;
      out[y1 + r + 1] = a11;
      out[y2 + r + 1] = a12;
      out[y3 + r + 1] = a13;
      out[y0 + r + 2] = a20;
      out[y1 + r + 2] = a21;
      out[y2 + r + 2] = a22;
      out[y3 + r + 2] = a23;
      out[y0 + r + 3] = a30;
      out[y1 + r + 3] = a31;
      out[y2 + r + 3] = a32;
      out[y3 + r + 3] = a33;
    }
    for (; r < rows; r++) {
      const o = r * cols;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let j = 0; j < cols; j++) {
        const wj = w[o + j]!;
        a0 = Math.fround(a0 + Math.fround(wj * X[x0 + j]!));
        a1 = Math.fround(a1 + Math.fround(wj * X[x1 + j]!));
        a2 = Math.fround(a2 + Math.fround(wj * X[x2 + j]!));
        a3 = Math.fround(a3 + Math.fround(wj * X[x3 + j]!));
      }
      out[y0 + r] = a0;
      out[y1 + r] = a1;
      out[y2 + r] = a2;
      out[y3 + r] = a3;
    }
  }
  for (; t < T; t++) matvec(out.subarray(t * rows, (t + 1) * rows), w, X.subarray(t * cols, (t + 1) * cols), rows, cols);
}

function rmsnorm(out: Float32Array, x: Float32Array, g: Float32Array, n: number, eps: number): void {
  let ss = 0;
  for (let j = 0; j < n; j++) ss = Math.fround(ss + Math.fround(x[j]! * x[j]!));
  ss = Math.fround(ss / n);
  ss = Math.fround(ss + eps);
  const r = Math.fround(1 / Math.fround(Math.sqrt(ss)));
  for (let j = 0; j < n; j++) out[j] = Math.fround(g[j]! * Math.fround(r * x[j]!));
}

/**
 * The RoPE table as llama2.c computes it, [positions][hd/2] each for cos and sin:
 * `freq_i = f32(1 / f32(θ^f32(2i/hd)))`, `angle = f32(p · freq_i)`, `cos = f32(cos angle)`.
 */
export function llama2cRopeTable(positions: number, hd: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = hd / 2;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let i = 0; i < half; i++) {
    const freq = Math.fround(1 / Math.fround(Math.pow(Math.fround(theta), Math.fround((2 * i) / hd))));
    for (let p = 0; p < positions; p++) {
      const angle = Math.fround(p * freq);
      cos[p * half + i] = Math.fround(Math.cos(angle));
      sin[p * half + i] = Math.fround(Math.sin(angle));
    }
  }
  return { cos, sin };
}

/** An FP32 or FP16 dense LLaMA model (see the module comment for the exact arithmetic). */
export class DenseLlamaModel implements LanguageModel {
  /** Its configuration. */
  readonly config: LlamaConfig;
  /** `fp32` or `fp16`. */
  readonly label: string;
  /** The arithmetic. */
  readonly precision: DensePrecision;
  private readonly emb: Float32Array;
  private readonly layers: readonly LayerWeights[];
  private readonly finalNorm: Float32Array;
  private readonly cls: Float32Array;
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;
  private readonly pairA: Int32Array;
  private readonly pairB: Int32Array;
  private readonly eps: number;
  private readonly onLayer: LayerHook | undefined;
  private readonly onActivation: ActivationHook | undefined;

  /**
   * @param weights FP32 weights (validated: shapes and finiteness); for `fp16` they are rounded
   *   to binary16 into a private copy, the caller's arrays are never modified.
   * @param precision `fp32` (default) or `fp16`
   * @param opts `onLayer`: observer of the residual stream after each layer (see {@link LayerHook})
   */
  constructor(weights: LlamaWeights, precision: DensePrecision = "fp32", opts: LayerHookOptions = {}) {
    validateWeights(weights);
    this.onLayer = opts.onLayer;
    this.onActivation = opts.onActivation;
    const c = weights.config;
    this.config = c;
    this.precision = precision;
    this.label = precision;
    const conv = precision === "fp16" ? f16Copy : (a: Float32Array) => a;
    this.emb = conv(weights.tokenEmbedding);
    this.cls = weights.classifier === weights.tokenEmbedding ? this.emb : conv(weights.classifier);
    this.finalNorm = conv(weights.finalNorm);
    this.layers = weights.layers.map((l) => ({
      attnNorm: conv(l.attnNorm),
      wq: conv(l.wq),
      wk: conv(l.wk),
      wv: conv(l.wv),
      wo: conv(l.wo),
      ffnNorm: conv(l.ffnNorm),
      w1: conv(l.w1),
      w2: conv(l.w2),
      w3: conv(l.w3),
    }));
    const hd = c.dim / c.nHeads;
    const half = hd / 2;
    ({ cos: this.cos, sin: this.sin } = llama2cRopeTable(c.seqLen, hd, c.ropeTheta));
    this.pairA = new Int32Array(half);
    this.pairB = new Int32Array(half);
    for (let i = 0; i < half; i++) {
      this.pairA[i] = c.ropeStyle === "interleaved" ? 2 * i : i;
      this.pairB[i] = c.ropeStyle === "interleaved" ? 2 * i + 1 : i + half;
    }
    this.eps = Math.fround(c.normEps);
  }

  /**
   * Start a new sequence with an empty KV cache (seqLen positions; keys stored in pair order,
   * i.e. channel 2i = pair i's first channel, 2i+1 its second, so the q·k sum is a contiguous loop).
   */
  newSession(): Session {
    const c = this.config;
    const kvDim = (c.nKvHeads * c.dim) / c.nHeads;
    const kc = this.layers.map(() => new Float32Array(c.seqLen * kvDim));
    const vc = this.layers.map(() => new Float32Array(c.seqLen * kvDim));
    let pos = 0;
    let disposed = false;
    return {
      forward: (tokens: readonly number[]): Promise<Float32Array[]> => {
        if (disposed) return Promise.reject(new ParamError("session was disposed"));
        try {
          for (let i = 0; i < tokens.length; i++) {
            const t = tokens[i]!;
            if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new RangeViolationError("tokens", i, `token id ${t} is outside [0, ${c.vocabSize})`);
          }
          if (pos + tokens.length > c.seqLen) throw new ParamError(`context overflow: ${pos} positions used + ${tokens.length} new tokens exceed seqLen ${c.seqLen}`);
          const out = tokens.length === 0 ? [] : this.run(tokens, pos, kc, vc);
          pos += tokens.length;
          return Promise.resolve(out);
        } catch (e) {
          return Promise.reject(e);
        }
      },
      dispose: () => {
        disposed = true;
        kc.length = 0;
        vc.length = 0;
      },
    };
  }

  private round(a: Float32Array, n: number): void {
    if (this.precision === "fp16") roundF16InPlace(a, new Uint32Array(a.buffer, a.byteOffset, n), n);
  }

  /**
   * Tokens at positions pos0 … pos0+T−1, layer by layer for all of them (each token's values are
   * computed exactly as a one-token-at-a-time pass would: batching only interleaves independent work).
   */
  private run(tokens: readonly number[], pos0: number, kc: Float32Array[], vc: Float32Array[]): Float32Array[] {
    const c = this.config;
    const T = tokens.length;
    const dim = c.dim;
    const hd = dim / c.nHeads;
    const half = hd / 2;
    const kvDim = c.nKvHeads * hd;
    const kvMul = c.nHeads / c.nKvHeads;
    const hid = c.hiddenDim;
    const cos = this.cos;
    const sin = this.sin;
    const pa = this.pairA;
    const pb = this.pairB;
    const scale = Math.fround(Math.sqrt(hd));
    const x = new Float32Array(T * dim);
    const xb = new Float32Array(T * dim);
    const q = new Float32Array(T * dim);
    const k = new Float32Array(T * kvDim);
    const v = new Float32Array(T * kvDim);
    const ao = new Float32Array(T * dim);
    const hb = new Float32Array(T * hid);
    const hb2 = new Float32Array(T * hid);
    const att = new Float32Array(pos0 + T);
    const qh = new Float32Array(hd);

    for (let t = 0; t < T; t++) x.set(this.emb.subarray(tokens[t]! * dim, (tokens[t]! + 1) * dim), t * dim);
    for (let l = 0; l < this.layers.length; l++) {
      const L = this.layers[l]!;
      const kcache = kc[l]!;
      const vcache = vc[l]!;
      for (let t = 0; t < T; t++) rmsnorm(xb.subarray(t * dim), x.subarray(t * dim), L.attnNorm, dim, this.eps);
      this.round(xb, T * dim);
      this.onActivation?.(l, "attn_in", xb, T, dim);
      matmul(q, L.wq, xb, T, dim, dim);
      matmul(k, L.wk, xb, T, kvDim, dim);
      matmul(v, L.wv, xb, T, kvDim, dim);
      this.round(q, T * dim);
      this.round(k, T * kvDim);
      this.round(v, T * kvDim);
      // RoPE on every query head and key head, each token at its own position.
      for (let t = 0; t < T; t++) {
        const rowOff = (pos0 + t) * half;
        for (let h = 0; h < c.nHeads; h++) {
          const qb = t * dim + h * hd;
          const kb = t * kvDim + h * hd;
          const kh = h < c.nKvHeads;
          for (let i = 0; i < half; i++) {
            const cs = cos[rowOff + i]!;
            const sn = sin[rowOff + i]!;
            let a = q[qb + pa[i]!]!;
            let b = q[qb + pb[i]!]!;
            q[qb + pa[i]!] = Math.fround(Math.fround(a * cs) - Math.fround(b * sn));
            q[qb + pb[i]!] = Math.fround(Math.fround(a * sn) + Math.fround(b * cs));
            if (kh) {
              a = k[kb + pa[i]!]!;
              b = k[kb + pb[i]!]!;
              k[kb + pa[i]!] = Math.fround(Math.fround(a * cs) - Math.fround(b * sn));
              k[kb + pb[i]!] = Math.fround(Math.fround(a * sn) + Math.fround(b * cs));
            }
          }
        }
      }
      this.round(q, T * dim);
      this.round(k, T * kvDim);
      if (this.onActivation !== undefined) {
        this.onActivation(l, "q", q, T, dim);
        this.onActivation(l, "k", k, T, kvDim);
        this.onActivation(l, "v", v, T, kvDim);
      }
      // Cache: keys in pair order (a_0, b_0, a_1, b_1, …) per head, values as they are.
      for (let t = 0; t < T; t++) {
        const dst = (pos0 + t) * kvDim;
        for (let h = 0; h < c.nKvHeads; h++) {
          for (let i = 0; i < half; i++) {
            kcache[dst + h * hd + 2 * i] = k[t * kvDim + h * hd + pa[i]!]!;
            kcache[dst + h * hd + 2 * i + 1] = k[t * kvDim + h * hd + pb[i]!]!;
          }
        }
        vcache.set(v.subarray(t * kvDim, (t + 1) * kvDim), dst);
      }
      // Attention, one token and one query head at a time.
      for (let t = 0; t < T; t++) {
        const pos = pos0 + t;
        for (let h = 0; h < c.nHeads; h++) {
          const qo = t * dim + h * hd;
          const ko = Math.floor(h / kvMul) * hd;
          for (let i = 0; i < half; i++) {
            qh[2 * i] = q[qo + pa[i]!]!;
            qh[2 * i + 1] = q[qo + pb[i]!]!;
          }
          // q·k for 4 positions at once (4 independent accumulators, each summed in pair order).
          let s0 = 0;
          for (; s0 + 4 <= pos + 1; s0 += 4) {
            const k0 = s0 * kvDim + ko;
            const k1 = k0 + kvDim;
            const k2 = k1 + kvDim;
            const k3 = k2 + kvDim;
            let d0 = 0;
            let d1 = 0;
            let d2 = 0;
            let d3 = 0;
            for (let i = 0; i < hd; i++) {
              const qi = qh[i]!;
              d0 = Math.fround(d0 + Math.fround(qi * kcache[k0 + i]!));
              d1 = Math.fround(d1 + Math.fround(qi * kcache[k1 + i]!));
              d2 = Math.fround(d2 + Math.fround(qi * kcache[k2 + i]!));
              d3 = Math.fround(d3 + Math.fround(qi * kcache[k3 + i]!));
            }
            att[s0] = Math.fround(d0 / scale);
            att[s0 + 1] = Math.fround(d1 / scale);
            att[s0 + 2] = Math.fround(d2 / scale);
            att[s0 + 3] = Math.fround(d3 / scale);
          }
          for (let s = s0; s <= pos; s++) {
            const kb = s * kvDim + ko;
            let dot = 0;
            for (let i = 0; i < hd; i++) dot = Math.fround(dot + Math.fround(qh[i]! * kcache[kb + i]!));
            att[s] = Math.fround(dot / scale);
          }
          this.round(att, pos + 1);
          let max = -Infinity;
          for (let s = 0; s <= pos; s++) if (att[s]! > max) max = att[s]!;
          let sum = 0;
          for (let s = 0; s <= pos; s++) {
            const e = Math.fround(Math.exp(Math.fround(att[s]! - max)));
            att[s] = e;
            sum = Math.fround(sum + e);
          }
          for (let s = 0; s <= pos; s++) att[s] = Math.fround(att[s]! / sum);
          this.round(att, pos + 1);
          const oo = t * dim + h * hd;
          // o_i = Σ_s p_s·v_s,i in order of s, 4 channels at a time in local accumulators (hd is even;
          // a tail of 2 channels when hd % 4 = 2).
          let i0 = 0;
          for (; i0 + 4 <= hd; i0 += 4) {
            let o0 = 0;
            let o1 = 0;
            let o2 = 0;
            let o3 = 0;
            for (let s = 0, vb = ko + i0; s <= pos; s++, vb += kvDim) {
              const p = att[s]!;
              o0 = Math.fround(o0 + Math.fround(p * vcache[vb]!));
              o1 = Math.fround(o1 + Math.fround(p * vcache[vb + 1]!));
              o2 = Math.fround(o2 + Math.fround(p * vcache[vb + 2]!));
              o3 = Math.fround(o3 + Math.fround(p * vcache[vb + 3]!));
            }
            ao[oo + i0] = o0;
            ao[oo + i0 + 1] = o1;
            ao[oo + i0 + 2] = o2;
            ao[oo + i0 + 3] = o3;
          }
          for (; i0 < hd; i0 += 2) {
            let o0 = 0;
            let o1 = 0;
            for (let s = 0, vb = ko + i0; s <= pos; s++, vb += kvDim) {
              const p = att[s]!;
              o0 = Math.fround(o0 + Math.fround(p * vcache[vb]!));
              o1 = Math.fround(o1 + Math.fround(p * vcache[vb + 1]!));
            }
            ao[oo + i0] = o0;
            ao[oo + i0 + 1] = o1;
          }
        }
      }
      this.round(ao, T * dim);
      this.onActivation?.(l, "o_in", ao, T, dim);
      matmul(xb, L.wo, ao, T, dim, dim);
      this.round(xb, T * dim);
      for (let j = 0; j < T * dim; j++) x[j] = Math.fround(x[j]! + xb[j]!);
      this.round(x, T * dim);
      // Feed-forward: w2(silu(w1·x) ⊙ w3·x).
      for (let t = 0; t < T; t++) rmsnorm(xb.subarray(t * dim), x.subarray(t * dim), L.ffnNorm, dim, this.eps);
      this.round(xb, T * dim);
      this.onActivation?.(l, "ffn_in", xb, T, dim);
      matmul(hb, L.w1, xb, T, hid, dim);
      matmul(hb2, L.w3, xb, T, hid, dim);
      this.round(hb, T * hid);
      this.round(hb2, T * hid);
      for (let i = 0; i < T * hid; i++) {
        const g = hb[i]!;
        hb[i] = Math.fround(g * Math.fround(1 / Math.fround(1 + Math.fround(Math.exp(-g)))));
      }
      this.round(hb, T * hid);
      for (let i = 0; i < T * hid; i++) hb[i] = Math.fround(hb[i]! * hb2[i]!);
      this.round(hb, T * hid);
      this.onActivation?.(l, "down_in", hb, T, hid);
      matmul(xb, L.w2, hb, T, dim, hid);
      this.round(xb, T * dim);
      for (let j = 0; j < T * dim; j++) x[j] = Math.fround(x[j]! + xb[j]!);
      this.round(x, T * dim);
      if (this.onLayer !== undefined) this.onLayer(l, x.slice());
    }
    for (let t = 0; t < T; t++) rmsnorm(xb.subarray(t * dim), x.subarray(t * dim), this.finalNorm, dim, this.eps);
    this.round(xb, T * dim);
    const logits = new Float32Array(T * c.vocabSize);
    matmul(logits, this.cls, xb, T, c.vocabSize, dim);
    this.round(logits, T * c.vocabSize);
    const out: Float32Array[] = [];
    for (let t = 0; t < T; t++) out.push(logits.subarray(t * c.vocabSize, (t + 1) * c.vocabSize));
    return out;
  }
}

/**
 * The FP32 forward pass of `weights` (see the module comment); `opts.onLayer` observes the
 * residual stream after each layer (see {@link LayerHook}).
 */
export function createFp32Model(weights: LlamaWeights, opts: LayerHookOptions = {}): LanguageModel {
  return new DenseLlamaModel(weights, "fp32", opts);
}

/**
 * The FP16 forward pass of `weights`: binary16 weights and activations, binary32 accumulation;
 * `opts.onLayer` as for {@link createFp32Model}.
 */
export function createFp16Model(weights: LlamaWeights, opts: LayerHookOptions = {}): LanguageModel {
  return new DenseLlamaModel(weights, "fp16", opts);
}
