/**
 * GPTQ rounding (Frantar et al., 2022) of the W4 weights, as DeepCompressor's QoQ configs run it
 * (qoq-spec §1.1 and §5.4: damping 0.01, natural column order): the quantizer's parameters —
 * `s1`, `s2` and `z` of a g128 row, `scale` and `z` of a chn row (after its clipping ratio) — are
 * those of plain RTN on the FP weights; GPTQ only changes which integer codes are picked. Column
 * by column, each weight is rounded with those fixed parameters and its rounding error, weighted
 * by the inverse Hessian of the layer's calibration inputs, is pushed onto the columns not yet
 * rounded, which minimizes the layer's output error `‖(W − Ŵ)·X‖²` greedily.
 *
 * With `H = Σ x·xᵀ` (+ damping), `U` the upper Cholesky factor of `H⁻¹` (`H⁻¹ = Uᵀ·U`), for each
 * column i in order and each row r: `ŵ = Q(w_ri)`, `e = (w_ri − ŵ) / U_ii`, `w_rj −= e·U_ij` for
 * j > i. A diagonal H gives `U_ij = 0` off the diagonal, so GPTQ then equals RTN code for code.
 * @module
 */
import { fromF16Bits, ParamError, tensor, yieldToEventLoop, type Backend, type Tensor } from "@qoq/core";
import { quantizeWeights, stackRows, type LlamaWeights, type QuantizedLayer, type QuantizedLinear, type QuantizedModel, type QuantizeWeightsOptions } from "@qoq/model";
import { chnCode, levelOneCode, levelTwoCode } from "@qoq/reference";
import type { LinearGrams } from "./calibration.js";

/** GPTQ settings. */
export interface GptqSettings {
  /** Damping added to H's diagonal, as a fraction of its mean diagonal (default 0.01, as DeepCompressor). */
  readonly damp: number;
  /** How many times the damping is added again when H is not positive definite (default 250). */
  readonly retries: number;
}

/** DeepCompressor's GPTQ defaults (qoq-spec §1.1). */
export const DEFAULT_GPTQ: GptqSettings = { damp: 0.01, retries: 250 };

/** Rounds weight x of row r, column c with the layer's fixed parameters: its code and dequantized value. */
export type ElementQuantizer = (r: number, c: number, x: number) => { code: number; value: number };

/**
 * Lower Cholesky factor L of the symmetric n × n matrix `a` (`a = L·Lᵀ`), or undefined when a
 * pivot is not positive (a not positive definite).
 */
export function cholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (!(s > 0)) return undefined;
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j]!;
      }
    }
  }
  return l;
}

/** Inverse of the lower-triangular n × n matrix `l` (itself lower triangular). */
function invertLower(l: Float64Array, n: number): Float64Array {
  const inv = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    inv[j * n + j] = 1 / l[j * n + j]!;
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[i * n + k]! * inv[k * n + j]!;
      inv[i * n + j] = -s / l[i * n + i]!;
    }
  }
  return inv;
}

/**
 * The upper Cholesky factor U of `(H + δ·I)⁻¹` for GPTQ: inputs that never fire (`H_ii = 0`)
 * get `H_ii = 1` (their weights then round on their own), and δ = `damp`·mean(diag H) is added
 * again, up to `retries` times, until the factorization succeeds. Throws `ParamError` when it
 * never does (a NaN in the statistics, for example).
 */
export function gptqFactor(gram: Float64Array, k: number, settings: GptqSettings = DEFAULT_GPTQ): Float64Array {
  const h = Float64Array.from(gram);
  let mean = 0;
  for (let i = 0; i < k; i++) {
    if (h[i * k + i] === 0) h[i * k + i] = 1;
    mean += h[i * k + i]! / k;
  }
  const delta = settings.damp * mean;
  for (let attempt = 0; attempt <= settings.retries; attempt++) {
    for (let i = 0; i < k; i++) h[i * k + i] = h[i * k + i]! + delta;
    const l = cholesky(h, k);
    if (l === undefined) continue;
    // H⁻¹ = L⁻ᵀ·L⁻¹; its Cholesky factor, transposed, is the upper U with H⁻¹ = Uᵀ·U.
    const li = invertLower(l, k);
    const hinv = new Float64Array(k * k);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let m = i; m < k; m++) s += li[m * k + i]! * li[m * k + j]!;
        hinv[i * k + j] = s;
        hinv[j * k + i] = s;
      }
    }
    const lh = cholesky(hinv, k);
    if (lh === undefined) continue;
    const u = new Float64Array(k * k);
    for (let i = 0; i < k; i++) for (let j = i; j < k; j++) u[i * k + j] = lh[j * k + i]!;
    return u;
  }
  throw new ParamError(`GPTQ: the ${k} × ${k} Hessian of the calibration inputs stays not positive definite after ${settings.retries} dampings`);
}

/**
 * GPTQ codes of an n × k weight `w` (row-major) given the upper factor `u` of its damped inverse
 * Hessian and the fixed per-element quantizer. Returns the codes, n × k row-major.
 */
