/**
 * A synthetic, seeded LLaMA-shaped model of any size, with the outlier structure of real LLMs
 * so that smoothing and SmoothAttention matter:
 * - **activation outlier channels**: a few residual-stream channels are much larger than the
 *   rest (their token-embedding columns and their o_proj / down_proj output rows are scaled up),
 *   so the inputs of every q/k/v and gate/up projection (after RMSNorm) have outlier channels;
 * - **key outlier channels**: in every KV head a few RoPE pairs of k_proj rows are scaled up (both
 *   channels of a pair, so the outlier survives the rotation), as in the keys of real models.
 * Everything else is Gaussian: matrices N(0, 1/fan_in), embeddings N(0, 1), norm γ = 1 + N(0, 0.1²).
 * Deterministic for a seed (core `Rng`, a fixed draw order).
 * @module
 */
import { ParamError, Rng } from "@qoq/core";
import type { LlamaConfig } from "./config.js";
import { validateConfig } from "./validate.js";
import type { LayerWeights, LlamaWeights } from "./weights.js";

/**
 * The embedded default model's configuration: dim 128, FFN 384, 2 layers, 4 query heads and 2
 * KV heads (GQA, head size 32), a byte-level vocabulary of 259 (see `byteLevelTokenizer`),
 * context 256, rotate-half RoPE θ 10000, ε 1e-5, separate classifier.
 */
export const SYNTHETIC_DEFAULT_CONFIG: LlamaConfig = {
  dim: 128,
  hiddenDim: 384,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  vocabSize: 259,
  seqLen: 256,
  ropeTheta: 10000,
  ropeStyle: "rotate_half",
  normEps: 1e-5,
  tiedEmbeddings: false,
};

/** Seed of the embedded default model. */
export const SYNTHETIC_DEFAULT_SEED = 20240501;

/** Options of {@link syntheticWeights}. */
export interface SyntheticOptions {
  /** Seed (default {@link SYNTHETIC_DEFAULT_SEED}). */
  readonly seed?: number;
  /** Number of residual outlier channels (default max(1, round(dim / 32))). */
  readonly activationOutliers?: number;
  /** Their scale factor (default 20). */
  readonly activationScale?: number;
  /** RoPE pairs per KV head whose k_proj rows are scaled (default max(1, round(headDim / 16))). */
  readonly keyOutlierPairs?: number;
  /** Their scale factor (default 8). */
  readonly keyScale?: number;
}

/** Which channels carry the injected outliers. */
export interface SyntheticOutliers {
  /** Residual-stream channels (sorted). */
  readonly activation: readonly number[];
  /** k_proj output rows (absolute rows of wk, i.e. kvHead·headDim + channel; sorted). */
  readonly key: readonly number[];
}

/** k distinct sorted integers from [0, n), drawn with `rng`. */
function pick(rng: Rng, n: number, k: number): number[] {
  const s = new Set<number>();
  while (s.size < Math.min(k, n)) s.add(rng.int(0, n - 1));
  return [...s].sort((a, b) => a - b);
}

/** The outlier channels {@link syntheticWeights} injects for this config and options. */
export function syntheticOutliers(config: LlamaConfig, opts: SyntheticOptions = {}): SyntheticOutliers {
  validateConfig(config);
  const rng = new Rng(((opts.seed ?? SYNTHETIC_DEFAULT_SEED) ^ 0x5eed0a11) >>> 0);
  const hd = config.dim / config.nHeads;
  const half = hd / 2;
  const nAct = opts.activationOutliers ?? Math.max(1, Math.round(config.dim / 32));
  const nKey = opts.keyOutlierPairs ?? Math.max(1, Math.round(hd / 16));
  if (!Number.isSafeInteger(nAct) || nAct < 0 || nAct > config.dim) throw new ParamError(`activationOutliers must be an integer in [0, ${config.dim}], got ${nAct}`);
  if (!Number.isSafeInteger(nKey) || nKey < 0 || nKey > half) throw new ParamError(`keyOutlierPairs must be an integer in [0, ${half}], got ${nKey}`);
  const activation = pick(rng, config.dim, nAct);
  const key: number[] = [];
  for (let h = 0; h < config.nKvHeads; h++) {
    for (const j of pick(rng, half, nKey)) {
      const [a, b] = config.ropeStyle === "interleaved" ? [2 * j, 2 * j + 1] : [j, j + half];
      key.push(h * hd + a, h * hd + b);
    }
  }
  return { activation, key: key.sort((x, y) => x - y) };
}

/** Generate the seeded synthetic weights of `config` (see the module comment). */
export function syntheticWeights(config: LlamaConfig = SYNTHETIC_DEFAULT_CONFIG, opts: SyntheticOptions = {}): LlamaWeights {
  validateConfig(config);
  const actScale = opts.activationScale ?? 20;
  const keyScale = opts.keyScale ?? 8;
  if (!(Number.isFinite(actScale) && actScale > 0 && Number.isFinite(keyScale) && keyScale > 0)) throw new ParamError("activationScale and keyScale must be finite and positive");
  const out = syntheticOutliers(config, opts);
  const rng = new Rng((opts.seed ?? SYNTHETIC_DEFAULT_SEED) >>> 0);
  const { dim, hiddenDim: hid, vocabSize: V } = config;
  const kv = (config.nKvHeads * dim) / config.nHeads;
  const gauss = (n: number, std: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
    return a;
  };
  const norm = (n: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = 1 + 0.1 * rng.normal();
    return a;
  };
  const scaleRows = (w: Float32Array, cols: number, rows: readonly number[], s: number): void => {
    for (const r of rows) for (let j = 0; j < cols; j++) w[r * cols + j] = w[r * cols + j]! * s;
  };
  const emb = gauss(V * dim, 1);
  for (let t = 0; t < V; t++) for (const c of out.activation) emb[t * dim + c] = emb[t * dim + c]! * actScale;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    const attnNorm = norm(dim);
    const wq = gauss(dim * dim, 1 / Math.sqrt(dim));
    const wk = gauss(kv * dim, 1 / Math.sqrt(dim));
    const wv = gauss(kv * dim, 1 / Math.sqrt(dim));
    const wo = gauss(dim * dim, 1 / Math.sqrt(dim));
    const ffnNorm = norm(dim);
    const w1 = gauss(hid * dim, 1 / Math.sqrt(dim));
    const w2 = gauss(dim * hid, 1 / Math.sqrt(hid));
    const w3 = gauss(hid * dim, 1 / Math.sqrt(dim));
    scaleRows(wk, dim, out.key, keyScale);
    scaleRows(wo, dim, out.activation, actScale);
    scaleRows(w2, hid, out.activation, actScale);
    layers.push({ attnNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3 });
  }
  const finalNorm = norm(dim);
  const classifier = config.tiedEmbeddings ? emb : gauss(V * dim, 1 / Math.sqrt(dim));
  return { config, tokenEmbedding: emb, layers, finalNorm, classifier };
}

/** The embedded default model: {@link syntheticWeights} of {@link SYNTHETIC_DEFAULT_CONFIG} with the default seed. */
export function syntheticDefaultWeights(): LlamaWeights {
  return syntheticWeights(SYNTHETIC_DEFAULT_CONFIG);
}
