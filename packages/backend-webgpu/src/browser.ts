/**
 * The browser entry of `@qoq/backend-webgpu` (`@qoq/backend-webgpu/browser`): the portable
 * backend on `navigator.gpu`, with the WGSL sources handed in (embedded by the bundler). Nothing
 * exported here loads Dawn or reads a file.
 * @module
 */
import { WebGpuUnavailableError } from "./errors.js";
import { createWebGpuBackendOn, type WebGpuBackend, type WebGpuCoreOptions } from "./portable.js";
import type { WgslSource } from "./wgsl.js";

export { GuardViolationError, WebGpuKernelError, WebGpuUnavailableError } from "./errors.js";
export { createWebGpuBackendOn, PROBE_FUNCTIONS, WebGpuBackend, type ProbeFunction, type WebGpuCoreOptions, type WebGpuInfo } from "./portable.js";
export { composeModule, wgslFromMap, type WgslSource } from "./wgsl.js";
export { kv4DecodePlan, planFor, KV4_SPLIT_MAX_D, SUBGROUP_OPS, type KernelPass, type KernelPlan } from "./plans.js";

/** One line telling how to get `navigator.gpu` and an adapter in Chromium on a machine without a GPU. */
export const BROWSER_NO_ADAPTER_HINT =
  "serve the page from https or 127.0.0.1 (a secure context) and start Chromium with --enable-unsafe-webgpu (plus --enable-unsafe-swiftshader without a GPU)";

/**
 * Start the WebGPU backend on the page's `navigator.gpu`. Throws a {@link WebGpuUnavailableError}
 * with one line saying why when the page has no `navigator.gpu` or no adapter.
 */
export async function createBrowserWebGpuBackend(wgsl: WgslSource | Readonly<Record<string, string>>, opts: WebGpuCoreOptions = {}): Promise<WebGpuBackend> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (gpu === undefined) throw new WebGpuUnavailableError(`no navigator.gpu: ${BROWSER_NO_ADAPTER_HINT}`);
  return createWebGpuBackendOn(gpu, wgsl, { noAdapterHint: BROWSER_NO_ADAPTER_HINT, ...opts });
}
