/**
 * The offline QoQ transforms, each exact for the FP model's function (up to float64 rounding),
 * applied in place to {@link Fp64Weights} (qoq-spec §4–§5). Where an op of the registry states
 * the transform (`hadamard_rotate`, `smooth_attention`, `smooth_linear`), it is run on the
 * reference, so the pipeline and the op's spec are one definition; the GQA-aware o_proj
 * smoothing and the reorderings use the reference's exported formulas (`smoothingFactor`,
 * `reorderPermutation`) directly, because one v_proj row feeds several o_proj columns there.
 * @module
 */
import { ParamError, tensor, type Tensor } from "@qoq/core";
import { headDim, type LlamaConfig } from "@qoq/model";
import { reorderPermutation, runReference, smoothingFactor } from "@qoq/reference";
import type { SiteMaxima } from "./calibration.js";
import type { Fp64Weights } from "./fp64.js";

const f64 = (data: Float64Array, rows: number, cols: number): Tensor<"f64"> => tensor("f64", [rows, cols], data);
const f32 = (data: Float64Array): Tensor<"f32"> => tensor("f32", [data.length], Float32Array.from(data));
const out64 = (t: Tensor | undefined): Float64Array => t!.data as Float64Array;

/** Multiply column j of the row-major `rows`×`cols` matrix `w` by `s[j]`, in place. */
function scaleColumns(w: Float64Array, rows: number, cols: number, s: Float64Array): void {
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) w[r * cols + j]! *= s[j]!;
}

/**
 * Fold every RMSNorm γ into the linears that read the norm's output (q/k/v after the attention
 * norm, gate/up after the FFN norm, the classifier after the final norm) and set γ to 1:
 * `W·diag(γ)·x̂ = (W·diag(γ))·x̂`. Needed before {@link rotateResidual}, since RMSNorm commutes
 * with a rotation only when γ is uniform.
 */
export function foldNorms(w: Fp64Weights): void {
  const { dim, vocabSize } = w.config;
  const hd = headDim(w.config);
  const kvDim = w.config.nKvHeads * hd;
  for (const L of w.layers) {
    scaleColumns(L.wq, w.config.nHeads * hd, dim, L.attnNorm);
    scaleColumns(L.wk, kvDim, dim, L.attnNorm);
    scaleColumns(L.wv, kvDim, dim, L.attnNorm);
    scaleColumns(L.w1, w.config.hiddenDim, dim, L.ffnNorm);
    scaleColumns(L.w3, w.config.hiddenDim, dim, L.ffnNorm);
    L.attnNorm.fill(1);
    L.ffnNorm.fill(1);
  }
  scaleColumns(w.classifier, vocabSize, dim, w.finalNorm);
  w.finalNorm.fill(1);
}

/** True if every RMSNorm γ of the model is exactly 1. */
export function normsFolded(w: Fp64Weights): boolean {
  const ones = (a: Float64Array) => a.every((x) => x === 1);
  return ones(w.finalNorm) && w.layers.every((L) => ones(L.attnNorm) && ones(L.ffnNorm));
}

/**
 * Rotate the residual stream by the `hadamard_rotate` op's H (normalized Sylvester Hadamard for
 * a power-of-two `dim`, block-diagonal `I_m ⊗ H_{2^a}` otherwise — see that op): with the
 * residual row vector `x' = x·H`, the embedding becomes `E·H`, every reader of the residual
 * (q/k/v, gate/up, classifier) `W·H`, every writer (o_proj, down_proj) `Hᵀ·W`. RMSNorm keeps
 * ‖x‖, so with γ folded first ({@link foldNorms}) the model's function is unchanged.
 */
export function rotateResidual(w: Fp64Weights): void {
  const c = w.config;
  const hd = headDim(c);
  const input = (m: Float64Array, rows: number) => {
    m.set(out64(runReference("hadamard_rotate", { w: f64(m, rows, c.dim) }, { side: "input" }).w));
  };
  const output = (m: Float64Array, cols: number) => {
    m.set(out64(runReference("hadamard_rotate", { w: f64(m, c.dim, cols) }, { side: "output" }).w));
  };
  input(w.tokenEmbedding, c.vocabSize);
  input(w.classifier, c.vocabSize);
  for (const L of w.layers) {
    input(L.wq, c.nHeads * hd);
    input(L.wk, c.nKvHeads * hd);
    input(L.wv, c.nKvHeads * hd);
    input(L.w1, c.hiddenDim);
    input(L.w3, c.hiddenDim);
    output(L.wo, c.nHeads * hd);
    output(L.w2, c.hiddenDim);
  }
}

