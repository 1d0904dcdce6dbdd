/**
 * `attention_prefill` — causal grouped-query attention over the binary16 Q/K/V of a prompt.
 *
 * Query head h reads KV head `floor(h / (HQ/HKV))`. For query token t and keys j = 0 … t:
 * `s_j = f32(Σ_R32 f32(q_d · k_jd) · sc)`, `sc = f32(1 / f32(√D))`; `m = max_j s_j`;
 * `e_j = expCanon(f32(s_j − m))`; `l = Σ_R32 e_j` (keys in order j = 0 … t);
 * `o_d = f16(f32(Σ_R32 f32(e_j · v_jd) / l))`.
 *
 * A two-pass softmax with one division per output element (see `attention_common`): a backend
 * reproduces it with fixed-order partial sums, where an online (flash) softmax would round
 * differently for every tile size. Products `q_d · k_jd` of binary16 values are exact in binary32.
 * @module
 */
import { assertFinite, fromF16Bits, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { attentionScore, checkAttentionHeads, scoreScale, softmaxWeightedSum } from "./attention_common.js";

/** Reference `attention_prefill`: inputs `q`, `k`, `v`; output `o`. */
export const attentionPrefill: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const [t, hq, hkv, d] = [dims.T!, dims.HQ!, dims.HKV!, dims.D!];
  const group = checkAttentionHeads("attention_prefill", hq, hkv, d);
  assertFinite("q", inputs.q!);
  assertFinite("k", inputs.k!);
  assertFinite("v", inputs.v!);
  const qb = inputs.q!.data as Uint16Array;
  const kb = inputs.k!.data as Uint16Array;
  const vb = inputs.v!.data as Uint16Array;
  const sc = scoreScale(d);
  const o = zeros("f16", [t, hq, d]);
  const scores = new Float64Array(t);
  for (let tok = 0; tok < t; tok++) {
    for (let h = 0; h < hq; h++) {
      const g = Math.floor(h / group);
      const qo = (tok * hq + h) * d;
      const kvAt = (j: number): number => (j * hkv + g) * d; // offset of key/value token j, KV head g
      // Causal: query t sees keys 0 … t only.
      for (let j = 0; j <= tok; j++) {
        const ko = kvAt(j);
        scores[j] = attentionScore(d, (c) => fromF16Bits(qb[qo + c]!), (c) => fromF16Bits(kb[ko + c]!), sc);
      }
      softmaxWeightedSum(scores, tok + 1, (j, c) => fromF16Bits(vb[kvAt(j) + c]!), d, o.data, qo);
    }
  }
  return { o };
};
