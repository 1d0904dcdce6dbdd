/**
 * Shared start-up of the WebGPU tests: one backend per test file. No adapter is a test failure
 * carrying the backend's one-line reason (CI installs the Vulkan driver).
 */
import { createWebGpuBackend, type WebGpuBackend, type WebGpuBackendOptions } from "../src/index.js";

/** Start a backend, or throw an Error whose message is the one-line reason it cannot start. */
export async function startBackend(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  try {
    return await createWebGpuBackend(opts);
  } catch (e) {
    throw new Error(`WebGPU backend cannot start: ${(e as Error).message}`);
  }
}

/** The seed of the conformance runs (`FC_SEED` honoured). */
export const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 20261127;
/** Random cases per op (`FC_RUNS` honoured, at least 5). */
export const RUNS = Math.max(5, process.env.FC_RUNS !== undefined ? Number(process.env.FC_RUNS) : 5);