/**
 * Rotate the values of every KV head by the `hadamard_rotate` op's H of the head dimension
 * (DeepCompressor dc01's `out_proj` rotation, qoq-spec §5.1): v_proj's rows of KV head g become
 * `Hᵀ·Wv_g`, so each value is `v' = Hᵀ·v`, and o_proj's columns of every query head h of that
 * group become `Wo_h·H`. Attention output is linear in the values (`o_h = Σ_j p_j·v_j`), so
 * `Wo_h·H·Hᵀ·o_h = Wo_h·o_h`: exact, offline, and the KV4 cache then quantizes values whose
 * outlier channels are spread over the head.
 */
export function rotateHeads(w: Fp64Weights): void {
  const c = w.config;
  const hd = headDim(c);
  const qDim = c.nHeads * hd;
  for (const L of w.layers) {
    for (let g = 0; g < c.nKvHeads; g++) {
      const rows = L.wv.subarray(g * hd * c.dim, (g + 1) * hd * c.dim);
      rows.set(out64(runReference("hadamard_rotate", { w: f64(Float64Array.from(rows), hd, c.dim) }, { side: "output" }).w));
    }
    // Every KV head gets the same H, so every query head's o_proj columns (h·hd … (h+1)·hd) get H too, whichever KV head it reads.
    for (let h = 0; h < c.nHeads; h++) {
      const block = new Float64Array(c.dim * hd);
      for (let r = 0; r < c.dim; r++) for (let j = 0; j < hd; j++) block[r * hd + j] = L.wo[r * qDim + h * hd + j]!;
      const rotated = out64(runReference("hadamard_rotate", { w: f64(block, c.dim, hd) }, { side: "input" }).w);
      for (let r = 0; r < c.dim; r++) for (let j = 0; j < hd; j++) L.wo[r * qDim + h * hd + j] = rotated[r * hd + j]!;
    }
  }
}

/** Settings of {@link smoothAttentionLayer}. */
export interface SmoothAttentionSettings {
  /** Exponent of max|K| (default 0.5). */
  readonly alpha: number;
  /** Exponent of max|Q| (default 0). */
  readonly beta: number;
}

/**
 * SmoothAttention of one layer through the `smooth_attention` op: λ from the post-RoPE key
 * (and, when β ≠ 0, query) maxima, equal on each RoPE pair of the model's style, per KV head;
 * q_proj rows ×λ, k_proj rows ÷λ. Returns λ.
 */
export function smoothAttentionLayer(w: Fp64Weights, layer: number, m: SiteMaxima, s: SmoothAttentionSettings): Float64Array {
  const c = w.config;
  const hd = headDim(c);
  const L = w.layers[layer]!;
  const inputs = { wq: f64(L.wq, c.nHeads * hd, c.dim), wk: f64(L.wk, c.nKvHeads * hd, c.dim), kmax: f32(m.k), ...(s.beta !== 0 ? { qmax: f32(m.q) } : {}) };
  const r = runReference("smooth_attention", inputs, { heads: c.nHeads, kv_heads: c.nKvHeads, alpha: s.alpha, beta: s.beta, style: c.ropeStyle });
  L.wq.set(out64(r.wq));
  L.wk.set(out64(r.wk));
  return out64(r.lambda);
}

/** The two channels of RoPE pair `p` in a head of `hd` channels: `(2p, 2p + 1)` interleaved, `(p, p + hd/2)` rotate-half. */
export function ropePair(style: LlamaConfig["ropeStyle"], hd: number, p: number): [number, number] {
  return style === "interleaved" ? [2 * p, 2 * p + 1] : [p, p + hd / 2];
}

/** Rotate rows `r0` and `r1` of the row-major `cols`-wide matrix `m` by φ: `[r0; r1] ← [cos −sin; sin cos]·[r0; r1]`. */
export function rotateRowPair(m: Float64Array, cols: number, r0: number, r1: number, cos: number, sin: number): void {
  for (let j = 0; j < cols; j++) {
    const a = m[r0 * cols + j]!;
    const b = m[r1 * cols + j]!;
    m[r0 * cols + j] = cos * a - sin * b;
    m[r1 * cols + j] = sin * a + cos * b;
  }
}

