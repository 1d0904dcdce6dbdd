/**
 * `@qoq/backend-webgpu`: the QoQ ops as WGSL kernels (`kernels/wgsl/`), bit-exact with the
 * reference (conversions, division and square root done in integer arithmetic). Run by Dawn in
 * Node ({@link createWebGpuBackend}) or on any `GPU` object ({@link createWebGpuBackendOn}); the
 * browser entry `@qoq/backend-webgpu/browser` exports the parts that do not need Node.
 * @packageDocumentation
 */
export { createWebGpuBackend, NO_ADAPTER_HINT, type WebGpuBackendOptions } from "./backend.js";
export { createWebGpuBackendOn, WebGpuBackend, PROBE_FUNCTIONS, type ProbeFunction, type WebGpuCoreOptions, type WebGpuInfo } from "./portable.js";
export { BROWSER_NO_ADAPTER_HINT, createBrowserWebGpuBackend } from "./browser.js";
export { GuardViolationError, WebGpuKernelError, WebGpuUnavailableError } from "./errors.js";
export { moduleSource, readWgsl, wgslDir, wgslFromDir } from "./kernels.js";
export { composeModule, wgslFromMap, type WgslSource } from "./wgsl.js";
export { arena, grid1d, kv4DecodePlan, planFor, rowWords, words, KV4_SPLIT_MAX_D, MAX_GROUPS, SUBGROUP_OPS, type KernelPass, type KernelPlan } from "./plans.js";
export { groupSize, MAX_K_128x128, MAX_K_128x15, postCheck, validateInputs } from "./validate.js";
