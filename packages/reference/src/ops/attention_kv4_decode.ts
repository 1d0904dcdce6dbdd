/**
 * `attention_kv4_decode` — one new token per sequence attends to its past in a paged KV4 cache
 * and to its own unquantized K/V.
 *
 * Pages hold S = 64 tokens. Sequence b has `L = ctx_len[b]` past tokens (0 ≤ L ≤ NB·64); past
 * token j < L lives in page `p = block_table[b, j >> 6]` (0 ≤ p < P), slot `j & 63`. Its
 * dequantized key is `k̂_jd = f32(f32(code · scale) + min)` with that token's `k_scale`/`k_min`
 * at [p, g, slot] (the same for values) — exactly `dequant_kv4`. The new token is key index L
 * with its own binary16 `k` and `v`. Query head h reads KV head `g = floor(h / (HQ/HKV))`.
 * Scores `s_j = f32(Σ_R32 f32(q_d · k̂_jd) · sc)` for j < L and from the raw k for j = L, then the
 * softmax and output exactly as in `attention_prefill` over j = 0 … L (see `attention_common`).
 *
 * Only what is read is validated: block-table entries of blocks j >> 6 for j < L, and codes,
 * scales and minima of slots j < L. Other entries may hold anything (−1 for an unused block,
 * garbage in the unused slots of the last page), as in a real paged cache.
 * @module
 */
import { assertFinite, fromF16Bits, NonFiniteError, RangeViolationError, ShapeError, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { attendRow, checkAttentionHeads, scoreScale } from "./attention_common.js";
import { f16Values } from "./quant_act_int8.js";
import { dequantKv4Value } from "./dequant_kv4.js";

/** Tokens per KV4 page. */
export const KV4_PAGE_SIZE = 64;

/** Reference `attention_kv4_decode`: the new tokens' `q`, `k`, `v`, the paged KV4 cache, `block_table`, `ctx_len`; output `o`. */
export const attentionKv4Decode: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const [nSeq, hq, hkv, d, nPages, s, nb] = [dims.B!, dims.HQ!, dims.HKV!, dims.D!, dims.P!, dims.S!, dims.NB!];
  if (s !== KV4_PAGE_SIZE) throw new ShapeError(`attention_kv4_decode: 'k_cache'/'v_cache' have S = ${s} slots per page, expected ${KV4_PAGE_SIZE}`);
  const group = checkAttentionHeads("attention_kv4_decode", hq, hkv, d);
  for (const name of ["q", "k", "v"]) assertFinite(name, inputs[name]!);
  const kb = inputs.k!.data as Uint16Array;
  const vb = inputs.v!.data as Uint16Array;
  const table = inputs.block_table!.data as Int32Array;
  const ctxLen = inputs.ctx_len!.data as Int32Array;
  const cache = {
    k: { codes: inputs.k_cache!.data as Uint8Array, scale: inputs.k_scale!.data as Uint16Array, min: inputs.k_min!.data as Uint16Array },
    v: { codes: inputs.v_cache!.data as Uint8Array, scale: inputs.v_scale!.data as Uint16Array, min: inputs.v_min!.data as Uint16Array },
  };

  // Flat index of (page, KV head, slot) in the scale/min tensors; ×D (+ channel) in the code tensors.
  const rowOf = (page: number, g: number, slot: number): number => (page * hkv + g) * s + slot;
  const pageOf = (b: number, j: number): number => table[b * nb + (j >> 6)]!;

  // Validate everything that will be read before computing anything.
  for (let b = 0; b < nSeq; b++) {
    const len = ctxLen[b]!;
    if (len < 0 || len > nb * s) throw new RangeViolationError("ctx_len", b, `context length ${len} is outside [0, NB·64 = ${nb * s}]`);
    for (let blk = 0; blk * s < len; blk++) {
      const p = table[b * nb + blk]!;
      if (p < 0 || p >= nPages) throw new RangeViolationError("block_table", b * nb + blk, `page ${p} is outside the cache's pages [0, ${nPages})`);
    }
    for (let j = 0; j < len; j++) {
      for (let g = 0; g < hkv; g++) {
        const row = rowOf(pageOf(b, j), g, j & 63);
        for (const [kind, c] of [["k", cache.k], ["v", cache.v]] as const) {
          const scale = fromF16Bits(c.scale[row]!);
          const min = fromF16Bits(c.min[row]!);
          if (!Number.isFinite(scale)) throw new NonFiniteError(`${kind}_scale`, row, scale);
          if (!Number.isFinite(min)) throw new NonFiniteError(`${kind}_min`, row, min);
          for (let ch = 0; ch < d; ch++) {
            const code = c.codes[row * d + ch]!;
            if (code > 15) throw new RangeViolationError(`${kind}_cache`, row * d + ch, `code ${code} is not a UINT4 code (0..15)`);
          }
        }
      }
    }
  }

  const sc = scoreScale(d);
  const o = zeros("f16", [nSeq, hq, d]);
  const qv = f16Values(inputs.q!);
  for (let b = 0; b < nSeq; b++) {
    const len = ctxLen[b]!;
    for (let g = 0; g < hkv; g++) {
      // Keys and values of this sequence and KV head, in key order: past token j < L dequantized with
      // its own scale and min (dequant_kv4's formula), then the new token (key index L) unquantized.
      const keys = new Float64Array((len + 1) * d);
      const values = new Float64Array((len + 1) * d);
      for (let j = 0; j < len; j++) {
        const row = rowOf(pageOf(b, j), g, j & 63);
        for (const [c, dst] of [[cache.k, keys], [cache.v, values]] as const) {
          const scale = fromF16Bits(c.scale[row]!);
          const min = fromF16Bits(c.min[row]!);
          for (let ch = 0; ch < d; ch++) dst[j * d + ch] = dequantKv4Value(c.codes[row * d + ch]!, scale, min);
        }
      }
      const newKv = (b * hkv + g) * d; // the new token's own k/v row
      for (let ch = 0; ch < d; ch++) {
        keys[len * d + ch] = fromF16Bits(kb[newKv + ch]!);
        values[len * d + ch] = fromF16Bits(vb[newKv + ch]!);
      }
      for (let h = g * group; h < (g + 1) * group; h++) {
        const qo = (b * hq + h) * d;
        attendRow(qv, qo, keys, 0, d, values, 0, d, len + 1, d, sc, o.data, qo);
      }
    }
  }
  return { o };
};
