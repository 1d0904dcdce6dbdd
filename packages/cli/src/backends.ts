/**
 * The backends the CLI can run, by name. A backend that cannot start says why in one line.
 * @module
 */
import { ParamError, type Backend } from "@qoq/core";
import { createOnnxFp16Backend } from "@qoq/onnx";
import { createReferenceBackend } from "@qoq/reference";

/** Factories of the backends this build knows, by name. */
export const BACKEND_FACTORIES: Readonly<Record<string, () => Promise<Backend>>> = {
  reference: () => Promise.resolve(createReferenceBackend()),
  cpu: async () => (await import("@qoq/backend-cpu")).createCpuBackend(),
  webgpu: async () => (await import("@qoq/backend-webgpu")).createWebGpuBackend(),
  "onnx-fp16": () => Promise.resolve(createOnnxFp16Backend()),
};

/** Start the named backend, or throw a {@link ParamError} listing the known ones. */
export async function openBackend(name: string): Promise<Backend> {
  const factory = Object.hasOwn(BACKEND_FACTORIES, name) ? BACKEND_FACTORIES[name] : undefined;
  if (factory === undefined) throw new ParamError(`unknown backend '${name}'; available: ${Object.keys(BACKEND_FACTORIES).join(", ")}`);
  return factory();
}
