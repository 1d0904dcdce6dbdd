/**
 * `@qoq/backend-cpu`: the `cpu` backend — the runtime ops of the W4A8KV4 forward pass on typed
 * arrays, bit-identical to the reference (same roundings in the same order), several times faster.
 * @packageDocumentation
 */
export * from "./backend.js";
export { packWeight, swarGemm, WeightCache, type PackedWeight } from "./gemm.js";
export { butterfly, decodeF16, expFast, F16_TABLE, f16Of32, f32ToF16Bits, rneSmall } from "./numerics.js";
