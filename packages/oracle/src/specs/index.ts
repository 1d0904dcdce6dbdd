/**
 * The op spec of every op. The mapped type makes the compiler reject a missing op.
 * @module
 */
import type { OpName, OpSpec } from "@qoq/core";
import { quantActInt8Spec, residualAddSpec, rmsnormQuantSpec, siluMulQuantSpec } from "./activation.js";
import { attentionKv4DecodeSpec, attentionPrefillSpec, dequantKv4Spec, quantKv4Spec, ropeSpec } from "./attention.js";
import { gemmW4a8ChnSpec, gemmW4a8G128Spec, gemmW8a8Spec } from "./gemm.js";
import { clipSearchSpec, hadamardRotateSpec, reorderChannelsSpec, smoothAttentionSpec, smoothLinearSpec } from "./transforms.js";
import { dequantWeightChnSpec, dequantWeightG128Spec, quantWeightChnSpec, quantWeightG128Spec, quantWeightInt8Spec } from "./weights.js";

/** The conformance spec of every op. */
export const OP_SPECS: { readonly [K in OpName]: OpSpec } = {
  quant_act_int8: quantActInt8Spec,
  quant_weight_g128: quantWeightG128Spec,
  quant_weight_chn: quantWeightChnSpec,
  quant_weight_int8: quantWeightInt8Spec,
  dequant_weight_g128: dequantWeightG128Spec,
  dequant_weight_chn: dequantWeightChnSpec,
  gemm_w4a8_g128: gemmW4a8G128Spec,
  gemm_w4a8_chn: gemmW4a8ChnSpec,
  gemm_w8a8: gemmW8a8Spec,
  quant_kv4: quantKv4Spec,
  dequant_kv4: dequantKv4Spec,
  rmsnorm_quant: rmsnormQuantSpec,
  rope: ropeSpec,
  silu_mul_quant: siluMulQuantSpec,
  residual_add: residualAddSpec,
  attention_prefill: attentionPrefillSpec,
  attention_kv4_decode: attentionKv4DecodeSpec,
  smooth_attention: smoothAttentionSpec,
  hadamard_rotate: hadamardRotateSpec,
  smooth_linear: smoothLinearSpec,
  reorder_channels: reorderChannelsSpec,
  clip_search: clipSearchSpec,
};