export function gptqRound(w: ArrayLike<number>, n: number, k: number, u: Float64Array, quantize: ElementQuantizer): Uint8Array {
  const codes = new Uint8Array(n * k);
  const row = new Float64Array(k);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) row[c] = w[r * k + c]!;
    for (let c = 0; c < k; c++) {
      const { code, value } = quantize(r, c, row[c]!);
      codes[r * k + c] = code;
      const e = (row[c]! - value) / u[c * k + c]!;
      if (e === 0) continue;
      const uc = c * k;
      for (let j = c + 1; j < k; j++) row[j] = row[j]! - e * u[uc + j]!;
    }
  }
  return codes;
}

/**
 * The fixed-parameter quantizer of a RTN-quantized linear: g128 rows round x to
 * `u = clamp(rne(f32(x/s1)), ±119)`, `q = clamp(rne(u/s2) + z, 0, 15)` (`quant_weight_g128`'s
 * formulas with its s1, s2, z); chn rows to `q = clamp(rne(f32(x/s)) + z, 0, 15)`
 * (`quant_weight_chn`'s, with its clipped scale and zero).
 */
export function fixedQuantizer(lin: QuantizedLinear): ElementQuantizer {
  switch (lin.variant) {
    case "g128": {
      const groups = lin.kPadded / lin.group;
      return (r, c, x) => {
        const s1 = fromF16Bits(lin.s1.data[r]!);
        const gi = r * groups + Math.floor(c / lin.group);
        const s2 = lin.s2.data[gi]!;
        const z = lin.zero.data[gi]!;
        // The op's own formulas (levels 1 and 2) with its s1, s2, z.
        const code = levelTwoCode(levelOneCode(x, s1), s2, z);
        return { code, value: s1 * (code - z) * s2 };
      };
    }
    case "chn":
      return (r, _c, x) => {
        const s = fromF16Bits(lin.scale.data[r]!);
        const z = lin.zero.data[r]!;
        if (s === 0) return { code: 0, value: 0 };
        const code = chnCode(x, s, z);
        return { code, value: s * (code - z) };
      };
    case "w8a8":
      throw new ParamError("GPTQ here rounds the W4 variants (g128, chn), not w8a8");
  }
}

/**
 * `lin` with its codes replaced by GPTQ's, for FP weights `w` (n × k, the unpadded K) whose
 * inputs have Gram matrix `gram`. The parameters (and a g128 layer's padded columns) are kept.
 */
export function gptqLinear(lin: QuantizedLinear, w: ArrayLike<number>, gram: Float64Array, settings: GptqSettings = DEFAULT_GPTQ): QuantizedLinear {
  if (lin.variant === "w8a8") throw new ParamError("GPTQ here rounds the W4 variants (g128, chn), not w8a8");
  const { n, k } = lin;
  if (w.length !== n * k) throw new ParamError(`GPTQ: ${w.length} weights do not fill [${n} × ${k}]`);
  if (gram.length !== k * k) throw new ParamError(`GPTQ: a Gram matrix of ${gram.length} entries for K = ${k} inputs (expected ${k * k})`);
  const codes = gptqRound(w, n, k, gptqFactor(gram, k, settings), fixedQuantizer(lin));
  const kq = lin.variant === "g128" ? lin.kPadded : k;
  const q = Uint8Array.from(lin.q.data);
  for (let r = 0; r < n; r++) q.set(codes.subarray(r * k, (r + 1) * k), r * kq);
  return { ...lin, q: tensor("u8", [n, kq], q) as Tensor<"u8"> };
}

/**
 * Quantize `weights` as `quantizeWeights` does (same parameters, clipping ratios included), then
 * re-pick every linear's codes with GPTQ from the layer's calibration Gram matrices.
 */
export async function quantizeWeightsGptq(
  weights: LlamaWeights,
  grams: readonly LinearGrams[],
  backend: Backend,
  opts: QuantizeWeightsOptions,
  settings: GptqSettings = DEFAULT_GPTQ,
  onLayer?: (done: number, total: number) => void,
): Promise<QuantizedModel> {
  const rtn = await quantizeWeights(weights, backend, opts);
  if (grams.length !== weights.layers.length) throw new ParamError(`GPTQ: Gram matrices for ${grams.length} layers, the model has ${weights.layers.length}`);
  const layers: QuantizedLayer[] = [];
  for (const [l, ql] of rtn.layers.entries()) {
    const L = weights.layers[l]!;
    const g = grams[l]!;
    layers.push({
      ...ql,
      qkv: gptqLinear(ql.qkv, stackRows([L.wq, L.wk, L.wv]), g.attn_in, settings),
      o: gptqLinear(ql.o, L.wo, g.o_in, settings),
      gateUp: gptqLinear(ql.gateUp, stackRows([L.w1, L.w3]), g.ffn_in, settings),
      down: gptqLinear(ql.down, L.w2, g.down_in, settings),
    });
    onLayer?.(l + 1, rtn.layers.length);
    await yieldToEventLoop();
  }
  return { ...rtn, layers };
}