/**
 * Key-pair rotation of one layer (an extension, not in QServe or DeepCompressor; off by default):
 * the rows of RoPE pair p of k_proj's KV head g, and of q_proj's every query head of g's group,
 * turn by the same angle `angles[g·hd/2 + p]` (radians). Exact: a 2-D rotation commutes with
 * RoPE's rotation of the pair, and a common rotation of q and k keeps q·k, so every attention
 * score is unchanged. Why: SmoothAttention may only scale a pair (its two channels mix under
 * RoPE), but a pair whose key energy sits in one channel — a low-frequency pair that RoPE barely
 * turns — sets the KV4 range of the whole head; turning it spreads that energy over both
 * channels. A scaled rotation (a complex λ) is the most general linear map of a pair that
 * commutes with every RoPE rotation, so with SmoothAttention's scale this completes it.
 */
export function rotateKeyPairs(w: Fp64Weights, layer: number, angles: ArrayLike<number>): void {
  const c = w.config;
  const hd = headDim(c);
  const group = c.nHeads / c.nKvHeads;
  const L = w.layers[layer]!;
  if (angles.length !== (c.nKvHeads * hd) / 2) throw new ParamError(`rotateKeyPairs: ${angles.length} angles for ${c.nKvHeads} KV heads × ${hd / 2} RoPE pairs`);
  for (let g = 0; g < c.nKvHeads; g++) {
    for (let p = 0; p < hd / 2; p++) {
      const phi = angles[g * (hd / 2) + p]!;
      if (phi === 0) continue;
      const [a, b] = ropePair(c.ropeStyle, hd, p);
      const cos = Math.cos(phi);
      const sin = Math.sin(phi);
      rotateRowPair(L.wk, c.dim, g * hd + a, g * hd + b, cos, sin);
      for (let h = g * group; h < (g + 1) * group; h++) rotateRowPair(L.wq, c.dim, h * hd + a, h * hd + b, cos, sin);
    }
  }
}

/** Exponents of the output smoothing (qoq-spec §5.2): `λ_j = max|X_j|^α / max|W_:,j|^β`. */
export interface SmoothOutputSettings {
  /** Exponent of the activation maxima. */
  readonly alpha: number;
  /** Exponent of the weight-column maxima. */
  readonly beta: number;
}

/** Smooth down_proj's input through the `smooth_linear` op (producer: up_proj, whose rows feed the SwiGLU product). Returns λ. */
export function smoothDownLayer(w: Fp64Weights, layer: number, m: SiteMaxima, s: SmoothOutputSettings): Float64Array {
  const c = w.config;
  const L = w.layers[layer]!;
  const r = runReference("smooth_linear", { w: f64(L.w2, c.dim, c.hiddenDim), prev: f64(L.w3, c.hiddenDim, c.dim), xmax: f32(m.down_in) }, { alpha: s.alpha, beta: s.beta });
  L.w2.set(out64(r.w));
  L.w3.set(out64(r.prev));
  return out64(r.lambda);
}

/**
 * Smooth o_proj's input, folding λ into v_proj's rows. Under GQA one v_proj row (KV head g,
 * channel d) feeds the o_proj column of channel d of every query head of g's group, so λ is one
 * per v_proj row: `λ = (max over the group of max|X|)^α / (max over the group's columns of
 * max|W_o|)^β` (the reference's `smoothingFactor`: 0, NaN or ∞ become 1). Returns λ per v row.
 */
export function smoothOutLayer(w: Fp64Weights, layer: number, m: SiteMaxima, s: SmoothOutputSettings): Float64Array {
  const c = w.config;
  const { qDim, kvDim } = widths(c);
  const L = w.layers[layer]!;
  const lambda = outProjLambda(L.wo, c, m.o_in, s);
  const perColumn = outProjColumns(lambda, c);
  for (let r = 0; r < c.dim; r++) {
    for (let col = 0; col < qDim; col++) L.wo[r * qDim + col]! *= perColumn[col]!;
  }
  for (let row = 0; row < kvDim; row++) {
    // Divide rather than multiply by a rounded 1/λ: one rounding per element (as smooth_linear).
    for (let j = 0; j < c.dim; j++) L.wv[row * c.dim + j]! /= lambda[row]!;
  }
  return lambda;
}

