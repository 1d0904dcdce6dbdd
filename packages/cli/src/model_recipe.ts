/**
 * A model as data: what a worker thread needs to build the same model (weights, backend name,
 * KV mode), for the evaluations that spread their windows over threads.
 * @module
 */
import { ParamError, type Backend } from "@qoq/core";
import { createFp32Model, createQuantizedModel, type LanguageModel, type LlamaWeights, type PrefillKv, type QuantizedModel } from "@qoq/model";
import { createReferenceBackend } from "@qoq/reference";

/** The backends a worker thread can start: the host ones, bit-identical to each other (the conformance suite). */
export const WORKER_BACKENDS = ["reference", "cpu"] as const;

/** A backend a worker thread can start. */
export type WorkerBackend = (typeof WORKER_BACKENDS)[number];

/** True when a worker thread can start the backend named `name`. */
export function isWorkerBackend(name: string): name is WorkerBackend {
  return (WORKER_BACKENDS as readonly string[]).includes(name);
}

/**
 * A model a worker thread can rebuild from structured-clonable data: the FP32 forward pass of
 * some weights, or a quantized model (W4A8KV4 or W8A8) on a host backend.
 */
export type ModelRecipe =
  | { readonly kind: "fp32"; readonly weights: LlamaWeights }
  | { readonly kind: "quantized"; readonly model: QuantizedModel; readonly backend: WorkerBackend; readonly prefillKv?: PrefillKv };

/** Start a host backend by name. */
async function startBackend(name: WorkerBackend): Promise<Backend> {
  switch (name) {
    case "reference":
      return createReferenceBackend();
    case "cpu":
      return (await import("@qoq/backend-cpu")).createCpuBackend();
    default:
      throw new ParamError(`a worker thread cannot start backend '${String(name)}'; it can start ${WORKER_BACKENDS.join(", ")}`);
  }
}

/** The model a recipe describes, built in this thread. */
export async function recipeModel(recipe: ModelRecipe): Promise<LanguageModel> {
  if (recipe.kind === "fp32") return createFp32Model(recipe.weights);
  return createQuantizedModel(recipe.model, await startBackend(recipe.backend), recipe.prefillKv !== undefined ? { prefillKv: recipe.prefillKv } : {});
}
