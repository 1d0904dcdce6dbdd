/**
 * `@qoq/reference`: the living specification — one scalar, readable, bit-exact function per op.
 * @packageDocumentation
 */
export * from "./impl.js";
export * from "./registry.js";
export * from "./run.js";
export { quantizeActRow, quantizeActivations, f16Values, type QuantizedActivations } from "./ops/quant_act_int8.js";
export { ropeTable, type RopeStyle } from "./ops/rope.js";
export { chnCode, quantizeWeightRowChn } from "./ops/quant_weight_chn.js";
export { levelOneCode, levelTwoCode, PROTECTIVE_RANGE_G128 } from "./ops/quant_weight_g128.js";
export { MAX_K_GEMM_W4A8_G128 } from "./ops/gemm_w4a8_g128.js";
export { MAX_K_GEMM_W4A8_CHN } from "./ops/gemm_w4a8_chn.js";
export { MAX_K_GEMM_W8A8 } from "./ops/gemm_w8a8.js";
export { quantizeKv4, quantizeKv4Row, type Kv4Row, type QuantizedKv4 } from "./ops/quant_kv4.js";
export { dequantKv4Value } from "./ops/dequant_kv4.js";
export { KV4_PAGE_SIZE } from "./ops/attention_kv4_decode.js";
export { hadamardBlockSize, hadamardTransform } from "./ops/hadamard_rotate.js";
export { smoothingFactor } from "./ops/transform_common.js";
export { fdlibmPow } from "./fdlibm_pow.js";
export { smoothLinearLambda } from "./ops/smooth_linear.js";
export { smoothAttentionHeadDim, smoothAttentionLambda, ropePartner } from "./ops/smooth_attention.js";
export { reorderPermutation } from "./ops/reorder_channels.js";
export { clipRatios, outputError } from "./ops/clip_search.js";
export { assertAccumulatorK, checkUint4, expandW8 } from "./ops/weight_common.js";
export { checkAttentionHeads, scoreScale } from "./ops/attention_common.js";
export { siluF16 } from "./ops/silu_mul_quant.js";
export { UINT4_MAX, S2_RANGE, W8_RANGE } from "./ops/weight_common.js";
