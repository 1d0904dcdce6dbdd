/**
 * Consistency checks of a {@link LlamaConfig} and {@link LlamaWeights} (typed errors).
 * @module
 */
import { NonFiniteError, ParamError, ShapeError } from "@qoq/core";
import type { LlamaConfig } from "./config.js";
import type { LlamaWeights } from "./weights.js";

/** Throw a `ParamError` unless the configuration is a well-formed LLaMA shape. */
export function validateConfig(c: LlamaConfig): void {
  for (const k of ["dim", "hiddenDim", "nLayers", "nHeads", "nKvHeads", "vocabSize", "seqLen"] as const) {
    if (!Number.isSafeInteger(c[k]) || c[k] <= 0) throw new ParamError(`config.${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.dim % c.nHeads !== 0) throw new ParamError(`config.dim ${c.dim} is not a multiple of nHeads ${c.nHeads}`);
  if (c.nHeads % c.nKvHeads !== 0) throw new ParamError(`config.nHeads ${c.nHeads} is not a multiple of nKvHeads ${c.nKvHeads}`);
  if ((c.dim / c.nHeads) % 2 !== 0) throw new ParamError(`head dimension ${c.dim / c.nHeads} must be even for RoPE`);
  if (!(Number.isFinite(c.ropeTheta) && c.ropeTheta > 0)) throw new ParamError(`config.ropeTheta must be finite and positive, got ${c.ropeTheta}`);
  if (!(Number.isFinite(c.normEps) && c.normEps > 0)) throw new ParamError(`config.normEps must be finite and positive, got ${c.normEps}`);
  if (c.ropeStyle !== "interleaved" && c.ropeStyle !== "rotate_half") throw new ParamError(`config.ropeStyle must be 'interleaved' or 'rotate_half', got '${String(c.ropeStyle)}'`);
}

/**
 * Throw a typed error unless every array has the length the config implies and holds only
 * finite values (`ShapeError`, `NonFiniteError`; tensors named like `layers.3.wq`).
 */
export function validateWeights(w: LlamaWeights, checkFinite = true): void {
  const c = w.config;
  validateConfig(c);
  const hd = c.dim / c.nHeads;
  const kv = c.nKvHeads * hd;
  const check = (name: string, a: Float32Array, n: number) => {
    if (!(a instanceof Float32Array)) throw new ShapeError(`weights '${name}' is not a Float32Array`);
    if (a.length !== n) throw new ShapeError(`weights '${name}' has ${a.length} elements, the config needs ${n}`);
    if (checkFinite) for (let i = 0; i < n; i++) if (!Number.isFinite(a[i]!)) throw new NonFiniteError(name, i, a[i]!);
  };
  check("tokenEmbedding", w.tokenEmbedding, c.vocabSize * c.dim);
  check("classifier", w.classifier, c.vocabSize * c.dim);
  check("finalNorm", w.finalNorm, c.dim);
  if (w.layers.length !== c.nLayers) throw new ShapeError(`weights have ${w.layers.length} layers, the config needs ${c.nLayers}`);
  w.layers.forEach((l, i) => {
    check(`layers.${i}.attnNorm`, l.attnNorm, c.dim);
    check(`layers.${i}.wq`, l.wq, c.dim * c.dim);
    check(`layers.${i}.wk`, l.wk, kv * c.dim);
    check(`layers.${i}.wv`, l.wv, kv * c.dim);
    check(`layers.${i}.wo`, l.wo, c.dim * c.dim);
    check(`layers.${i}.ffnNorm`, l.ffnNorm, c.dim);
    check(`layers.${i}.w1`, l.w1, c.hiddenDim * c.dim);
    check(`layers.${i}.w2`, l.w2, c.dim * c.hiddenDim);
    check(`layers.${i}.w3`, l.w3, c.hiddenDim * c.dim);
  });
}
