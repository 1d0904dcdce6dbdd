/**
 * The `cpu` backend: the runtime ops on typed arrays with exactly the reference's bits, every
 * other op delegated to the reference's own implementation. Inputs and parameters are bound and
 * checked against the op's signature exactly as `runReference` does (`bindInputs`,
 * `resolveParams`), and each fast op repeats the reference's op-specific validation in the
 * reference's order, so bad input gets the same typed error.
 * @module
 */
import { bindInputs, getSignature, resolveParams, type Backend, type Dims, type NamedTensors, type OpName, type ParamValues, type ResolvedParams, type Support } from "@qoq/core";
import { REFERENCE_IMPLS } from "@qoq/reference";
import { attentionKv4Decode, attentionPrefill, dequantKv4, quantKv4 } from "./attention.js";
import { quantActInt8, residualAdd, rmsnormQuant, rope, siluMulQuant } from "./activation.js";
import { gemmW4a8Chn, gemmW4a8G128, gemmW8a8, WeightCache } from "./gemm.js";

/** An op implementation: inputs checked against the signature, parameters resolved, shape symbols bound. */
export type CpuImpl = (inputs: NamedTensors, params: ResolvedParams, dims: Dims) => NamedTensors;

/** The ops this backend runs with its own code; the others run the reference's implementation. */
export const CPU_FAST_OPS: readonly OpName[] = [
  "quant_act_int8",
  "gemm_w4a8_g128",
  "gemm_w4a8_chn",
  "gemm_w8a8",
  "rmsnorm_quant",
  "silu_mul_quant",
  "rope",
  "residual_add",
  "quant_kv4",
  "dequant_kv4",
  "attention_prefill",
  "attention_kv4_decode",
];

/** The `cpu` backend, with its weight cache. */
export interface CpuBackend extends Backend {
  /** Always `cpu`. */
  readonly name: "cpu";
  /**
   * The cache of validated, expanded weights (keyed by the identity of their arrays). Weights
   * must not be mutated in place after use; {@link WeightCache.clear} forgets them all.
   */
  readonly weights: WeightCache;
}

/** Create a `cpu` backend. Supports every op (the offline transforms through the reference's code). */
export function createCpuBackend(): CpuBackend {
  const weights = new WeightCache();
  const fast: Partial<Record<OpName, CpuImpl>> = {
    quant_act_int8: quantActInt8,
    gemm_w4a8_g128: gemmW4a8G128(weights),
    gemm_w4a8_chn: gemmW4a8Chn(weights),
    gemm_w8a8: gemmW8a8(weights),
    rmsnorm_quant: rmsnormQuant,
    silu_mul_quant: siluMulQuant,
    rope,
    residual_add: residualAdd,
    quant_kv4: quantKv4,
    dequant_kv4: dequantKv4,
    attention_prefill: attentionPrefill,
    attention_kv4_decode: attentionKv4Decode,
  };
  const runSync = (op: string, inputs: NamedTensors, params: ParamValues = {}): NamedTensors => {
    const sig = getSignature(op);
    const dims = bindInputs(sig, inputs);
    const resolved = resolveParams(sig, params);
    return (fast[sig.name] ?? REFERENCE_IMPLS[sig.name])(inputs, resolved, dims);
  };
  return {
    name: "cpu",
    weights,
    supports: (): Support => "supported",
    run: (op, inputs, params) => {
      try {
        return Promise.resolve(runSync(op, inputs, params));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    },
    dispose: () => {
      weights.clear();
      return Promise.resolve();
    },
  };
}
