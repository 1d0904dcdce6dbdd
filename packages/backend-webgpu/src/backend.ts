/**
 * The WebGPU backend in Node: Dawn (the `webgpu` package) gives the `GPU` object, the WGSL
 * kernels are read from `kernels/wgsl/`; the backend itself is the portable one of `portable.ts`.
 * @module
 */
import { create } from "webgpu";
import { WebGpuUnavailableError } from "./errors.js";
import { wgslFromDir } from "./kernels.js";
import { createWebGpuBackendOn, type WebGpuBackend, type WebGpuCoreOptions } from "./portable.js";

/** One line telling how to get a WebGPU adapter on a CPU-only Debian machine. */
export const NO_ADAPTER_HINT = "install mesa-vulkan-drivers from bookworm-backports (scripts/install-system-deps.sh)";

/** Options of {@link createWebGpuBackend}. */
export interface WebGpuBackendOptions extends WebGpuCoreOptions {
  /** Extra Dawn flags passed to `create()` (e.g. `enable-dawn-features=...`). */
  readonly dawnFlags?: readonly string[];
  /** Directory of the WGSL sources (default: `kernels/wgsl` of this repository, or `QOQ_WGSL_DIR`). */
  readonly wgslDir?: string;
}

/**
 * Start the WebGPU backend in Node: create a Dawn instance, request an adapter and a device.
 * Throws a {@link WebGpuUnavailableError} with one line saying why when there is no adapter (e.g.
 * no Vulkan driver) or Dawn cannot load.
 */
export async function createWebGpuBackend(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  let gpu: GPU;
  try {
    gpu = create([...(opts.dawnFlags ?? [])]);
  } catch (e) {
    throw new WebGpuUnavailableError(`no WebGPU: Dawn (the 'webgpu' package) failed to load: ${String((e as Error).message).split("\n")[0]}`);
  }
  return createWebGpuBackendOn(gpu, wgslFromDir(opts.wgslDir), { noAdapterHint: NO_ADAPTER_HINT, ...opts });
}
