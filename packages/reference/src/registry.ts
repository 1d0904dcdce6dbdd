/**
 * Which reference function implements each op. The mapped type makes the compiler reject a
 * registry that misses an op of `OP_NAMES`.
 * @module
 */
import type { OpName } from "@qoq/core";
import type { ReferenceImpl } from "./impl.js";
import { quantActInt8 } from "./ops/quant_act_int8.js";
import { quantWeightG128 } from "./ops/quant_weight_g128.js";
import { quantWeightChn } from "./ops/quant_weight_chn.js";
import { quantWeightInt8 } from "./ops/quant_weight_int8.js";
import { dequantWeightG128 } from "./ops/dequant_weight_g128.js";
import { dequantWeightChn } from "./ops/dequant_weight_chn.js";
import { gemmW4a8G128 } from "./ops/gemm_w4a8_g128.js";
import { gemmW4a8Chn } from "./ops/gemm_w4a8_chn.js";
import { gemmW8a8 } from "./ops/gemm_w8a8.js";
import { quantKv4 } from "./ops/quant_kv4.js";
import { dequantKv4 } from "./ops/dequant_kv4.js";
import { rmsnormQuant } from "./ops/rmsnorm_quant.js";
import { rope } from "./ops/rope.js";
import { siluMulQuant } from "./ops/silu_mul_quant.js";
import { residualAdd } from "./ops/residual_add.js";
import { attentionPrefill } from "./ops/attention_prefill.js";
import { attentionKv4Decode } from "./ops/attention_kv4_decode.js";
import { smoothAttention } from "./ops/smooth_attention.js";
import { hadamardRotate } from "./ops/hadamard_rotate.js";
import { smoothLinear } from "./ops/smooth_linear.js";
import { reorderChannels } from "./ops/reorder_channels.js";
import { clipSearch } from "./ops/clip_search.js";

/** The reference implementation of every op. */
export const REFERENCE_IMPLS: { readonly [K in OpName]: ReferenceImpl } = {
  quant_act_int8: quantActInt8,
  quant_weight_g128: quantWeightG128,
  quant_weight_chn: quantWeightChn,
  quant_weight_int8: quantWeightInt8,
  dequant_weight_g128: dequantWeightG128,
  dequant_weight_chn: dequantWeightChn,
  gemm_w4a8_g128: gemmW4a8G128,
  gemm_w4a8_chn: gemmW4a8Chn,
  gemm_w8a8: gemmW8a8,
  quant_kv4: quantKv4,
  dequant_kv4: dequantKv4,
  rmsnorm_quant: rmsnormQuant,
  rope: rope,
  silu_mul_quant: siluMulQuant,
  residual_add: residualAdd,
  attention_prefill: attentionPrefill,
  attention_kv4_decode: attentionKv4Decode,
  smooth_attention: smoothAttention,
  hadamard_rotate: hadamardRotate,
  smooth_linear: smoothLinear,
  reorder_channels: reorderChannels,
  clip_search: clipSearch,
};
