/**
 * Loader for llama2.c `.bin` checkpoints (the legacy "version 0" format of `run.c`).
 *
 * Layout: 7 little-endian int32 `dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 * seq_len` (a negative `vocab_size` means the classifier is stored separately), then float32
 * arrays in the order of `run.c`'s `memory_map_weights`: token_embedding, rms_att, wq, wk, wv, wo,
 * rms_ffn, w1, w2, w3, rms_final, the legacy freq_cis_real / freq_cis_imag tables
 * (`seq_len·head_size/2` floats each, skipped), then wcls if not shared. The file length must
 * equal the header plus these arrays exactly. llama2.c models use interleaved-pair RoPE with
 * θ = 10000 and RMSNorm ε = 1e-5.
 * @module
 */
import { readFileSync } from "node:fs";
import { IoError } from "@qoq/core";
import type { LlamaConfig } from "./config.js";
import { ModelFormatError } from "./errors.js";
import type { LayerWeights, LlamaWeights } from "./weights.js";

/** Size in bytes of the llama2.c header (7 int32). */
export const LLAMA2C_HEADER_BYTES = 28;

/** The header of a llama2.c checkpoint, as stored. */
export interface Llama2cHeader {
  /** Residual width. */
  readonly dim: number;
  /** FFN width. */
  readonly hiddenDim: number;
  /** Decoder layers. */
  readonly nLayers: number;
  /** Query heads. */
  readonly nHeads: number;
  /** KV heads. */
  readonly nKvHeads: number;
  /** Vocabulary size as stored (negative: separate classifier). */
  readonly vocabSize: number;
  /** Context length. */
  readonly seqLen: number;
}

