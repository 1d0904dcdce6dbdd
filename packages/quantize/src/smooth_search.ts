/**
 * Grid searches for the smoothing exponents (the `grid` option of SmoothAttention and of output
 * smoothing; qoq-spec §4 and §5.2). Each candidate is scored on the kept calibration tokens of
 * the layer in float64, with the quantizers the deployed model applies there:
 * - SmoothAttention: candidates (α, β) = (0, 0), then (a, 0) and (a, 1 − a) for a = 1/20 … 19/20
 *   (DeepCompressor's GridSearch with β = −2); the score is the MSE of every head's causal
 *   attention output when the smoothed keys are KV4-quantized (per token and KV head, 4-bit
 *   asymmetric, as `quant_kv4` does but in float64), queries and values unquantized. λ commutes
 *   with RoPE, so the smoothed post-RoPE keys are the calibration keys divided by λ.
 * - Output smoothing (down_proj, o_proj): candidates (0, 0) (no smoothing), then α = 0, 0.05, …, 1
 *   with β = 1 − α; the
 *   score is the MSE of the layer's output when the smoothed weight is quantized by the
 *   variant's quantizer (on the reference) and the smoothed input by per-token INT8.
 * - Key-pair rotation (an extension, off by default): per KV head, coordinate descent over the angle
 *   of each RoPE pair; the score is that head's attention error with the q/k weights quantized too.
 * The smallest score wins; a tie keeps the earlier candidate.
 * @module
 */
import type { Backend } from "@qoq/core";
import { createReferenceBackend, runReference, smoothAttentionLambda, smoothLinearLambda } from "@qoq/reference";
import { headDim, llama2cRopeTable, quantizeLinear, type LlamaWeights, type QuantizedLinear } from "@qoq/model";
import type { KeptInputs, SiteMaxima } from "./calibration.js";
import type { SmoothAttentionSettings, SmoothOutputSettings } from "./transforms.js";
import { attentionPerWindow, windowsMse } from "./attention_f64.js";
import { mse } from "./clip.js";
import { ropePair, rotateRowPair, widths } from "./transforms.js";

/** Float64 KV4 fake quantization of a row of `n` values at `off` (4-bit asymmetric over the row's range). */
function fakeKv4(a: Float64Array, off: number, n: number): void {
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = 0; i < n; i++) {
    mn = Math.min(mn, a[off + i]!);
    mx = Math.max(mx, a[off + i]!);
  }
  const s = (mx - mn) / 15;
  if (!(s > 0)) return;
  for (let i = 0; i < n; i++) a[off + i] = Math.min(15, Math.max(0, Math.round((a[off + i]! - mn) / s))) * s + mn;
}



/** The SmoothAttention candidates: (0, 0), then (a, 0) and (a, 1 − a) for a = 1/20 … 19/20. */
export function smoothAttentionCandidates(): SmoothAttentionSettings[] {
  const out: SmoothAttentionSettings[] = [{ alpha: 0, beta: 0 }];
  for (let i = 1; i < 20; i++) out.push({ alpha: i / 20, beta: 0 }, { alpha: i / 20, beta: 1 - i / 20 });
  return out;
}

/**
 * The SmoothAttention exponents of one layer with the smallest KV4 attention error (see the
 * module comment). `qkv` holds the layer's kept post-RoPE queries, keys and values (T×width,
 * natural channel order, each kept window's attention on its own) from the unsmoothed model;
 * `m` its maxima.
 */
