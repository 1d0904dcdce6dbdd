/**
 * `@qoq/backend-webgpu`: the QoQ ops as WGSL kernels (`kernels/wgsl/`), run by Dawn in Node,
 * bit-exact with the reference (conversions, division and square root done in integer arithmetic).
 * @packageDocumentation
 */
export { createWebGpuBackend, WebGpuBackend, NO_ADAPTER_HINT, PROBE_FUNCTIONS, type ProbeFunction, type WebGpuBackendOptions, type WebGpuInfo } from "./backend.js";
export { GuardViolationError, WebGpuKernelError, WebGpuUnavailableError } from "./errors.js";
export { moduleSource, readWgsl, wgslDir } from "./kernels.js";
export { grid1d, planFor, rowWords, unsupportedReason, words, MAX_GROUPS, type KernelPlan } from "./plans.js";
export { groupSize, MAX_K_128x128, MAX_K_128x15, postCheck, validateInputs } from "./validate.js";
