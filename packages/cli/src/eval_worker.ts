/**
 * Entry point of the evaluation's worker threads (`parallel_perplexity.ts`): set up by a
 * {@link PerplexitySetup}, it builds the model (and the reference) once, then scores each window
 * it is sent.
 * @module
 */
import { serveTasks, type TaskResult } from "@qoq/core/worker_pool";
import { scoreWindow, type LanguageModel } from "@qoq/model";
import { recipeModel } from "./model_recipe.js";
import type { PerplexitySetup } from "./parallel_perplexity.js";

serveTasks((setup: PerplexitySetup) => {
  const models: Promise<[LanguageModel, LanguageModel | undefined]> = Promise.all([recipeModel(setup.model), setup.reference !== undefined ? recipeModel(setup.reference) : undefined]);
  // A model that cannot be built is each task's error (not an unhandled rejection that kills the thread).
  models.catch(() => undefined);
  return async (task): Promise<TaskResult> => {
    const [model, reference] = await models;
    const scores = await scoreWindow(model, setup.windows[task]!, setup.temperature, reference);
    return { result: scores, transfer: [scores.buffer as ArrayBuffer] };
  };
});