/** The o_proj column factors of a per-v_proj-row λ: column (head h, channel d) gets λ of (h's KV head, d). */
export function outProjColumns(lambda: Float64Array, c: LlamaConfig): Float64Array {
  const { qDim, hd } = widths(c);
  const group = c.nHeads / c.nKvHeads;
  return Float64Array.from({ length: qDim }, (_, col) => lambda[Math.floor(col / hd / group) * hd + (col % hd)]!);
}

/**
 * The o_proj smoothing factor of every v_proj row (KV head g, channel d) — see
 * {@link smoothOutLayer}: `wo` is o_proj ([dim][nHeads·headDim]), `oInMax` its input maxima.
 */
export function outProjLambda(wo: ArrayLike<number>, c: LlamaConfig, oInMax: ArrayLike<number>, s: SmoothOutputSettings): Float64Array {
  const { qDim, hd } = widths(c);
  const group = c.nHeads / c.nKvHeads;
  const lambda = new Float64Array(c.nKvHeads * hd);
  for (let g = 0; g < c.nKvHeads; g++) {
    for (let d = 0; d < hd; d++) {
      let xm = 0;
      let wm = 0;
      for (let h = g * group; h < (g + 1) * group; h++) {
        const col = h * hd + d;
        xm = Math.max(xm, oInMax[col]!);
        for (let r = 0; r < c.dim; r++) wm = Math.max(wm, Math.abs(wo[r * qDim + col]!));
      }
      lambda[g * hd + d] = smoothingFactor(xm, s.alpha, wm, s.beta);
    }
  }
  return lambda;
}

/** Permute rows: new row j is old row `perm[j]` (row length `cols`), rows `base … base+perm.length−1`. */
function permuteRows(a: Float64Array, cols: number, perm: Int32Array, base = 0): void {
  const old = a.slice(base * cols, (base + perm.length) * cols);
  for (let j = 0; j < perm.length; j++) a.set(old.subarray(perm[j]! * cols, (perm[j]! + 1) * cols), (base + j) * cols);
}

/** Permute columns `base … base+perm.length−1` of a row-major `rows`×`cols` matrix: new column base+j is old base+perm[j]. */
function permuteColumns(a: Float64Array, rows: number, cols: number, perm: Int32Array, base = 0): void {
  const tmp = new Float64Array(perm.length);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < perm.length; j++) tmp[j] = a[r * cols + base + perm[j]!]!;
    a.set(tmp, r * cols + base);
  }
}

/**
 * Activation-aware channel reordering of one layer (qoq-spec §5.3, per-group variant): down_proj's
 * input channels sorted by max|X| ascending (the reference's stable `reorderPermutation`), with
 * gate and up rows permuted alike; o_proj's input channels sorted within each KV head by the
 * group's max|X| (v_proj rows and the o_proj columns of every query head of the group permuted
 * alike — a permutation across heads would change which attention weights apply). Exact: a
 * permutation of a hidden dimension between a producer and its consumer. Returns the permutations.
 */
export function reorderLayer(w: Fp64Weights, layer: number, m: SiteMaxima): { down: Int32Array; o: Int32Array[] } {
  const c = w.config;
  const hd = headDim(c);
  const L = w.layers[layer]!;
  const down = reorderPermutation(m.down_in);
  permuteColumns(L.w2, c.dim, c.hiddenDim, down);
  permuteRows(L.w1, c.dim, down);
  permuteRows(L.w3, c.dim, down);
  const group = c.nHeads / c.nKvHeads;
  const qDim = c.nHeads * hd;
  const o: Int32Array[] = [];
  for (let g = 0; g < c.nKvHeads; g++) {
    const xm = new Float64Array(hd);
    for (let h = g * group; h < (g + 1) * group; h++) for (let d = 0; d < hd; d++) xm[d] = Math.max(xm[d]!, m.o_in[h * hd + d]!);
    const perm = reorderPermutation(xm);
    permuteRows(L.wv, c.dim, perm, g * hd);
    for (let h = g * group; h < (g + 1) * group; h++) permuteColumns(L.wo, c.dim, qDim, perm, h * hd);
    o.push(perm);
  }
  return { down, o };
}

/** The configuration's query width, KV width and head size. */
export function widths(c: LlamaConfig): { qDim: number; kvDim: number; hd: number } {
  const hd = headDim(c);
  return { qDim: c.nHeads * hd, kvDim: c.nKvHeads * hd, hd };
}