export function searchSmoothAttention(w: LlamaWeights, m: SiteMaxima, qkv: Pick<KeptInputs, "tokens" | "windowTokens" | "q" | "k" | "v">): SmoothAttentionSettings {
  const c = w.config;
  const { qDim, kvDim, hd } = widths(c);
  const [t, win] = [qkv.tokens, qkv.windowTokens];
  const q = Float64Array.from(qkv.q.subarray(0, t * qDim));
  const k = Float64Array.from(qkv.k.subarray(0, t * kvDim));
  const v = Float64Array.from(qkv.v.subarray(0, t * kvDim));
  const ref = attentionPerWindow(q, k, v, t, win, c.nHeads, c.nKvHeads, hd);
  let best = { alpha: 0, beta: 0 };
  let bestErr = Infinity;
  for (const cand of smoothAttentionCandidates()) {
    const lk = smoothAttentionLambda(m.k, m.q, c.nHeads, c.nKvHeads, hd, cand.alpha, cand.beta, c.ropeStyle);
    const group = c.nHeads / c.nKvHeads;
    const qs = q.map((x, i) => x * lk[Math.floor((i % qDim) / hd / group) * hd + (i % hd)]!);
    const ks = k.map((x, i) => x / lk[i % kvDim]!);
    for (let i = 0; i < t; i++) for (let g = 0; g < c.nKvHeads; g++) fakeKv4(ks, i * kvDim + g * hd, hd);
    const e = windowsMse(attentionPerWindow(qs, ks, v, t, win, c.nHeads, c.nKvHeads, hd), ref);
    if (e < bestErr) {
      bestErr = e;
      best = cand;
    }
  }
  return best;
}

/** Settings of the key-pair rotation search ({@link searchKeyRotation}). */
export interface KeyRotationSettings {
  /** Candidate angles per pair: `a·π/angles` for a = 0 … angles − 1 (a half turn suffices: turning by π only negates the pair). */
  readonly angles: number;
  /** Coordinate-descent sweeps over the pairs of a KV head. */
  readonly sweeps: number;
}

/** Default key-pair rotation search: 16 angles (11.25° apart), 2 sweeps. */
export const DEFAULT_KEY_ROTATION: KeyRotationSettings = { angles: 16, sweeps: 2 };

/**
 * The key-pair rotation of one layer (see `rotateKeyPairs`) with the smallest attention error
 * under the deployed quantizers: per KV head, coordinate descent over its RoPE pairs (pair 0 …
 * hd/2 − 1, `sweeps` times), each pair trying every candidate angle with the others fixed. The
 * score is the MSE, against the FP attention outputs of the head's query group, of attention
 * whose queries and keys come from the turned q/k_proj rows quantized by the variant's quantizer
 * (RTN, on `backend`) applied to per-token INT8 inputs, RoPE'd, and the keys then KV4-quantized
 * (as in {@link searchSmoothAttention}); values unquantized. Why the weights are in the score:
 * turning a pair mixes a large k_proj row into a small one, and the small row's weight error —
 * small before, and multiplied by a large query channel — grows to the large row's. Starts from
 * no rotation and keeps the current angle on a tie, so a head that gains nothing stays unturned.
 * `kept`: the layer's kept calibration inputs (each kept window's positions 0 …, attending
 * within its window). Returns the angle index
 * per (KV head, pair), KV head major: φ = index·π/angles.
 */
export async function searchKeyRotation(
  w: LlamaWeights,
  layer: number,
  kept: KeptInputs,
  variant: "g128" | "chn",
  group: number,
  backend: Backend = createReferenceBackend(),
  s: KeyRotationSettings = DEFAULT_KEY_ROTATION,
): Promise<Int32Array> {
  const pairs = headDim(w.config) / 2;
  const chosen = new Int32Array(w.config.nKvHeads * pairs);
  for (let g = 0; g < w.config.nKvHeads; g++) chosen.set(await searchKeyRotationGroup(w, layer, kept, g, variant, group, backend, s), g * pairs);
  return chosen;
}

/**
 * {@link searchKeyRotation} for KV head `g` alone: its pairs' angle indices. The KV heads'
 * searches are independent (each scores its own query group), so they can run in any order or
 * thread (the pipeline's `workers`).
 */
