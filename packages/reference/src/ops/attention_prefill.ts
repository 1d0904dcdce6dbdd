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
import { assertFinite, zeros, type NamedTensors } from "@qoq/core";
import type { ReferenceImpl } from "../impl.js";
import { attendRow, checkAttentionHeads, scoreScale } from "./attention_common.js";
import { f16Values } from "./quant_act_int8.js";

/** Reference `attention_prefill`: inputs `q`, `k`, `v`; output `o`. */
export const attentionPrefill: ReferenceImpl = (inputs, _params, dims): NamedTensors => {
  const [t, hq, hkv, d] = [dims.T!, dims.HQ!, dims.HKV!, dims.D!];
  const group = checkAttentionHeads("attention_prefill", hq, hkv, d);
  assertFinite("q", inputs.q!);
  assertFinite("k", inputs.k!);
  assertFinite("v", inputs.v!);
  const qv = f16Values(inputs.q!);
  const kv = f16Values(inputs.k!);
  const vv = f16Values(inputs.v!);
  const sc = scoreScale(d);
  const o = zeros("f16", [t, hq, d]);
  for (let tok = 0; tok < t; tok++) {
    for (let h = 0; h < hq; h++) {
      const g = Math.floor(h / group);
      const qo = (tok * hq + h) * d;
      // Causal: query t sees keys 0 … t only; key/value token j of KV head g starts at (j·HKV + g)·D.
      attendRow(qv, qo, kv, g * d, hkv * d, vv, g * d, hkv * d, tok + 1, d, sc, o.data, qo);
    }
  }
  return { o };
};