/** Read a llama2.c `.bin` checkpoint from disk; see {@link parseLlama2cBin}. */
export function loadLlama2cBin(path: string): LlamaWeights {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new IoError(`cannot read '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseLlama2cBin(bytes, path);
}

/** Parse and validate the 28-byte header; `file` names the source in errors. */
export function parseLlama2cHeader(bytes: Uint8Array, file = "<memory>"): Llama2cHeader {
  if (bytes.length < LLAMA2C_HEADER_BYTES) {
    throw new ModelFormatError(`llama2.c checkpoint is ${bytes.length} bytes, shorter than its ${LLAMA2C_HEADER_BYTES}-byte header`, { file, tensor: "header", offset: 0 });
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, LLAMA2C_HEADER_BYTES);
  const names = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"] as const;
  const h = names.map((_, i) => v.getInt32(4 * i, true));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen] = h as [number, number, number, number, number, number, number];
  for (let i = 0; i < names.length; i++) {
    const x = i === 5 ? Math.abs(h[i]!) : h[i]!;
    if (x <= 0) throw new ModelFormatError(`llama2.c header field ${names[i]} = ${h[i]} must be ${i === 5 ? "non-zero" : "positive"}`, { file, tensor: `header.${names[i]}`, offset: 4 * i });
  }
  if (dim % nHeads !== 0) throw new ModelFormatError(`llama2.c header: dim ${dim} is not a multiple of n_heads ${nHeads}`, { file, tensor: "header.n_heads", offset: 12 });
  if (nHeads % nKvHeads !== 0) throw new ModelFormatError(`llama2.c header: n_heads ${nHeads} is not a multiple of n_kv_heads ${nKvHeads}`, { file, tensor: "header.n_kv_heads", offset: 16 });
  if ((dim / nHeads) % 2 !== 0) throw new ModelFormatError(`llama2.c header: head size ${dim / nHeads} is odd (RoPE needs pairs)`, { file, tensor: "header.n_heads", offset: 12 });
  return { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen };
}

/**
 * Parse a llama2.c checkpoint held in memory into FP32 weights. Every inconsistency (short file,
 * bad header, a length that is not exactly header + weights, a NaN or ±∞ weight) is a
 * {@link ModelFormatError} naming the file, the tensor and the byte offset.
 */
export function parseLlama2cBin(bytes: Uint8Array, file = "<memory>"): LlamaWeights {
  const h = parseLlama2cHeader(bytes, file);
  const shared = h.vocabSize > 0;
  const vocab = Math.abs(h.vocabSize);
  const hs = h.dim / h.nHeads;
  const kvDim = h.nKvHeads * hs;
  const L = h.nLayers;
  const plan: [string, number][] = [
    ["token_embedding_table", vocab * h.dim],
    ["rms_att_weight", L * h.dim],
    ["wq", L * h.dim * h.dim],
    ["wk", L * kvDim * h.dim],
    ["wv", L * kvDim * h.dim],
    ["wo", L * h.dim * h.dim],
    ["rms_ffn_weight", L * h.dim],
    ["w1", L * h.hiddenDim * h.dim],
    ["w2", L * h.dim * h.hiddenDim],
    ["w3", L * h.hiddenDim * h.dim],
    ["rms_final_weight", h.dim],
    ["freq_cis_real", (h.seqLen * hs) / 2],
    ["freq_cis_imag", (h.seqLen * hs) / 2],
  ];
  if (!shared) plan.push(["wcls", vocab * h.dim]);
  // Exact size check first, in BigInt: a hostile header could overflow a double's integer range.
  const big = (...xs: number[]) => xs.reduce((a, x) => a * BigInt(x), 1n);
  const bigPlan = [
    big(vocab, h.dim), big(L, h.dim), big(L, h.dim, h.dim), big(L, h.nKvHeads, hs, h.dim), big(L, h.nKvHeads, hs, h.dim), big(L, h.dim, h.dim),
    big(L, h.dim), big(L, h.hiddenDim, h.dim), big(L, h.dim, h.hiddenDim), big(L, h.hiddenDim, h.dim), big(h.dim), big(h.seqLen, hs / 2), big(h.seqLen, hs / 2),
    ...(shared ? [] : [big(vocab, h.dim)]),
  ];
  const expected = BigInt(LLAMA2C_HEADER_BYTES) + 4n * bigPlan.reduce((a, b) => a + b, 0n);
  if (expected !== BigInt(bytes.length)) {
    const what = BigInt(bytes.length) < expected ? "truncated" : "has trailing bytes";
    throw new ModelFormatError(
      `llama2.c checkpoint ${what}: header (dim ${h.dim}, hidden_dim ${h.hiddenDim}, n_layers ${L}, n_heads ${h.nHeads}, n_kv_heads ${h.nKvHeads}, vocab_size ${h.vocabSize}, seq_len ${h.seqLen}) needs ${expected} bytes, the file has ${bytes.length}`,
      { file, offset: Number(expected < BigInt(bytes.length) ? expected : BigInt(bytes.length)) },
    );
  }
  let offset = LLAMA2C_HEADER_BYTES;
  const read = (name: string, n: number, skip = false): Float32Array => {
    const out = new Float32Array(skip ? 0 : n);
    if (!skip) {
      new Uint8Array(out.buffer).set(bytes.subarray(offset, offset + 4 * n));
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(out[i]!)) throw new ModelFormatError(`non-finite weight ${out[i]} at element ${i}`, { file, tensor: name, offset: offset + 4 * i });
      }
    }
    offset += 4 * n;
    return out;
  };
  const sizes = Object.fromEntries(plan);
  const emb = read("token_embedding_table", sizes.token_embedding_table!);
  const rmsAtt = read("rms_att_weight", sizes.rms_att_weight!);
  const wq = read("wq", sizes.wq!);
  const wk = read("wk", sizes.wk!);
  const wv = read("wv", sizes.wv!);
  const wo = read("wo", sizes.wo!);
  const rmsFfn = read("rms_ffn_weight", sizes.rms_ffn_weight!);
  const w1 = read("w1", sizes.w1!);
  const w2 = read("w2", sizes.w2!);
  const w3 = read("w3", sizes.w3!);
  const finalNorm = read("rms_final_weight", sizes.rms_final_weight!);
  read("freq_cis_real", sizes.freq_cis_real!, true);
  read("freq_cis_imag", sizes.freq_cis_imag!, true);
  const classifier = shared ? emb : read("wcls", sizes.wcls!);

  const d = h.dim;
  const slice = (a: Float32Array, l: number, n: number) => a.slice(l * n, (l + 1) * n);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < L; l++) {
    layers.push({
      attnNorm: slice(rmsAtt, l, d),
      wq: slice(wq, l, d * d),
      wk: slice(wk, l, kvDim * d),
      wv: slice(wv, l, kvDim * d),
      wo: slice(wo, l, d * d),
      ffnNorm: slice(rmsFfn, l, d),
      w1: slice(w1, l, h.hiddenDim * d),
      w2: slice(w2, l, d * h.hiddenDim),
      w3: slice(w3, l, h.hiddenDim * d),
    });
  }
  const config: LlamaConfig = {
    dim: d,
    hiddenDim: h.hiddenDim,
    nLayers: L,
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    vocabSize: vocab,
    seqLen: h.seqLen,
    ropeTheta: 10000,
    ropeStyle: "interleaved",
    normEps: 1e-5,
    tiedEmbeddings: shared,
  };
  return { config, tokenEmbedding: emb, layers, finalNorm, classifier };
}