export async function searchKeyRotationGroup(
  w: LlamaWeights,
  layer: number,
  kept: Pick<KeptInputs, "tokens" | "windowTokens" | "attnIn" | "q" | "k" | "v">,
  g: number,
  variant: "g128" | "chn",
  group: number,
  backend: Backend = createReferenceBackend(),
  s: KeyRotationSettings = DEFAULT_KEY_ROTATION,
): Promise<Int32Array> {
  const c = w.config;
  const { qDim, kvDim, hd } = widths(c);
  const L = w.layers[layer]!;
  const [t, win] = [kept.tokens, kept.windowTokens];
  const heads = c.nHeads / c.nKvHeads;
  const pairs = hd / 2;
  const q = Float64Array.from(kept.q.subarray(0, t * qDim));
  const k = Float64Array.from(kept.k.subarray(0, t * kvDim));
  const v = Float64Array.from(kept.v.subarray(0, t * kvDim));
  const x = fakeActInt8(Float64Array.from(kept.attnIn.subarray(0, t * c.dim)), t, c.dim);
  const { cos, sin } = llama2cRopeTable(win, hd, c.ropeTheta);
  const idx = new Int32Array(pairs);
  const [h0, h1] = [g * heads, (g + 1) * heads];
  const ref = attentionPerWindow(q, k, v, t, win, c.nHeads, c.nKvHeads, hd, h0, h1);
  const qs = new Float64Array(t * qDim);
  const ks = new Float64Array(t * kvDim);
  // Pair p of this group at angle index a: its q/k_proj rows turned and quantized, x projected and RoPE'd into qs / ks.
  const place = async (p: number, a: number) => {
    const [ca, cb] = ropePair(c.ropeStyle, hd, p);
    const phi = (a * Math.PI) / s.angles;
    const [cs, sn] = [Math.cos(phi), Math.sin(phi)];
    // Rows: the key head's pair, then each query head's pair; [matrix, first row, column offset in qs/ks, width].
    const targets: [Float32Array, number, Float64Array, number, number][] = [[L.wk, g * hd, ks, g * hd, kvDim]];
    for (let h = h0; h < h1; h++) targets.push([L.wq, h * hd, qs, h * hd, qDim]);
    const rows = new Float64Array(targets.length * 2 * c.dim);
    targets.forEach(([m, r0], i) => {
      rows.set(m.subarray((r0 + ca) * c.dim, (r0 + ca + 1) * c.dim), 2 * i * c.dim);
      rows.set(m.subarray((r0 + cb) * c.dim, (r0 + cb + 1) * c.dim), (2 * i + 1) * c.dim);
      rotateRowPair(rows, c.dim, 2 * i, 2 * i + 1, cs, sn);
    });
    const deq = dequantized(await quantizeLinear(backend, Float32Array.from(rows), 2 * targets.length, c.dim, variant, group));
    const y = apply(deq, x, t, 2 * targets.length, c.dim);
    targets.forEach(([, , dst, col, width], i) => {
      for (let tok = 0; tok < t; tok++) {
        const [ya, yb] = [y[tok * 2 * targets.length + 2 * i]!, y[tok * 2 * targets.length + 2 * i + 1]!];
        // RoPE at the token's position within its window.
        const pos = tok % win;
        const [rc, rs] = [cos[pos * pairs + p]!, sin[pos * pairs + p]!];
        dst[tok * width + col + ca] = ya * rc - yb * rs;
        dst[tok * width + col + cb] = ya * rs + yb * rc;
      }
    });
  };
  const score = (): number => {
    const kq = Float64Array.from(ks);
    for (let i = 0; i < t; i++) fakeKv4(kq, i * kvDim + g * hd, hd);
    return windowsMse(attentionPerWindow(qs, kq, v, t, win, c.nHeads, c.nKvHeads, hd, h0, h1), ref);
  };
  for (let p = 0; p < pairs; p++) await place(p, 0);
  let best = score();
  for (let sweep = 0; sweep < s.sweeps; sweep++) {
    for (let p = 0; p < pairs; p++) {
      const keep = idx[p]!;
      let pick = keep;
      for (let a = 0; a < s.angles; a++) {
        if (a === keep) continue;
        await place(p, a);
        const e = score();
        if (e < best) {
          best = e;
          pick = a;
        }
      }
      idx[p] = pick;
      await place(p, pick);
    }
  }
  return idx;
}

/** Float64 per-token INT8 fake quantization of `x` (T×k). */
function fakeActInt8(x: Float64Array, t: number, k: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < t; i++) {
    let amax = 0;
    for (let j = 0; j < k; j++) amax = Math.max(amax, Math.abs(x[i * k + j]!));
    const s = amax / 127;
    for (let j = 0; j < k; j++) out[i * k + j] = s > 0 ? Math.round(x[i * k + j]! / s) * s : 0;
  }
  return out;
}

/** The dequantized float64 weight [n × k] of a quantized linear (padding dropped). */
function dequantized(lin: QuantizedLinear): Float64Array {
  let wf: Float32Array;
  let kk = lin.k;
  if (lin.variant === "g128") {
    wf = runReference("dequant_weight_g128", { q: lin.q, zero: lin.zero, s2: lin.s2, s1: lin.s1 }).w!.data as Float32Array;
    kk = lin.kPadded;
  } else if (lin.variant === "chn") {
    wf = runReference("dequant_weight_chn", { q: lin.q, zero: lin.zero, scale: lin.scale }).w!.data as Float32Array;
  } else {
    throw new Error("output smoothing search: w8a8 is not a QoQ variant");
  }
  const out = new Float64Array(lin.n * lin.k);
  for (let r = 0; r < lin.n; r++) for (let j = 0; j < lin.k; j++) out[r * lin.k + j] = wf[r * kk + j]!;
  return out;
}

/** `y = W·x` for every token: W n×k, x T×k → T×n, float64. */
function apply(wm: ArrayLike<number>, x: ArrayLike<number>, t: number, n: number, k: number): Float64Array {
  const y = new Float64Array(t * n);
  for (let i = 0; i < t; i++) {
    for (let r = 0; r < n; r++) {
      let d = 0;
      for (let j = 0; j < k; j++) d += wm[r * k + j]! * x[i * k + j]!;
      y[i * n + r] = d;
    }
  }
  return y;
}

/** The output-smoothing candidates: (0, 0) — λ = 1, no smoothing — then α = 0, 0.05, …, 1 with β = 1 − α. */
export function smoothOutputCandidates(): SmoothOutputSettings[] {
  return [{ alpha: 0, beta: 0 }, ...Array.from({ length: 21 }, (_, i) => ({ alpha: i / 20, beta: 1 - i / 20 }))];
}

/**
 * Search the output-smoothing exponents of one linear with the variant's quantizer: `weight`
 * n×k (binary32), inputs `x` (T×k), `lambdaOf` the λ per input channel for a candidate
 * (down_proj: `smooth_linear`'s formula; o_proj: the GQA-shared one).
 */
export async function searchSmoothOutput(
  weight: Float32Array,
  n: number,
  k: number,
  x: Float32Array,
  t: number,
  lambdaOf: (s: SmoothOutputSettings) => Float64Array,
  variant: "g128" | "chn",
  group: number,
  backend: Backend = createReferenceBackend(),
): Promise<SmoothOutputSettings> {
  const xs = x.subarray(0, t * k);
  const ref = apply(weight, xs, t, n, k);
  let best = smoothOutputCandidates()[0]!;
  let bestErr = Infinity;
  for (const cand of smoothOutputCandidates()) {
    const lam = lambdaOf(cand);
    const ws = new Float32Array(n * k);
    for (let r = 0; r < n; r++) for (let j = 0; j < k; j++) ws[r * k + j] = weight[r * k + j]! * lam[j]!;
    const xsm = new Float64Array(t * k);
    for (let i = 0; i < t; i++) for (let j = 0; j < k; j++) xsm[i * k + j] = xs[i * k + j]! / lam[j]!;
    const lin = await quantizeLinear(backend, ws, n, k, variant, group);
    const e = mse(apply(dequantized(lin), fakeActInt8(xsm, t, k), t, n, k), ref);
    if (e < bestErr) {
      bestErr = e;
      best = cand;
    }
  }
  return best;
}

/** down_proj's λ for a candidate: `smooth_linear`'s formula on the layer's W and input maxima. */
export function downLambda(w: LlamaWeights, layer: number, m: SiteMaxima): (s: SmoothOutputSettings) => Float64Array {
  const c = w.config;
  return (s) => smoothLinearLambda(w.layers[layer]!.w2, c.dim, c.hiddenDim, m.down_in, s.alpha, s.beta);
}

